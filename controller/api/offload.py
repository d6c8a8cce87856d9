"""Heavy work (a file import) off the event loop, a few at a time, so the API keeps answering.

A route declared `async def` runs on the event loop: synchronous work in it (parsing a file,
thousands of rows into the database) stops every other request, /healthz included, until it
ends. A plain `def` route runs in AnyIO's worker threads instead, but those are shared (40) by
every sync route and dependency, sign-in and /healthz among them, so a burst of imports could
still take them all. An import therefore reads its body on the loop (`Body`) and then runs in
a worker thread under its own limiter (`run`): one import at a time, the others wait their turn
(in the same order), so two imports never wait on each other's write lock in the database.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Annotated, Final, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request

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


async def _body(request: Request) -> bytes:
    """The request's body, read on the event loop (the size limit is the app's middleware's)."""
    return await request.body()


Body = Annotated[bytes, Depends(_body)]
"""The raw body of an upload."""
