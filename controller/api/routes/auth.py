"""Staff sign-in."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from controller.api.deps import SESSION_COOKIE, SessionDep, UserDep
from controller.trust import staff
from controller.trust.schemas import Credentials, Me, TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, responses={401: {"description": "refused"}})
def token(credentials: Credentials, session: SessionDep, response: Response) -> TokenOut:
    """Sign in: a bearer token valid for 8 hours, also set as the session cookie for pages."""
    signed_in = staff.sign_in(
        session,
        username=credentials.username,
        password=credentials.password,
        now=datetime.now(UTC),
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.access_token,
        max_age=int(staff.TOKEN_TTL.total_seconds()),
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )
    return signed_in


@router.get("/me", response_model=Me)
def me(user: UserDep) -> Me:
    """The signed-in member of staff."""
    return Me(username=user.username, role=user.role)
