"""Dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.ingest import Ingest
from controller.metrics import Metrics


@dataclass
class AppState:
    """What the lifespan creates once per process."""

    settings: ControllerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    ingest: Ingest | None


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
