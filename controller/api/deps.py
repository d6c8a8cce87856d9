"""Dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Cookie, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from controller.api.refusals import RoleRequiredError, SignInRequiredError
from controller.runtime import Runtime
from controller.trust.staff import Role, authenticate
from controller.trust.tables import User

AppState = Runtime
"""What the lifespan creates once per process: the parts `controller.runtime.build` made."""


def get_state(request: Request) -> AppState:
    """The process's AppState."""
    state: AppState = request.app.state.kitkeeper
    return state


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """A read session for one request."""
    with state.sessions() as session:
        yield session


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]


_BEARER = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


SESSION_COOKIE = "kitkeeper_session"
"""The same token as a cookie, for pages (HttpOnly, Secure, SameSite=Strict)."""


def session_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> str | None:
    """The token the request carries: the bearer token, else the session cookie."""
    return credentials.credentials if credentials is not None else cookie


def current_user(
    session: Annotated[Session, Depends(get_session)],
    token: Annotated[str | None, Depends(session_token)],
) -> User:
    """The signed-in member of staff (bearer token, or the session cookie); 401 otherwise."""
    user = authenticate(session, token=token, now=datetime.now(UTC)) if token else None
    if user is None:
        raise SignInRequiredError
    return user


def require(*roles: Role) -> Callable[[User], User]:
    """A dependency that admits only these roles (403 for the others)."""
    allowed = {r.value for r in roles}

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise RoleRequiredError(allowed, user.role)
        return user

    return check


UserDep = Annotated[User, Depends(current_user)]
TokenDep = Annotated[str | None, Depends(session_token)]
"""The token of the request (checked by `UserDep` beside it)."""


def client_address(request: Request) -> str:
    """The client's address, which sign-in throttling counts (uvicorn's, X-Forwarded-For only
    from the proxies it trusts: FORWARDED_ALLOW_IPS, 127.0.0.1 by default)."""
    return request.client.host if request.client is not None else "unknown"


AddressDep = Annotated[str, Depends(client_address)]
