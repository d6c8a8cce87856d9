"""Sign-in throttling: a sliding window of failures per account and per client address.

An account with `account_failures` failed sign-ins within `window` (from anywhere), or an address
with `address_failures` (for any user names), is refused with 429 and Retry-After until the
oldest of those failures leaves the window. Refused attempts are not checked and not counted, so
a lock ends at most `window` after the last failure an attacker could make: hammering a locked
account does not lengthen it. An address the user signed in from within `KNOWN_ADDRESS_DAYS` is
not held by the account's lock (only by its own), so an attacker elsewhere cannot keep a member
of staff out of their usual computer. The answer is the same for user names that do not exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.trust.staff_tables import SignInAttempt

KNOWN_ADDRESS_DAYS = 30
Scope = Literal["account", "address"]


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures a window allows, per account and per address."""

    window: timedelta = timedelta(minutes=15)
    account_failures: int = 5
    address_failures: int = 20


@dataclass(frozen=True)
class Lock:
    """A refusal: which limit, and how long until an attempt is checked again."""

    scope: Scope
    retry_after: timedelta

    @property
    def seconds(self) -> int:
        """Retry-After in whole seconds (at least 1)."""
        return max(1, math.ceil(self.retry_after.total_seconds()))


class ThrottledError(ControllerError):
    """Too many failed sign-ins: 429 with Retry-After (the same for every user name)."""

    status = 429
    domain = "staff"

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        super().__init__(key="signin.throttled", params={"seconds": lock.seconds})

    @property
    def headers(self) -> dict[str, str]:  # type: ignore[override]
        """Retry-After for this lock."""
        return {"Retry-After": str(self.lock.seconds)}


def retry_after(
    failures: Sequence[datetime], *, limit: int, window: timedelta, now: datetime
) -> timedelta | None:
    """How long until fewer than `limit` of `failures` (newest first) fall within the window."""
    recent = [at for at in failures if at > now - window]
    if len(recent) < limit:
        return None
    return recent[limit - 1] + window - now


def _newest_failures(
    session: Session, where: object, limit: int, since: datetime
) -> list[datetime]:
    query = (
        select(SignInAttempt.at)
        .where(where, SignInAttempt.ok.is_(False), SignInAttempt.at > since)  # type: ignore[arg-type]
        .order_by(SignInAttempt.at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _known_address(session: Session, username: str, address: str, now: datetime) -> bool:
    since = now - timedelta(days=KNOWN_ADDRESS_DAYS)
    return (
        session.scalar(
            select(SignInAttempt.id)
            .where(
                SignInAttempt.username == username,
                SignInAttempt.address == address,
                SignInAttempt.ok.is_(True),
                SignInAttempt.at > since,
            )
            .limit(1)
        )
        is not None
    )


def lock_for(
    session: Session, *, username: str, address: str, policy: ThrottlePolicy, now: datetime
) -> Lock | None:
    """The lock that refuses this attempt now, if any (the address's first, then the account's)."""
    since = now - policy.window
    limits: list[tuple[Scope, object, int]] = [
        ("address", SignInAttempt.address == address, policy.address_failures),
        ("account", SignInAttempt.username == username, policy.account_failures),
    ]
    for scope, where, limit in limits:
        failures = _newest_failures(session, where, limit, since)
        wait = retry_after(failures, limit=limit, window=policy.window, now=now)
        if wait is None or wait <= timedelta(0):
            continue
        if scope == "account" and _known_address(session, username, address, now):
            continue
        return Lock(scope, wait)
    return None


def record(
    session: Session,
    *,
    username: str,
    address: str,
    ok: bool,
    policy: ThrottlePolicy,
    now: datetime,
) -> None:
    """Count one checked attempt; forget failures older than the window, successes after 30 days."""
    session.add(SignInAttempt(username=username[:64], address=address[:64], at=now, ok=ok))
    session.execute(
        delete(SignInAttempt).where(
            SignInAttempt.ok.is_(False), SignInAttempt.at <= now - policy.window
        )
    )
    if ok:
        session.execute(
            delete(SignInAttempt).where(
                SignInAttempt.at <= now - timedelta(days=KNOWN_ADDRESS_DAYS)
            )
        )
