"""Staff sign-in: users with a role, argon2 password hashes, expiring bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.platform import audit
from controller.trust.schemas import TokenOut
from controller.trust.tables import ApiToken, User

_HASHER = PasswordHasher()
# Checked against when the user does not exist, so that both paths cost the same.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
TOKEN_TTL = timedelta(hours=8)
"""How long a bearer token from `sign_in` is valid."""


class Role(StrEnum):
    """What a member of staff may see and do."""

    ADMIN = "admin"
    TECHNICIAN = "technician"
    TEACHER = "teacher"


class AuthError(ControllerError):
    """Sign-in refused (or, as `InvalidUserError`, a user that cannot be created)."""

    status = 401


class InvalidUserError(AuthError):
    """A member of staff that cannot be created as asked (taken name, unknown role...)."""

    status = 422


def _hash_token(token: str) -> str:
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
    """Add a member of staff (audited); refuses a taken name, unknown role or short password."""
    if not USERNAME_RE.fullmatch(username):
        raise InvalidUserError(
            "a user name is 2-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in set(Role):
        raise InvalidUserError(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD:
        raise InvalidUserError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidUserError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=_HASHER.hash(password),
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


def login(
    session: Session, *, username: str, password: str, now: datetime, ttl: timedelta
) -> tuple[str, User, datetime]:
    """A new bearer token for valid credentials: (token, user, expiry)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or user.disabled:
        raise AuthError("wrong user name or password")
    token = secrets.token_urlsafe(32)
    expires = now + ttl
    session.add(
        ApiToken(user_id=user.id, token_hash=_hash_token(token), created_at=now, expires_at=expires)
    )
    return token, user, expires


def sign_in(session: Session, *, username: str, password: str, now: datetime) -> TokenOut:
    """A bearer token (valid `TOKEN_TTL`) for valid credentials; audited and committed."""
    token, user, expires = login(
        session, username=username, password=password, now=now, ttl=TOKEN_TTL
    )
    audit.record(
        session,
        actor=user.username,
        action="sign_in",
        entity="user",
        entity_id=user.username,
        now=now,
    )
    signed_in = TokenOut(access_token=token, expires_at=expires, role=user.role)
    session.commit()
    return signed_in


def active_technician(session: Session, username: str) -> str | None:
    """The user name of the enabled technician called `username` (spaces aside), if there is one."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.disabled or user.role != Role.TECHNICIAN:
        return None
    return user.username


def authenticate(session: Session, *, token: str, now: datetime) -> User | None:
    """The user a bearer token belongs to, if it is valid now."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else user
