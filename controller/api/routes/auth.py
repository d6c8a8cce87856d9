"""Staff sign-in, sign-out and password change; disabling and enabling staff (admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from controller.api.deps import (
    SESSION_COOKIE,
    AddressDep,
    SessionDep,
    StateDep,
    TokenDep,
    UserDep,
    require,
)
from controller.trust import staff
from controller.trust.schemas import Credentials, Me, TokenOut
from controller.trust.staff_schemas import PasswordChange, UserOut
from controller.trust.tables import User

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users = APIRouter(prefix="/api/v1/users", tags=["auth"])
AdminDep = Annotated[User, Depends(require(staff.Role.ADMIN))]

_COOKIE: dict[str, Any] = {"httponly": True, "secure": True, "samesite": "strict", "path": "/"}
_RETRY = {"headers": {"Retry-After": {"schema": {"type": "integer"}}}}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong user name or password (the same for every refusal)"},
    429: {"description": "too many failed sign-ins (account or address)", **_RETRY},
    503: {"description": "too many sign-ins waiting for a password check", **_RETRY},
}


@router.post("/token", response_model=TokenOut, responses=_REFUSALS)
async def token(
    credentials: Credentials, state: StateDep, address: AddressDep, response: Response
) -> TokenOut:
    """Sign in: a bearer token valid for 8 hours, also set as the session cookie for pages."""
    signed_in = await state.signin.sign_in(
        username=credentials.username, password=credentials.password, address=address
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.access_token,
        max_age=int(staff.TOKEN_TTL.total_seconds()),
        **_COOKIE,
    )
    return signed_in


@router.get("/me", response_model=Me)
def me(user: UserDep) -> Me:
    """The signed-in member of staff."""
    return Me(username=user.username, role=user.role)


@router.post("/logout", status_code=204, response_class=Response)
def logout(user: UserDep, token: TokenDep, session: SessionDep) -> Response:
    """Sign out: the token (bearer or cookie) is revoked and the session cookie cleared."""
    staff.sign_out(session, user=user, token=token or "", now=datetime.now(UTC))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, **_COOKIE)
    return response


@router.post(
    "/password",
    status_code=204,
    response_class=Response,
    responses={
        403: {"description": "the current password is wrong"},
        422: {"description": "the new password is too weak (reason and messages in kk/ru/en)"},
        **{k: v for k, v in _REFUSALS.items() if k != 401},
    },
)
async def change_password(
    change: PasswordChange, user: UserDep, token: TokenDep, state: StateDep, address: AddressDep
) -> Response:
    """Change one's own password (the current one is checked); one's other tokens are revoked."""
    await state.signin.change_password(
        user=user,
        token=token or "",
        current=change.current_password,
        new=change.new_password,
        address=address,
    )
    return Response(status_code=204)


def _set_disabled(username: str, disabled: bool, admin: User, session: SessionDep) -> UserOut:
    return staff.set_disabled(
        session, username=username, disabled=disabled, now=datetime.now(UTC), actor=admin.username
    )


@users.post("/{username}/disable", response_model=UserOut)
def disable(username: str, admin: AdminDep, session: SessionDep) -> UserOut:
    """Disable a member of staff: their tokens are revoked and they cannot sign in (admins)."""
    return _set_disabled(username, True, admin, session)


@users.post("/{username}/enable", response_model=UserOut)
def enable(username: str, admin: AdminDep, session: SessionDep) -> UserOut:
    """Let a disabled member of staff sign in again (admins)."""
    return _set_disabled(username, False, admin, session)
