"""The two origins' defences: Host and Origin checks, security headers, the form token.

The page's origin (`http://127.0.0.1:P`) answers only to `Host: 127.0.0.1:P` or `localhost:P`
(a DNS-rebinding site names another host), is never framed, and refuses a POST that does not
carry the per-process token or comes from another origin (a material's sandboxed script sends
`Origin: null`). The materials' origin (`P + 1`) sandboxes every document it serves
(`sandbox allow-scripts`, without `allow-same-origin`): a package runs in an opaque origin that
can reach nothing but its own files, and may be framed only by the page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_FORM_BYTES: Final = 16 * 1024
"""The largest form the page accepts (a help message is at most 1000 characters)."""
LOOPBACK: Final = ("127.0.0.1", "localhost")


def hosts(port: int) -> frozenset[str]:
    """The Host values an origin on `port` answers to."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK)


def origins(port: int) -> frozenset[str]:
    """The Origin values of the origin on `port`."""
    return frozenset(f"http://{host}" for host in hosts(port))


def page_policy(material_origin: str) -> str:
    """The page's content security policy: its own files, materials framed from their origin."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"frame-src {material_origin}",
            f"media-src {material_origin}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def material_policy(page_port: int) -> str:
    """The materials' policy: sandboxed scripts that reach only their own origin's files."""
    ancestors = " ".join(sorted(origins(page_port)))
    return "; ".join(
        (
            "sandbox allow-scripts",
            "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:",
            "form-action 'none'",
            "base-uri 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


@dataclass
class Guard:
    """ASGI middleware: refuse other Hosts, add the origin's headers to every answer."""

    app: ASGIApp
    allowed_hosts: frozenset[str]
    headers: Mapping[str, str]
    cors_origins: frozenset[str] = field(default_factory=frozenset)
    """Origins allowed to read (the page, for media and captions loaded with CORS)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 421 to an unknown Host, else pass on with the headers added."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        host = request_headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.allowed_hosts:
            await _plain(send, 421, b"unknown host\n")
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        origin = request_headers.get(b"origin", b"").decode("latin-1")
        if origin in self.cors_origins:
            extra += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FormTooLargeError(Exception):
    """A form over `MAX_FORM_BYTES`."""


class FormToken:
    """The per-process token every form of the page carries (a material cannot read it)."""

    def __init__(self, value: str | None = None) -> None:
        self.value = value or secrets.token_urlsafe(32)

    def accepts(self, given: str | None) -> bool:
        """Whether `given` is this process's token (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.value.encode())


def same_origin(origin: str | None, allowed: Iterable[str]) -> bool:
    """A POST from the page itself: its Origin is the page's (or absent: not a browser)."""
    return origin is None or origin in set(allowed)


async def read_form(receive_body: Any) -> dict[str, str]:
    """A url-encoded form from an async iterator of body chunks, at most `MAX_FORM_BYTES`."""
    data = b""
    async for chunk in receive_body:
        data += chunk
        if len(data) > MAX_FORM_BYTES:
            raise FormTooLargeError
    fields = parse_qs(data.decode("utf-8", errors="replace"), max_num_fields=20)
    return {key: values[0] for key, values in fields.items()}
