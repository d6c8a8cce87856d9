"""Staff passwords: the argon2 hasher, the minimum policy, and a gate that bounds hashing.

Each argon2 check takes 64 MiB and most of a CPU core for a good fraction of a second. The gate
runs them on a small pool of its own (`workers`, 2 by default), off the event loop and off the
pool that serves the other requests; at most `queue` more wait for it, and anything beyond is
refused at once with `BusyError` (503 with Retry-After), so a flood of sign-ins costs bounded
memory and leaves every other request its speed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from controller.errors import ControllerError
from controller.trust.staff_errors import PasswordPolicyError

T = TypeVar("T")

HASHER = PasswordHasher()
DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
"""Checked against when the user does not exist, so that both paths cost the same."""
MIN_PASSWORD = 12
MIN_DISTINCT = 5
BUSY_RETRY_SECONDS = 2


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash` (None: checked against a dummy, always False)."""
    try:
        return HASHER.verify(stored_hash or DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str, *, username: str, current: str | None = None) -> None:
    """Refuse a password under the minimum: 12 characters, 5 different, 12 besides the user name."""
    if len(password) < MIN_PASSWORD:
        raise PasswordPolicyError("password.too_short", min=MIN_PASSWORD)
    if len(set(password)) < MIN_DISTINCT:
        raise PasswordPolicyError("password.too_simple", distinct=MIN_DISTINCT)
    if username and len(password.lower().replace(username.lower(), "")) < MIN_PASSWORD:
        raise PasswordPolicyError("password.has_username", min=MIN_PASSWORD)
    if current is not None and password == current:
        raise PasswordPolicyError("password.unchanged")


class BusyError(ControllerError):
    """Too many password checks are waiting: try again in a moment."""

    status = 503
    headers = {"Retry-After": str(BUSY_RETRY_SECONDS)}  # noqa: RUF012 - read only

    def __init__(self) -> None:
        super().__init__("too many sign-ins at once: try again in a moment")


class HashGate:
    """Runs argon2 on `workers` threads of its own; at most `queue` more attempts are admitted."""

    def __init__(self, *, workers: int = 2, queue: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(workers)
        self._limit = workers + queue
        self._inside = 0  # touched only on the event loop

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Count one attempt in (for all its steps); `BusyError` at once when the queue is full."""
        if self._inside >= self._limit:
            raise BusyError
        self._inside += 1
        try:
            yield
        finally:
            self._inside -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `workers` slots, waiting for it (inside `admit`)."""
        async with self._slots:
            yield

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` on the gate's threads (call it while holding a `slot`)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """`verify` on the gate's threads."""
        return await self.run(verify, stored_hash, password)

    async def hash(self, password: str) -> str:
        """A new argon2 hash of `password`, made on the gate's threads."""
        return await self.run(HASHER.hash, password)

    def close(self) -> None:
        """Stop the threads (waits for a running check)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
