"""Signing in and changing one's password: throttled, audited, the hashing bounded and off the loop.

`SignIn` is built once per process (`controller.runtime`). Each attempt is admitted by the hash
gate (`controller.trust.passwords.HashGate`: 503 at once when its queue is full, before any other
work), checked against the throttle (`controller.trust.throttle`: 429 with Retry-After, the same
for every user name), waits for one of the gate's workers, is checked against the throttle again
(attempts that queued together count), costs one argon2 check whether or not the user exists, and
is recorded: a failure with the user name tried, the client's address and the reason, in the
audit log and in the throttle's count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.platform import audit
from controller.trust import staff, throttle
from controller.trust.passwords import HashGate, check_policy
from controller.trust.schemas import TokenOut
from controller.trust.staff_errors import AuthError, WrongPasswordError
from controller.trust.tables import User

WRONG = "signin.wrong"
"""The one refusal for a wrong user name or password (a key of the staff catalogue)."""


def _now() -> datetime:
    return datetime.now(UTC)


class SignIn:
    """Sign-in and password change for the API (one per process)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        policy: throttle.ThrottlePolicy,
        gate: HashGate,
        clock: Callable[[], datetime] = _now,
        ttl: timedelta = staff.TOKEN_TTL,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.gate = gate
        self.clock = clock
        self.ttl = ttl

    @classmethod
    def from_settings(cls, settings: ControllerSettings, sessions: sessionmaker[Session]) -> SignIn:
        """The process's sign-in, its limits from the settings."""
        policy = throttle.ThrottlePolicy(
            window=timedelta(seconds=settings.signin_window),
            account_failures=settings.signin_account_failures,
            address_failures=settings.signin_address_failures,
        )
        gate = HashGate(workers=settings.hash_workers, queue=settings.hash_queue)
        return cls(sessions, policy=policy, gate=gate)

    async def sign_in(self, *, username: str, password: str, address: str) -> TokenOut:
        """A bearer token for valid credentials; `AuthError`, `ThrottledError` or `BusyError`."""
        async with self.gate.admit():
            await to_thread.run_sync(self._refuse_if_locked, username, address)
            async with self.gate.slot():
                stored = await to_thread.run_sync(self._stored_hash, username, address)
                ok = await self.gate.verify(stored, password)
            return await to_thread.run_sync(self._finish, username, address, ok)

    async def change_password(
        self, *, user: User, token: str, current: str, new: str, address: str
    ) -> int:
        """Check `current`, store `new`, revoke the user's other tokens (how many)."""
        user_id, username, stored = user.id, user.username, user.password_hash
        check_policy(new, username=username, current=current)
        async with self.gate.admit():
            await to_thread.run_sync(self._refuse_if_locked, username, address)
            async with self.gate.slot():
                ok = await self.gate.verify(stored, current)
                new_hash = await self.gate.hash(new) if ok else ""
        if not ok:
            await to_thread.run_sync(self._refuse_change, username, address)
        return await to_thread.run_sync(self._store, user_id, username, new_hash, token, address)

    # --- in a worker thread ------------------------------------------------------------------

    def _refuse_if_locked(self, username: str, address: str) -> None:
        with self.sessions() as session:
            lock = throttle.lock_for(
                session, username=username, address=address, policy=self.policy, now=self.clock()
            )
        if lock is not None:
            raise throttle.ThrottledError(lock)

    def _stored_hash(self, username: str, address: str) -> str | None:
        """The password hash to check against (None: no such user); the lock checked again."""
        self._refuse_if_locked(username, address)
        with self.sessions() as session:
            return session.scalar(select(User.password_hash).where(User.username == username))

    def _finish(self, username: str, address: str, ok: bool) -> TokenOut:
        now = self.clock()
        with self.sessions() as session:
            user = session.scalar(select(User).where(User.username == username))
            if ok and user is not None and not user.disabled:
                throttle.record(
                    session,
                    username=username,
                    address=address,
                    ok=True,
                    policy=self.policy,
                    now=now,
                )
                token, expires = staff.issue_token(session, user, now=now, ttl=self.ttl)
                audit.record(
                    session,
                    actor=user.username,
                    action="sign_in",
                    entity="user",
                    entity_id=user.username,
                    now=now,
                    after={"address": address},
                )
                signed_in = TokenOut(access_token=token, expires_at=expires, role=user.role)
                session.commit()
                return signed_in
            reason = "unknown_user" if user is None else "disabled" if ok else "wrong_password"
            self._failure(
                session, username, address, action="sign_in_failed", reason=reason, now=now
            )
            session.commit()
        raise AuthError.translated(WRONG)

    def _failure(
        self,
        session: Session,
        username: str,
        address: str,
        *,
        action: str,
        reason: str,
        now: datetime,
    ) -> None:
        """Count and audit one failure (never the password); audit the lock it starts, if any."""
        throttle.record(
            session, username=username, address=address, ok=False, policy=self.policy, now=now
        )
        audit.record(
            session,
            actor="anonymous" if action == "sign_in_failed" else username,
            action=action,
            entity="user",
            entity_id=username[:64],
            now=now,
            after={"address": address, "reason": reason},
        )
        session.flush()
        lock = throttle.lock_for(
            session, username=username, address=address, policy=self.policy, now=now
        )
        if lock is not None:
            audit.record(
                session,
                actor="system",
                action="sign_in_locked",
                entity="user",
                entity_id=username[:64],
                now=now,
                after={
                    "address": address,
                    "scope": lock.scope,
                    "until": (now + lock.retry_after).isoformat(),
                },
            )

    def _refuse_change(self, username: str, address: str) -> None:
        with self.sessions() as session:
            self._failure(
                session,
                username,
                address,
                action="password_change_refused",
                reason="wrong_password",
                now=self.clock(),
            )
            session.commit()
        raise WrongPasswordError.translated("signin.wrong_current")

    def _store(self, user_id: int, username: str, new_hash: str, token: str, address: str) -> int:
        now = self.clock()
        with self.sessions() as session:
            revoked = staff.store_password(
                session,
                user_id=user_id,
                password_hash=new_hash,
                now=now,
                actor=username,
                keep_token=token,
            )
            throttle.record(
                session, username=username, address=address, ok=True, policy=self.policy, now=now
            )
            session.commit()
        return revoked

    def close(self) -> None:
        """Stop the hashing threads."""
        self.gate.close()
