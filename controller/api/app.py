"""The FastAPI application; its lifespan builds, starts and stops the controller's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controller import __version__
from controller.api import errors, headers, limits, origin
from controller.api.routes import (
    alerts,
    assignments,
    audit,
    auth,
    content,
    contracts,
    docs,
    enroll,
    health,
    kit_content,
    kits,
    people,
    remediation,
    schedules,
    tickets,
)
from controller.config import ControllerSettings
from controller.runtime import build


def create_app(settings: ControllerSettings, *, with_ingest: bool = True) -> FastAPI:
    """Build the app; at start-up the database is migrated and, `with_ingest`, MQTT ingest and
    the remediator start (without it: the API alone, as the tests that need no broker use it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build(settings, with_mqtt=with_ingest)
        app.state.kitkeeper = runtime
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="kitkeeper controller",
        version=__version__,
        description="Keeps the equipment kits lent to home-schooled children working.",
        lifespan=lifespan,
        docs_url=None,  # the docs are served by routes/docs.py, to signed-in staff only
        redoc_url=None,
        openapi_url=None,
        default_response_class=errors.JSONResponse,  # lone surrogates escaped, never a 500
    )
    errors.install(app)
    app.add_middleware(limits.BodyLimit)
    app.add_middleware(origin.OriginCheck, allowed_origins=settings.allowed_origins)
    app.add_middleware(headers.SecurityHeaders)  # the outermost: on every answer, refusals too
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(kits.router)
    app.include_router(enroll.router)
    app.include_router(auth.router)
    app.include_router(auth.users)
    app.include_router(audit.router)
    app.include_router(people.router)
    app.include_router(contracts.router)
    app.include_router(alerts.router)
    app.include_router(tickets.router)
    app.include_router(remediation.router)
    app.include_router(schedules.router)
    app.include_router(content.router)
    app.include_router(assignments.router)
    app.include_router(kit_content.router)
    return app
