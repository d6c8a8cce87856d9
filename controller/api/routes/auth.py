"""Staff sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from controller.api.deps import SESSION_COOKIE, SessionDep, UserDep
from controller.platform import audit
from controller.trust.staff import AuthError, login

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
TOKEN_TTL = timedelta(hours=8)


class Credentials(BaseModel):
    """A user name and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    """A bearer token for the API."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_at: datetime
    role: str


class Me(BaseModel):
    """Who is signed in."""

    username: str
    role: str


@router.post("/token", response_model=TokenOut, responses={401: {"description": "refused"}})
def token(credentials: Credentials, session: SessionDep, response: Response) -> TokenOut:
    """Sign in: a bearer token valid for 8 hours, also set as the session cookie for pages."""
    now = datetime.now(UTC)
    with session.begin():
        try:
            value, user, expires = login(
                session,
                username=credentials.username,
                password=credentials.password,
                now=now,
                ttl=TOKEN_TTL,
            )
        except AuthError as exc:
            raise HTTPException(status_code=401, detail=str(exc)) from exc
        audit.record(
            session,
            actor=user.username,
            action="sign_in",
            entity="user",
            entity_id=user.username,
            now=now,
        )
        role = user.role
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(TOKEN_TTL.total_seconds()),
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )
    return TokenOut(access_token=value, expires_at=expires, role=role)


@router.get("/me", response_model=Me)
def me(user: UserDep) -> Me:
    """The signed-in member of staff."""
    return Me(username=user.username, role=user.role)
