"""The sign-in throttle's rules, the password policy and the hash gate, without processes."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from controller.trust import throttle
from controller.trust.passwords import BusyError, HashGate, check_policy
from controller.trust.staff_errors import PasswordPolicyError
from controller.trust.staff_tables import SignInAttempt
from tests.support import MigratedDb

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
S = timedelta(seconds=1)
WINDOW = 100 * S
POLICY = throttle.ThrottlePolicy(window=WINDOW, account_failures=3, address_failures=5)


@pytest.mark.parametrize(
    ("ago", "wait"),
    [
        ([], None),
        ([1, 2], None),  # under the limit
        ([1, 2, 3], 97 * S),  # the oldest of the last three leaves the window in 97 s
        ([1, 2, 3, 4, 5], 97 * S),  # more failures do not lengthen it beyond the limit's
        ([1, 2, 150], None),  # one is out of the window already
        ([1, 2, 100], None),  # exactly a window ago: out
        ([1, 2, 99], S),
    ],
)
def test_a_lock_lasts_until_the_limit_th_newest_failure_leaves_the_window(
    ago: list[int], wait: timedelta | None
) -> None:
    failures = [NOW - n * S for n in ago]
    assert throttle.retry_after(failures, limit=3, window=WINDOW, now=NOW) == wait


def _attempts(db: MigratedDb, *rows: tuple[str, str, int, bool]) -> None:
    with db.sessions.begin() as session:
        for username, address, ago, ok in rows:
            throttle.record(
                session,
                username=username,
                address=address,
                ok=ok,
                policy=POLICY,
                now=NOW - ago * S,
            )


def _lock(db: MigratedDb, username: str, address: str, now: datetime = NOW) -> throttle.Lock | None:
    with db.sessions() as session:
        return throttle.lock_for(
            session, username=username, address=address, policy=POLICY, now=now
        )


def test_an_account_lock_holds_everywhere_but_at_addresses_the_user_is_known_from(
    migrated_db: MigratedDb,
) -> None:
    _attempts(migrated_db, ("ana", "10.0.0.1", 3600, True))  # her desk, an hour ago
    _attempts(migrated_db, *[("ana", "203.0.113.9", n, False) for n in (30, 20, 10)])
    assert _lock(migrated_db, "ana", "203.0.113.9") == throttle.Lock("account", 70 * S)
    assert _lock(migrated_db, "ana", "198.51.100.1") == throttle.Lock("account", 70 * S)
    assert _lock(migrated_db, "ana", "10.0.0.1") is None
    assert _lock(migrated_db, "ana", "198.51.100.1", NOW + 70 * S) is None  # bounded
    assert _lock(migrated_db, "bob", "198.51.100.1") is None


def test_an_address_lock_holds_for_every_user_name_even_a_known_one(
    migrated_db: MigratedDb,
) -> None:
    _attempts(migrated_db, ("ana", "10.0.0.1", 3600, True))
    _attempts(migrated_db, *[(f"user{n}", "10.0.0.1", n, False) for n in range(1, 6)])
    lock = _lock(migrated_db, "ana", "10.0.0.1")
    assert lock is not None
    assert (lock.scope, lock.seconds) == ("address", 95)
    assert _lock(migrated_db, "ana", "10.0.0.2") is None


def test_old_failures_are_forgotten(migrated_db: MigratedDb) -> None:
    _attempts(migrated_db, *[("ana", "10.0.0.1", n, False) for n in (500, 400, 300)])
    _attempts(migrated_db, ("carl", "10.0.0.3", 0, False))
    with migrated_db.sessions() as session:
        left = session.scalars(select(SignInAttempt.username)).all()
    assert left == ["carl"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("pa55w0rd", "password.too_short"),
        ("aaaaaaaaaaaaaaaaaaaa", "password.too_simple"),
        ("abababcdcdcdcd", "password.too_simple"),  # four different characters
        ("ana.smith2030", "password.has_username"),  # the user name and four more
        ("ANA.SMITHxyz2030 spring", None),
        ("correct horse battery staple", None),
    ],
)
def test_the_password_policy(password: str, reason: str | None) -> None:
    if reason is None:
        check_policy(password, username="ana.smith")
        return
    with pytest.raises(PasswordPolicyError) as refused:
        check_policy(password, username="ana.smith")
    assert refused.value.key == reason
    body = refused.value.body()
    assert set(body["messages"]) == {"kk", "ru", "en"}
    assert password not in str(body)


def test_a_new_password_must_differ_from_the_current_one() -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        check_policy("the same pass phrase", username="ana", current="the same pass phrase")
    assert refused.value.key == "password.unchanged"
    assert "Жаңа құпиясөз" in refused.value.body()["messages"]["kk"]


def test_the_gate_runs_at_most_its_workers_at_once_and_refuses_beyond_its_queue() -> None:
    release = threading.Event()
    running: list[int] = []
    peak: list[int] = [0]

    def work() -> None:
        running.append(1)
        peak[0] = max(peak[0], len(running))
        release.wait(5)
        running.pop()

    async def attempt(gate: HashGate) -> str:
        try:
            async with gate.admit(), gate.slot():
                await gate.run(work)
        except BusyError:
            return "busy"
        return "done"

    async def main() -> list[str]:
        gate = HashGate(workers=2, queue=3)
        tasks = [asyncio.create_task(attempt(gate)) for _ in range(8)]
        await asyncio.sleep(0.2)
        release.set()
        try:
            return sorted(await asyncio.gather(*tasks))
        finally:
            gate.close()

    assert asyncio.run(main()) == ["busy"] * 3 + ["done"] * 5
    assert BusyError().headers == {"Retry-After": "2"}
    assert peak[0] == 2
