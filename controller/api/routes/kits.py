"""The fleet: kits, their latest state and their stored telemetry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.api.schemas import (
    EventOut,
    EventPage,
    HistoryPoint,
    KitDetail,
    KitList,
    KitSummary,
    TelemetryItem,
    TelemetryPage,
)
from controller.fleet import store
from controller.fleet.tables import Kit
from controller.trust.staff import Role
from protocol.limits import KIT_ID_PATTERN
from protocol.models import Telemetry

# Teachers will see the kits of their own pupils once pupils exist (the loans issue).
router = APIRouter(
    prefix="/api/v1/kits",
    tags=["kits"],
    dependencies=[Depends(require(Role.ADMIN, Role.TECHNICIAN))],
)

KitIdPath = Annotated[str, Path(pattern=KIT_ID_PATTERN, description="the kit's id")]


def _kit_or_404(session: SessionDep, kit_id: str) -> Kit:
    kit = store.get_kit(session, kit_id=kit_id)
    if kit is None:
        raise HTTPException(status_code=404, detail=f"no kit {kit_id!r} has reported yet")
    return kit


@router.get("", response_model=KitList)
def list_kits(session: SessionDep) -> KitList:
    """Every kit with its online state, last-seen time and key figures."""
    loaned = store.kits_on_loan(session)
    items = [_summary(kit, loaned) for kit in store.list_kits(session)]
    return KitList(count=len(items), online=sum(k.online for k in items), items=items)


def _summary(kit: Kit, loaned: set[str]) -> KitSummary:
    summary = KitSummary.model_validate(kit)
    summary.status = store.inventory_status(kit.lifecycle, kit.kit_id in loaned)
    return summary


@router.get("/{kit_id}", response_model=KitDetail)
def get_kit(kit_id: KitIdPath, session: SessionDep, state: StateDep) -> KitDetail:
    """One kit: latest snapshot, recent history of key figures, recent events."""
    kit = _kit_or_404(session, kit_id)
    history = [
        HistoryPoint(
            seq=row.seq,
            ts=row.ts,
            **store.key_figures(Telemetry.model_validate(row.body)),
        )
        for row in store.recent_telemetry(
            session, kit_id=kit_id, limit=state.settings.history_limit
        )
    ]
    events = [
        EventOut.model_validate(e)
        for e in store.recent_events(session, kit_id=kit_id, limit=state.settings.history_limit)
    ]
    return KitDetail(
        **_summary(kit, store.kits_on_loan(session)).model_dump(),
        latest=kit.latest,
        history=history,
        events=events,
    )


@router.get("/{kit_id}/telemetry", response_model=TelemetryPage)
def get_telemetry(
    kit_id: KitIdPath,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, description="return snapshots with seq > this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
) -> TelemetryPage:
    """Stored telemetry in seq order, each with its seq and msg_id: how anyone audits delivery."""
    _kit_or_404(session, kit_id)
    rows = store.telemetry_page(session, kit_id=kit_id, after_seq=after_seq, limit=limit)
    return TelemetryPage(
        kit_id=kit_id,
        items=[TelemetryItem.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )


@router.get("/{kit_id}/events", response_model=EventPage)
def get_events(
    kit_id: KitIdPath,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, description="return events with seq > this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
) -> EventPage:
    """Stored events from the kit in seq order (with telemetry, the kit's whole sequence)."""
    _kit_or_404(session, kit_id)
    rows = store.event_page(session, kit_id=kit_id, after_seq=after_seq, limit=limit)
    return EventPage(
        kit_id=kit_id,
        items=[EventOut.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )
