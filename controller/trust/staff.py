"""Staff accounts: users with a role, argon2 password hashes, expiring bearer tokens that can be
revoked (sign-out, a password change, a disabled user). Only SHA-256 of a token is stored.

Sign-in itself (throttled, its hashing bounded, off the event loop) is `controller.trust.signin`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controller.platform import audit
from controller.trust.passwords import HASHER, check_policy
from controller.trust.staff_errors import AuthError as AuthError  # what callers catch
from controller.trust.staff_errors import InvalidUserError, LastAdminError, UnknownUserError
from controller.trust.staff_schemas import UserOut
from controller.trust.tables import ApiToken, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN_TTL = timedelta(hours=8)
"""How long a bearer token from signing in is valid."""


class Role(StrEnum):
    """What a member of staff may see and do."""

    ADMIN = "admin"
    TECHNICIAN = "technician"
    TEACHER = "teacher"


def hash_token(token: str) -> str:
    """What is stored of a bearer token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    actor: str = "system",
) -> User:
    """Add a member of staff (audited); refuses a taken name, unknown role or weak password."""
    if not USERNAME_RE.fullmatch(username):
        raise InvalidUserError.translated("user.name_form")
    if role not in set(Role):
        raise InvalidUserError.translated(
            "user.unknown_role", role=role, roles=", ".join(r.value for r in Role)
        )
    check_policy(password, username=username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidUserError.translated("user.exists", username=username)
    user = User(
        username=username,
        password_hash=HASHER.hash(password),
        role=role,
        created_at=now,
        disabled=False,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user_created",
        entity="user",
        entity_id=username,
        now=now,
        after={"role": role},
    )
    return user


def issue_token(
    session: Session, user: User, *, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    """A new bearer token for `user` (its hash stored; their expired tokens dropped)."""
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at <= now))
    token = secrets.token_urlsafe(32)
    expires = now + ttl
    session.add(
        ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=expires)
    )
    return token, expires


def authenticate(session: Session, *, token: str, now: datetime) -> User | None:
    """The user a bearer token belongs to, if it is valid now (not expired, revoked or disabled)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else user


def revoke_tokens(session: Session, user_id: int, *, keep: str | None = None) -> int:
    """Revoke a user's tokens (all, or all but the token `keep`); how many there were."""
    query = delete(ApiToken).where(ApiToken.user_id == user_id)
    if keep is not None:
        query = query.where(ApiToken.token_hash != hash_token(keep))
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def sign_out(session: Session, *, user: User, token: str, now: datetime) -> None:
    """Revoke the token a member of staff signed in with (audited, committed)."""
    session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    audit.record(
        session,
        actor=user.username,
        action="sign_out",
        entity="user",
        entity_id=user.username,
        now=now,
    )
    session.commit()


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownUserError.translated("user.unknown", username=username)
    return user


def set_disabled(
    session: Session, *, username: str, disabled: bool, now: datetime, actor: str
) -> UserOut:
    """Disable (revoking every token; refused for the last enabled admin) or enable a user;
    audited and committed."""
    user = _user(session, username)
    revoked = 0
    if disabled and not user.disabled and user.role == Role.ADMIN:
        admins = session.scalar(
            select(func.count(User.id)).where(User.role == Role.ADMIN, User.disabled.is_(False))
        )
        if (admins or 0) <= 1:
            raise LastAdminError.translated("user.last_admin", username=username)
    if disabled:
        revoked = revoke_tokens(session, user.id)
    before = {"disabled": user.disabled}
    user.disabled = disabled
    audit.record(
        session,
        actor=actor,
        action="user_disabled" if disabled else "user_enabled",
        entity="user",
        entity_id=username,
        now=now,
        before=before,
        after={"disabled": disabled, "revoked_tokens": revoked},
    )
    changed = UserOut(username=user.username, role=user.role, disabled=user.disabled)
    session.commit()
    return changed


def store_password(
    session: Session,
    *,
    user_id: int,
    password_hash: str,
    now: datetime,
    actor: str,
    keep_token: str | None = None,
) -> int:
    """Replace a user's password hash and revoke their tokens but `keep_token` (audited)."""
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUserError.translated("user.gone")
    user.password_hash = password_hash
    revoked = revoke_tokens(session, user.id, keep=keep_token)
    audit.record(
        session,
        actor=actor,
        action="password_changed" if actor == user.username else "password_reset",
        entity="user",
        entity_id=user.username,
        now=now,
        after={"revoked_tokens": revoked},
    )
    return revoked


def reset_password(
    session: Session, *, username: str, password: str, now: datetime, actor: str
) -> int:
    """Set a user's password (an administrator's reset: every token of theirs revoked);
    audited and committed."""
    user = _user(session, username)
    check_policy(password, username=username)
    revoked = store_password(
        session, user_id=user.id, password_hash=HASHER.hash(password), now=now, actor=actor
    )
    session.commit()
    return revoked


def active_technician(session: Session, username: str) -> str | None:
    """The user name of the enabled technician called `username` (spaces aside), if there is one."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.disabled or user.role != Role.TECHNICIAN:
        return None
    return user.username


def staff_account(session: Session, username: str) -> User | None:
    """The staff account called `username`, enabled or not, if there is one (for other domains:
    a pupil's teacher must be a teacher account)."""
    return session.scalar(select(User).where(User.username == username))
