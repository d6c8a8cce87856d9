"""Heavy work (a file import) off the event loop, a few at a time, so the API keeps answering.

A route declared `async def` runs on the event loop: synchronous work in it (parsing a file,
thousands of rows into the database) stops every other request, /healthz included, until it
ends. A plain `def` route runs in AnyIO's worker threads instead, but those are shared (40) by
every sync route and dependency, sign-in and /healthz among them, so a burst of imports could
still take them all. An import therefore reads its body on the loop (`Body`) and then runs in
a worker thread under its own limiter (`run`): one import at a time, the others wait their turn
(in the same order), so two imports never wait on each other's write lock in the database.

An upload comes as the raw body (`curl --data-binary @file.csv -H 'Content-Type: text/csv'`) or
as a form (multipart/form-data, as a browser's file input sends it) whose part `file` is the
file: `Body` is the file's bytes either way, `Upload` adds the file's own content type. The
OpenAPI schema shows both (`upload_body`), since FastAPI cannot see a body read by hand.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any, Final, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request

from controller.errors import ControllerError

IMPORTS_AT_ONCE: Final = 1
"""Imports that run at the same time; the others wait (SQLite has one writer at a time)."""

P = ParamSpec("P")
R = TypeVar("R")


_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """The limiter of the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    if (limiter := _LIMITERS.get(loop)) is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(IMPORTS_AT_ONCE)
    return limiter


async def run(work: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """`work(*args, **kwargs)` in a worker thread, with at most IMPORTS_AT_ONCE at a time."""
    return await anyio.to_thread.run_sync(
        functools.partial(work, *args, **kwargs), limiter=_limiter()
    )


class UploadRefusedError(ControllerError):
    """A form upload without its `file` part."""

    status = 422
    domain = "imports"


@dataclass(frozen=True)
class Uploaded:
    """An uploaded file: its bytes and its content type (None when not given)."""

    data: bytes
    content_type: str | None


FILE_FIELD: Final = "file"
"""The form field a multipart upload carries its file in."""


def _form_file(content_type: str, body: bytes) -> Uploaded:
    """The `file` part of a multipart/form-data body (the stdlib's MIME parser reads it)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    for part in message.iter_parts() if message.is_multipart() else ():
        assert isinstance(part, Message)
        if part.get_param("name", header="content-disposition") == FILE_FIELD:
            data = part.get_payload(decode=True)
            kind = part.get_content_type() if part.get("content-type") else None
            return Uploaded(data if isinstance(data, bytes) else b"", kind)
    raise UploadRefusedError(key="upload.no_file")


async def _upload(request: Request) -> Uploaded:
    """The uploaded file, read on the event loop (the size limit is the app's middleware's)."""
    body = await request.body()
    content_type = request.headers.get("content-type")
    if content_type and content_type.lower().startswith("multipart/form-data"):
        return _form_file(content_type, body)
    return Uploaded(body, content_type)


async def _body(upload: Annotated[Uploaded, Depends(_upload)]) -> bytes:
    return upload.data


Upload = Annotated[Uploaded, Depends(_upload)]
"""An upload: the raw body, or a form's `file` part, with its content type."""
Body = Annotated[bytes, Depends(_body)]
"""The bytes of an upload (the raw body, or a form's `file` part)."""


def upload_body(*media_types: str, description: str) -> dict[str, Any]:
    """`openapi_extra` that shows an upload's request body: `media_types` as the raw body, or a
    multipart/form-data form with the file in its part `file`."""
    raw: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
    form = {
        "schema": {
            "type": "object",
            "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
            "required": [FILE_FIELD],
        }
    }
    content = dict.fromkeys(media_types, raw) | {"multipart/form-data": form}
    return {"requestBody": {"required": True, "description": description, "content": content}}
