"""Security headers on every response, and nothing personal left in a cache.

A pure ASGI middleware around the whole app, so that refusals made before a route (413, 415,
403) carry them too:

- `Strict-Transport-Security` over TLS: a browser never again talks plain HTTP to this host;
- `X-Content-Type-Options: nosniff`: a JSON or CSV answer is never run as a script or a page;
- a content security policy: the API's answers may load nothing and be framed by nothing; the
  API docs (`/docs`, served by the controller itself, see `routes/docs.py`) may load scripts,
  styles and images from the controller only, and fetch from it only;
- `X-Frame-Options: DENY` (and `frame-ancestors 'none'`): no page frames the controller;
- `Referrer-Policy: no-referrer`: no URL of the controller (a pupil's reference, a contract's
  number) leaks to another site;
- `Cache-Control: no-store` on every answer that does not say otherwise: personal data, sign-in
  answers, contracts and acts in PDF and the register are never kept by a browser or a proxy.
  A route that may be cached (the docs' static files) sets its own `Cache-Control`.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS: Final = "max-age=31536000"
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""Swagger UI sets inline styles on its elements; every script is a file of the controller's."""
DOCS_PREFIX: Final = "/docs"

COMMON: Final = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)


def policy_for(path: str) -> str:
    """The content security policy of the answer to `path`."""
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        return DOCS_CSP
    return API_CSP


class SecurityHeaders:
    """Adds the security headers and, unless the route set one, `Cache-Control: no-store`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its answer as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"
        csp = policy_for(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON:
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", csp)
                headers.setdefault("cache-control", "no-store")
                if tls:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
