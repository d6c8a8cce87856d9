"""Request body limits per route, enforced before a body is read (413).

A pure ASGI middleware: a `Content-Length` over the route's limit is refused before one byte of the
body is received; a body without one (chunked) is counted as it streams and refused as soon as it
passes the limit, so the controller never holds more than the limit of any request. JSON endpoints
get `DEFAULT_LIMIT`; the file uploads that exist get theirs from `ROUTE_LIMITS`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller.content import packages
from controller.schedules import files

DEFAULT_LIMIT: Final = 64 * 1024
"""Any JSON body (sign-in, enrolment with its CSR, records, commands)."""
MAX_CSV_IMPORT: Final = 16 * 1024 * 1024
"""A CSV import of kits, components, pupils or guardians (tens of thousands of rows)."""


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """The largest body a method on the paths matching `path` may send."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


ROUTE_LIMITS: Final = (
    RouteLimit("POST", re.compile(r"/api/v1/import/[^/]+"), MAX_CSV_IMPORT),
    RouteLimit("POST", re.compile(r"/api/v1/pupils/[^/]+/schedule/import"), files.MAX_UPLOAD),
    RouteLimit("PUT", re.compile(r"/api/v1/pupils/[^/]+/schedule"), files.MAX_UPLOAD),
    RouteLimit("POST", re.compile(r"/api/v1/content"), packages.MAX_REQUEST),
)


def limit_for(method: str, path: str) -> int:
    """The body limit, in bytes, of a request with `method` to `path`."""
    for route in ROUTE_LIMITS:
        if route.method == method and route.path.fullmatch(path):
            return route.max_bytes
    return DEFAULT_LIMIT


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"the request body is larger than {max_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses (413) a request whose body is over its route's limit, before reading it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it as soon as its body is known to be too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = limit_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(send, max_bytes)
            return
        await _Counted(self.app, max_bytes)(scope, receive, send)


class _Counted:
    """One request whose body is counted as it streams; over the limit, the app sees a
    disconnect and whatever it answers is dropped in favour of the 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.max_bytes:
                    self.refused = True
                    if not self.started:
                        self.started = True
                        await _refuse(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.refused:
                raise
