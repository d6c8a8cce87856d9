"""The fleet: kits, their latest state and their stored telemetry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.fleet import queries
from controller.fleet.schemas import EventPage, KitDetail, KitList, TelemetryPage
from controller.trust.staff import Role
from protocol.limits import KIT_ID_PATTERN

# Teachers will see the kits of their own pupils once pupils exist (the loans issue).
router = APIRouter(
    prefix="/api/v1/kits",
    tags=["kits"],
    dependencies=[Depends(require(Role.ADMIN, Role.TECHNICIAN))],
)

KitIdPath = Annotated[str, Path(pattern=KIT_ID_PATTERN, description="the kit's id")]


@router.get("", response_model=KitList)
def list_kits(session: SessionDep) -> KitList:
    """Every kit with its online state, last-seen time and key figures."""
    return queries.kit_list(session)


@router.get("/{kit_id}", response_model=KitDetail)
def get_kit(kit_id: KitIdPath, session: SessionDep, state: StateDep) -> KitDetail:
    """One kit: latest snapshot, recent history of key figures, recent events."""
    return queries.kit_detail(session, kit_id=kit_id, history_limit=state.settings.history_limit)


@router.get("/{kit_id}/telemetry", response_model=TelemetryPage)
def get_telemetry(
    kit_id: KitIdPath,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, description="return snapshots with seq > this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
) -> TelemetryPage:
    """Stored telemetry in seq order, each with its seq and msg_id: how anyone audits delivery."""
    return queries.kit_telemetry(session, kit_id=kit_id, after_seq=after_seq, limit=limit)


@router.get("/{kit_id}/events", response_model=EventPage)
def get_events(
    kit_id: KitIdPath,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, description="return events with seq > this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
) -> EventPage:
    """Stored events from the kit in seq order (with telemetry, the kit's whole sequence)."""
    return queries.kit_events(session, kit_id=kit_id, after_seq=after_seq, limit=limit)
