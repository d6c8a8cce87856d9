"""Cross-site writes refused: the Origin of cookie-authenticated writes, and JSON bodies as JSON.

A pure ASGI middleware, in front of every route. A browser sends the session cookie with any
request to the controller, whichever page made it, as far as SameSite lets it (a sibling
subdomain is "same site"). So every unsafe request (POST, PUT, PATCH, DELETE) that carries the
session cookie and no bearer token must come from one of the controller's own origins: its
`Origin` header (or, without one, the scheme and host of its `Referer`) must be the controller's
own origin as the request reached it (the request's scheme and `Host`) or one configured in
`allowed_origins`; a request with neither header is refused (403). Bearer-token requests cannot
be forged by a page (a page cannot set `Authorization` across origins) and are not checked.

A page can still send a "simple" request (text/plain, a form) without asking first, so a body
sent to a JSON route must say it is JSON (`application/json` or `application/*+json`); any
other content type, or none, is refused (415) before the body is read: a text/plain body is
never parsed as JSON. The file uploads (`limits.ROUTE_LIMITS`: CSV imports, schedules) take
their bytes as they come and are guarded by the Origin check alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.api.deps import SESSION_COOKIE
from controller.api.limits import ROUTE_LIMITS

UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
FOREIGN_ORIGIN: Final = "this write comes from a page of another origin; it was refused"
NO_ORIGIN: Final = "a write with the session cookie must carry an Origin or Referer header"
NOT_JSON: Final = "this endpoint takes a JSON body (Content-Type: application/json)"


def normalise(origin: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port (None: not an origin)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return (
        f"{scheme}://{host}"
        if port in {None, DEFAULT_PORTS[scheme]}
        else f"{scheme}://{host}:{port}"
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def own_origin(scope: Scope) -> str | None:
    """The controller's origin as this request reached it: its scheme and its Host header."""
    host = _header(scope, b"host")
    return normalise(f"{scope.get('scheme', 'http')}://{host}") if host else None


def claimed_origin(scope: Scope) -> str | None:
    """Where the browser says the request comes from: Origin, else the Referer's origin."""
    origin = _header(scope, b"origin")
    if origin is not None:
        return normalise(origin) or "null"  # "null" (a sandboxed page, a file) is no origin of ours
    referer = _header(scope, b"referer")
    return (normalise(referer) or "null") if referer else None


def cookie_authenticated(scope: Scope) -> bool:
    """Whether the request signs in with the session cookie (and not with a bearer token)."""
    authorization = _header(scope, b"authorization")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return False
    cookies = _header(scope, b"cookie")
    return cookies is not None and SESSION_COOKIE in cookie_parser(cookies)


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in {"", "0"}
    return _header(scope, b"transfer-encoding") is not None


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (`application/json`, `application/problem+json`...)."""
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _takes_raw_bytes(method: str, path: str) -> bool:
    return any(r.method == method and r.path.fullmatch(path) for r in ROUTE_LIMITS)


def refusal(scope: Scope, allowed: frozenset[str]) -> tuple[int, str] | None:
    """Why this request is refused, as (status, reason); None when it may go on."""
    method, path = scope["method"], scope["path"]
    if method not in UNSAFE_METHODS:
        return None
    if cookie_authenticated(scope):
        claimed = claimed_origin(scope)
        if claimed is None:
            return 403, NO_ORIGIN
        if claimed != own_origin(scope) and claimed not in allowed:
            return 403, FOREIGN_ORIGIN
    if (
        _has_body(scope)
        and not _takes_raw_bytes(method, path)
        and not is_json(_header(scope, b"content-type"))
    ):
        return 415, NOT_JSON
    return None


class OriginCheck:
    """Refuses cross-origin writes with the session cookie (403) and non-JSON bodies (415)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(o for o in map(normalise, allowed_origins) if o is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer the refusal without reading its body."""
        if scope["type"] == "http" and (refused := refusal(scope, self.allowed)) is not None:
            status, reason = refused
            await JSONResponse({"detail": reason}, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)
