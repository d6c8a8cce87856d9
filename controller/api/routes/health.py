"""Liveness and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

from controller.api.deps import StateDep
from controller.fleet import health
from controller.fleet.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(state: StateDep, response: Response) -> Health:
    """200 when the database answers, the broker is connected and the CRL valid for a week."""
    report = health.check(
        engine=state.engine,
        mqtt_connected=state.ingest is not None and state.ingest.connected.is_set(),
        pki_dir=state.settings.pki_dir,
        plain=state.settings.plain,
        now=datetime.now(UTC),
    )
    response.status_code = 200 if report.status == "ok" else 503
    return report


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: messages received, rejected by reason, stored; kits online."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


PROBE_CHUNK = bytes(64 * 1024)


@router.get(
    "/api/v1/probe",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "zeros"}},
)
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
