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
from controller.trust.tables import ApiToken, User

_HASHER = PasswordHasher()
# Checked against when the user does not exist, so that both paths cost the same.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12


class Role(StrEnum):
    """What a member of staff may see and do."""

    ADMIN = "admin"
    TECHNICIAN = "technician"
    TEACHER = "teacher"


class AuthError(ControllerError):
    """Sign-in refused, or a user that cannot be created; the message says why."""


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, *, username: str, password: str, role: str, now: datetime
) -> User:
    """Add a member of staff; refuses a taken name, an unknown role or a short password."""
    if not USERNAME_RE.fullmatch(username):
        raise AuthError(
            "a user name is 2-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in set(Role):
        raise AuthError(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AuthError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        created_at=now,
        disabled=False,
    )
    session.add(user)
    session.flush()
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


def authenticate(session: Session, *, token: str, now: datetime) -> User | None:
    """The user a bearer token belongs to, if it is valid now."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else user
