"""Liveness and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controller import __version__
from controller.api.deps import AppState, StateDep
from controller.api.schemas import Health
from controller.trust import crl, pki

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(state: StateDep) -> JSONResponse:
    """200 when the database answers, the broker is connected and the CRL valid for a week."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as exc:
        database = f"unreachable: {type(exc).__name__}"
    mqtt = "connected" if state.ingest and state.ingest.connected.is_set() else "disconnected"
    crl = _crl(state)
    ok = database == "ok" and mqtt == "connected" and crl in ("ok", "not used")
    body = Health(
        status="ok" if ok else "degraded",
        database=database,
        mqtt=mqtt,
        version=__version__,
        crl=crl,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _crl(state: AppState) -> str:
    """The revocation list's check, when the controller runs with TLS."""
    paths = pki.PkiPaths(state.settings.pki_dir)
    if state.settings.plain or not paths.exists():
        return "not used"
    return crl.crl_check(paths, datetime.now(UTC))


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: messages received, rejected by reason, stored; kits online."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


PROBE_CHUNK = bytes(64 * 1024)


@router.get("/api/v1/probe", response_class=StreamingResponse)
def probe(
    size: Annotated[int, Query(ge=1, le=10_000_000, description="bytes to send")] = 2_000_000,
) -> StreamingResponse:
    """Bytes for a kit's throughput probe (up to 10 MB, zeros, never cached)."""

    def chunks() -> Iterator[bytes]:
        left = size
        while left > 0:
            yield PROBE_CHUNK[: min(left, len(PROBE_CHUNK))]
            left -= len(PROBE_CHUNK)

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Cache-Control": "no-store", "Content-Length": str(size)},
    )
