"""Reading the fleet back: kits with their inventory status, history and events, page by page.

Keyword-only functions over a read Session. The `kit_*` functions answer the API in its shapes
(`controller.fleet.schemas`) and raise `KitNotFoundError` for a kit never heard of; the others are
the plain queries beneath them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.errors import NotFoundError
from controller.fleet.figures import key_figures
from controller.fleet.schemas import (
    EventOut,
    EventPage,
    HistoryPoint,
    KitDetail,
    KitList,
    KitSummary,
    TelemetryItem,
    TelemetryPage,
)
from controller.fleet.tables import Event, Kit, Telemetry
from controller.loans import queries as loans
from protocol.inventory import Peripherals
from protocol.models import Telemetry as TelemetryBody

_History = TypeVar("_History", Telemetry, Event)


class KitNotFoundError(NotFoundError):
    """No kit with this id has reported (or been enrolled) yet."""

    domain = "fleet"

    def __init__(self, kit_id: str) -> None:
        super().__init__(key="kit.not_found", params={"kit": kit_id})


def count_kits(session: Session) -> tuple[int, int]:
    """(kits known, kits online)."""
    known, online = session.execute(
        select(func.count(), func.count().filter(Kit.online.is_(True))).select_from(Kit)
    ).one()
    return int(known), int(online)


def list_kits(session: Session) -> list[Kit]:
    """Every kit, by id."""
    return list(session.scalars(select(Kit).order_by(Kit.kit_id)))


def get_kit(session: Session, *, kit_id: str) -> Kit | None:
    """One kit, or None."""
    return session.get(Kit, kit_id)


def active_kit_ids(session: Session, *, kit_ids: Collection[str] | None = None) -> list[str]:
    """The kits in service (lifecycle active): all of them, or those of `kit_ids`."""
    query = select(Kit.kit_id).where(Kit.lifecycle == "active")
    if kit_ids is not None:
        query = query.where(Kit.kit_id.in_(sorted(kit_ids)))
    return list(session.scalars(query))


def kit_ids_in(session: Session, *, lifecycles: Collection[str]) -> list[str]:
    """The kits in one of these lifecycles, by id."""
    return list(
        session.scalars(
            select(Kit.kit_id).where(Kit.lifecycle.in_(lifecycles)).order_by(Kit.kit_id)
        )
    )


def reported_peripherals(session: Session, *, kit_id: str) -> Peripherals | None:
    """The peripherals in the kit's latest snapshot (None: no kit, none reported, or unreadable)."""
    kit = session.get(Kit, kit_id)
    if kit is None or not kit.latest or not isinstance(kit.latest.get("peripherals"), dict):
        return None
    try:
        return Peripherals.model_validate(kit.latest["peripherals"])
    except ValidationError:
        return None


def reporting_kits(session: Session, *, kit_ids: Collection[str | None]) -> list[str]:
    """Those of these kits in service (lifecycle active) that have reported at least once."""
    return [
        kit.kit_id
        for kit in session.scalars(select(Kit).where(Kit.kit_id.in_(kit_ids)))
        if kit.last_seen_at is not None and kit.lifecycle == "active"
    ]


def _page(
    session: Session, model: type[_History], *, kit_id: str, after_seq: int, limit: int
) -> list[_History]:
    return list(
        session.scalars(
            select(model)
            .where(model.kit_id == kit_id, model.seq > after_seq)
            .order_by(model.seq, model.id)
            .limit(limit)
        )
    )


def telemetry_page(session: Session, *, kit_id: str, after_seq: int, limit: int) -> list[Telemetry]:
    """Stored snapshots of one kit with seq > after_seq, in seq order."""
    return _page(session, Telemetry, kit_id=kit_id, after_seq=after_seq, limit=limit)


def recent_telemetry(session: Session, *, kit_id: str, limit: int) -> list[Telemetry]:
    """The latest `limit` snapshots of one kit, oldest first."""
    rows = session.scalars(
        select(Telemetry)
        .where(Telemetry.kit_id == kit_id)
        .order_by(Telemetry.seq.desc(), Telemetry.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def recent_events(session: Session, *, kit_id: str, limit: int) -> list[Event]:
    """The latest `limit` events of one kit, newest first."""
    return list(
        session.scalars(
            select(Event).where(Event.kit_id == kit_id).order_by(Event.id.desc()).limit(limit)
        )
    )


def event_page(session: Session, *, kit_id: str, after_seq: int, limit: int) -> list[Event]:
    """Stored events of one kit with seq > after_seq, in seq order (the kit's own events)."""
    return _page(session, Event, kit_id=kit_id, after_seq=after_seq, limit=limit)


def inventory_status(lifecycle: str, on_loan: bool) -> str:
    """in_stock, loaned, in_repair, retired or lost: the kit's lifecycle read with its contracts."""
    if lifecycle in ("lost", "retired", "in_repair"):
        return lifecycle
    return "loaned" if on_loan and lifecycle == "active" else "in_stock"


def _summary(kit: Kit, loaned: set[str]) -> KitSummary:
    summary = KitSummary.model_validate(kit)
    summary.status = inventory_status(kit.lifecycle, kit.kit_id in loaned)
    return summary


def _known_kit(session: Session, kit_id: str) -> Kit:
    kit = get_kit(session, kit_id=kit_id)
    if kit is None:
        raise KitNotFoundError(kit_id)
    return kit


def kit_list(session: Session) -> KitList:
    """Every kit with its online state, inventory status, last-seen time and key figures."""
    loaned = loans.kits_lent(session)
    items = [_summary(kit, loaned) for kit in list_kits(session)]
    return KitList(count=len(items), online=sum(k.online for k in items), items=items)


def kit_detail(session: Session, *, kit_id: str, history_limit: int) -> KitDetail:
    """One kit: its latest snapshot, the key figures of its recent ones, its recent events."""
    kit = _known_kit(session, kit_id)
    history = [
        HistoryPoint(seq=row.seq, ts=row.ts, **key_figures(TelemetryBody.model_validate(row.body)))
        for row in recent_telemetry(session, kit_id=kit_id, limit=history_limit)
    ]
    events = [
        EventOut.model_validate(e)
        for e in recent_events(session, kit_id=kit_id, limit=history_limit)
    ]
    return KitDetail(
        **_summary(kit, loans.kits_lent(session)).model_dump(),
        latest=kit.latest,
        history=history,
        events=events,
    )


def kit_telemetry(session: Session, *, kit_id: str, after_seq: int, limit: int) -> TelemetryPage:
    """A page of one kit's stored snapshots in seq order (null `next_after_seq` at the end)."""
    _known_kit(session, kit_id)
    rows = telemetry_page(session, kit_id=kit_id, after_seq=after_seq, limit=limit)
    return TelemetryPage(
        kit_id=kit_id,
        items=[TelemetryItem.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )


def kit_events(session: Session, *, kit_id: str, after_seq: int, limit: int) -> EventPage:
    """A page of one kit's stored events in seq order (null `next_after_seq` at the end)."""
    _known_kit(session, kit_id)
    rows = event_page(session, kit_id=kit_id, after_seq=after_seq, limit=limit)
    return EventPage(
        kit_id=kit_id,
        items=[EventOut.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )
