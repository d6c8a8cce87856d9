"""The FastAPI application; its lifespan owns the database engine and the MQTT ingest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controller import __version__
from controller.api import errors
from controller.api.deps import AppState
from controller.api.routes import (
    alerts,
    audit,
    auth,
    contracts,
    enroll,
    health,
    kits,
    people,
    remediation,
    schedules,
    tickets,
)
from controller.config import ControllerSettings
from controller.fleet.ingest import Ingest
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import upgrade
from controller.platform.metrics import Metrics


def create_app(settings: ControllerSettings, *, with_ingest: bool = True) -> FastAPI:
    """Build the app; the database is migrated and ingest started when it starts up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.db)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        metrics = Metrics()
        ingest = (
            Ingest(settings=settings, sessions=sessions, metrics=metrics) if with_ingest else None
        )
        app.state.kitkeeper = AppState(settings, engine, sessions, metrics, ingest)
        if ingest is not None:
            ingest.start()
        try:
            yield
        finally:
            if ingest is not None:
                ingest.stop()
            engine.dispose()

    app = FastAPI(
        title="kitkeeper controller",
        version=__version__,
        description="Keeps the equipment kits lent to home-schooled children working.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(kits.router)
    app.include_router(enroll.router)
    app.include_router(auth.router)
    app.include_router(audit.router)
    app.include_router(people.router)
    app.include_router(contracts.router)
    app.include_router(alerts.router)
    app.include_router(tickets.router)
    app.include_router(remediation.router)
    app.include_router(schedules.router)
    return app
