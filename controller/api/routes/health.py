"""Liveness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controller import __version__
from controller.api.deps import StateDep
from controller.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(state: StateDep) -> JSONResponse:
    """200 when the database answers and the broker is connected, 503 otherwise."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as exc:
        database = f"unreachable: {type(exc).__name__}"
    mqtt = "connected" if state.ingest and state.ingest.connected.is_set() else "disconnected"
    ok = database == "ok" and mqtt == "connected"
    body = Health(
        status="ok" if ok else "degraded", database=database, mqtt=mqtt, version=__version__
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: messages received, rejected by reason, stored; kits online."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
