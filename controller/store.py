"""Writing received messages and reading kits back: keyword-only functions over a Session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.db.models import Event, Kit, Telemetry
from protocol.models import Envelope, EventMessage, StatusMessage, TelemetryMessage
from protocol.models import Telemetry as TelemetryBody
from protocol.topics import Channel


@dataclass(frozen=True, slots=True)
class Received:
    """One decoded message and when it arrived."""

    channel: Channel
    message: Envelope
    received_at: datetime


@dataclass(slots=True)
class StoreResult:
    """What one batch changed."""

    stored: Counter[Channel] = field(default_factory=Counter)
    duplicates: int = 0
    status_changed: bool = False


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def key_figures(body: TelemetryBody) -> dict[str, float | None]:
    """The few numbers shown in a kit list, from one snapshot (None where unavailable)."""
    disks = body.disks if isinstance(body.disks, list) else []
    return {
        "cpu_percent": getattr(body.cpu, "percent", None),
        "memory_percent": getattr(body.memory, "used_percent", None),
        "disk_used_percent": max((d.used_percent for d in disks), default=None),
        "battery_percent": getattr(body.battery, "percent", None),
    }


def _insert_history(session: Session, items: list[Received], result: StoreResult) -> None:
    rows: dict[Channel, list[dict[str, Any]]] = {Channel.TELEMETRY: [], Channel.EVENTS: []}
    for item in items:
        msg = item.message
        if item.channel not in rows:
            continue
        row: dict[str, Any] = {
            "kit_id": msg.kit_id,
            "seq": msg.seq,
            "msg_id": msg.msg_id,
            "ts": msg.ts,
            "received_at": item.received_at,
            "body": msg.body.model_dump(mode="json"),
        }
        if isinstance(msg, EventMessage):
            row |= {
                "kind": msg.body.kind,
                "severity": msg.body.severity.value,
                "message": msg.body.message,
            }
        rows[item.channel].append(row)
    for channel, model in ((Channel.TELEMETRY, Telemetry), (Channel.EVENTS, Event)):
        if not rows[channel]:
            continue
        table = model.__table__
        stmt = (
            _insert(session, table)  # type: ignore[arg-type]
            .on_conflict_do_nothing(index_elements=["kit_id", "msg_id"])
            .returning(table.c.msg_id)
        )
        inserted = len(session.execute(stmt, rows[channel]).all())
        result.stored[channel] += inserted
        result.duplicates += len(rows[channel]) - inserted


def _update_kits(session: Session, items: list[Received]) -> bool:
    kit_ids = sorted({item.message.kit_id for item in items})
    kits = {
        kit.kit_id: kit
        for kit in session.scalars(select(Kit).where(Kit.kit_id.in_(kit_ids)).with_for_update())
    }
    status_changed = False
    for item in items:  # arrival order: the last status wins
        msg, kit = item.message, kits[item.message.kit_id]
        kit.last_seen_at = max(kit.last_seen_at, item.received_at)
        if isinstance(msg, StatusMessage):
            online = msg.body.state == "online"
            if kit.online != online or kit.status_changed_at is None:
                kit.online = online
                kit.status_changed_at = item.received_at
                status_changed = True
            kit.agent_version = msg.body.agent_version or kit.agent_version
            kit.interval_s = msg.body.interval_s or kit.interval_s
            continue
        kit.last_seq = max(kit.last_seq, msg.seq)
        if isinstance(msg, TelemetryMessage) and (kit.latest_ts is None or msg.ts >= kit.latest_ts):
            body = msg.body
            kit.latest_ts = msg.ts
            kit.latest = body.model_dump(mode="json")
            kit.hostname = body.hostname
            kit.agent_version = body.agent_version
            kit.interval_s = body.interval_s
            for name, value in key_figures(body).items():
                setattr(kit, name, value)
    return status_changed


def store_batch(session: Session, items: list[Received]) -> StoreResult:
    """Store a batch in the caller's transaction; a message already stored is counted, not added."""
    result = StoreResult()
    if not items:
        return result
    first_seen: dict[str, datetime] = {}
    for item in items:
        first_seen.setdefault(item.message.kit_id, item.received_at)
    session.execute(
        _insert(session, Kit.__table__).on_conflict_do_nothing(index_elements=["kit_id"]),  # type: ignore[arg-type]
        [
            {"kit_id": k, "first_seen_at": t, "last_seen_at": t, "online": False, "last_seq": 0}
            for k, t in first_seen.items()
        ],
    )
    _insert_history(session, items, result)
    result.stored[Channel.STATUS] += sum(1 for i in items if i.channel is Channel.STATUS)
    result.status_changed = _update_kits(session, items)
    return result


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


def telemetry_page(session: Session, *, kit_id: str, after_seq: int, limit: int) -> list[Telemetry]:
    """Stored snapshots of one kit with seq > after_seq, in seq order."""
    return list(
        session.scalars(
            select(Telemetry)
            .where(Telemetry.kit_id == kit_id, Telemetry.seq > after_seq)
            .order_by(Telemetry.seq, Telemetry.id)
            .limit(limit)
        )
    )


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
            select(Event)
            .where(Event.kit_id == kit_id)
            .order_by(Event.seq.desc(), Event.id.desc())
            .limit(limit)
        )
    )
