"""Liveness, metrics (for a scraper's token or signed-in staff) and kits' throughput probe."""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

from controller.api import peer
from controller.api.deps import SessionDep, StateDep, TokenDep, current_user
from controller.fleet import health
from controller.fleet.schemas import Health
from controller.trust import peers
from controller.trust.refusals import RouteRefusedError
from controller.trust.staff import Role

router = APIRouter(tags=["health"])

METRICS_READERS: Final = frozenset({Role.ADMIN.value, Role.TECHNICIAN.value})
PROBES_PER_WINDOW: Final = 5
"""Throughput probes one kit may ask for within `PROBE_WINDOW_S` (its default series is every
5 minutes; a doctor run or a pre-lesson check adds one)."""
PROBE_WINDOW_S: Final = 300.0


class ProbeQuota:
    """At most `most` probes per kit in any `window` seconds (in memory: one entry per kit)."""

    def __init__(self, most: int, window: float) -> None:
        self.most = most
        self.window = window
        self._recent: dict[str, deque[float]] = {}

    def allow(self, kit_id: str, now: float) -> bool:
        """Count one probe of `kit_id` at monotonic `now`; False (not counted) over the quota."""
        recent = self._recent.setdefault(kit_id, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if len(recent) >= self.most:
            return False
        recent.append(now)
        return True

    def retry_after(self, kit_id: str, now: float) -> int:
        """Seconds until `kit_id` may probe again."""
        recent = self._recent.get(kit_id)
        return max(1, int(self.window - (now - recent[0])) + 1) if recent else 1


_probes = ProbeQuota(PROBES_PER_WINDOW, PROBE_WINDOW_S)


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


def metrics_reader(state: StateDep, session: SessionDep, token: TokenDep) -> None:
    """The scraper's token (`metrics_token`), or a signed-in admin or technician; 401/403."""
    scraper = state.settings.metrics_token
    if (
        scraper is not None
        and token is not None
        and hmac.compare_digest(token.encode(), scraper.get_secret_value().encode())
    ):
        return
    user = current_user(session, token)
    if user.role not in METRICS_READERS:
        raise RouteRefusedError(403, "route.metrics_role")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
    dependencies=[Depends(metrics_reader)],
)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics (the metrics token or staff): messages received, rejected by reason,
    stored; kits online."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def probing_kit(request: Request, session: SessionDep) -> str:
    """The enrolled kit asking (by its client certificate), within its probe quota; 403/429."""
    cert = peer.client_certificate(request.scope)
    kit_id = peers.admitted_kit(session, cert) if cert is not None else None
    if kit_id is None:
        raise RouteRefusedError(403, "route.probe_kits_only")
    now = time.monotonic()
    if not _probes.allow(kit_id, now):
        raise RouteRefusedError(
            429,
            "route.probe_quota",
            headers={"Retry-After": str(_probes.retry_after(kit_id, now))},
            count=PROBES_PER_WINDOW,
            seconds=f"{PROBE_WINDOW_S:g}",
        )
    return kit_id


PROBE_CHUNK = bytes(64 * 1024)


@router.get(
    "/api/v1/probe",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "zeros"},
        403: {"description": "not an enrolled kit"},
        429: {"description": "too many probes from this kit"},
    },
    dependencies=[Depends(probing_kit)],
)
def probe(
    size: Annotated[int, Query(ge=1, le=10_000_000, description="bytes to send")] = 2_000_000,
) -> StreamingResponse:
    """Bytes for a kit's throughput probe (enrolled kits only, by their client certificate;
    up to 10 MB of zeros, never cached)."""

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
