"""The fleet's write path: received messages stored in batches, kits' presence and watermarks.

Keyword-only functions over the caller's Session (the writer process and the MQTT adapter commit);
reading kits back for the API is `controller.fleet.queries`.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.fleet.figures import FIGURES, SUMMARY, key_figures, summary
from controller.fleet.tables import Event, Kit, Telemetry
from protocol.models import Envelope, EventMessage, GapData, StatusMessage, TelemetryMessage
from protocol.timebounds import within
from protocol.topics import Channel

_LOGGER = logging.getLogger(__name__)


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
    watermarks: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    """Per kit with data in the batch: (seq, epoch) up to which everything is committed."""
    inserted: set[tuple[str, str]] = field(default_factory=set)
    """(kit_id, msg_id) of the events stored for the first time."""
    quarantined: int = 0
    """Messages the database refused for good (set aside by the writer)."""
    splits: int = 0
    """Times the writer split a batch to find a message the database refused."""
    scanned: int = 0
    """Stored seqs and gap spans read back to move watermarks over holes."""

    def merge(self, other: StoreResult) -> StoreResult:
        """Both results, as if they had been one batch (the later watermark wins)."""
        self.stored.update(other.stored)
        self.duplicates += other.duplicates
        self.status_changed |= other.status_changed
        self.watermarks.update(other.watermarks)
        self.inserted |= other.inserted
        self.quarantined += other.quarantined
        self.splits += other.splits
        self.scanned += other.scanned
        return self


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def _db_time(dialect: str) -> Any:
    """How the driver takes a UTC datetime: SQLite keeps SQLAlchemy's text form."""
    if dialect != "sqlite":
        return lambda value: value

    def to_text(value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.utcoffset():
            value = value.astimezone(UTC)
        return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"

    return to_text


def _executemany(session: Session, sql: str, names: list[str], rows: list[dict[str, Any]]) -> int:
    """Run `sql` (with `{name}` placeholders) for every row through the driver directly.

    The ingest hot path: SQLAlchemy's per-parameter type processing costs more than the insert
    itself. Columns whose name ends in `_at` or is `ts` are datetimes; the rest pass as they are
    (JSON as text). Returns the rows changed.
    """
    dialect = session.get_bind().dialect.name
    style = ":{}" if dialect == "sqlite" else "%({})s"
    statement = sql.format(**{n: style.format(n) for n in names})
    to_db = _db_time(dialect)
    times = [n for n in names if n.endswith(("_at", "_ts")) or n == "ts"]
    for row in rows:
        for n in times:
            row[n] = to_db(row[n])
    result = session.connection().exec_driver_sql(statement, rows)
    return int(result.rowcount)


_JSON_CACHE: dict[int, str] = {}


def _body_json(msg: Envelope) -> str:
    """The body as JSON text, serialised once per message within a batch."""
    text = _JSON_CACHE.get(id(msg))
    if text is None:
        text = _JSON_CACHE[id(msg)] = msg.body.model_dump_json()
    return text


def _event_row(msg: Envelope, received_at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kit_id": msg.kit_id,
        "seq": msg.seq,
        "msg_id": msg.msg_id,
        "epoch": msg.epoch,
        "ts": msg.ts,
        "received_at": received_at,
        "body": _body_json(msg),  # JSON text: the column takes it as it is
    }
    if isinstance(msg, EventMessage):
        row |= {
            "kind": msg.body.kind,
            "severity": msg.body.severity.value,
            "message": msg.body.message,
        }
    return row


def _insert_history(session: Session, items: list[Received], result: StoreResult) -> None:
    telemetry: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for item in items:
        if item.channel is Channel.TELEMETRY:
            telemetry.append(_event_row(item.message, item.received_at))
        elif item.channel is Channel.EVENTS:
            events.append(_event_row(item.message, item.received_at))
    if events:
        # Events are few and some are acted on: know exactly which ones are new.
        table = Event.__table__
        stmt = (
            _insert(session, table)  # type: ignore[arg-type]
            .on_conflict_do_nothing(index_elements=["kit_id", "msg_id"])
            .returning(table.c.kit_id, table.c.msg_id)
        )
        inserted = {(k, m) for k, m in session.execute(stmt, events).all()}
        result.inserted |= inserted
        result.stored[Channel.EVENTS] += len(inserted)
        result.duplicates += len(events) - len(inserted)
    if telemetry:
        # The hot path: a plain executemany through the driver.
        names = ["kit_id", "seq", "msg_id", "epoch", "ts", "received_at", "body"]
        added = _executemany(
            session,
            f"INSERT INTO telemetry ({', '.join(names)}) "  # noqa: S608 - names are ours
            f"VALUES ({', '.join('{' + n + '}' for n in names)}) "
            "ON CONFLICT (kit_id, msg_id) DO NOTHING",
            names,
            telemetry,
        )
        result.stored[Channel.TELEMETRY] += added
        result.duplicates += len(telemetry) - added


def presence_event(
    kit_id: str,
    *,
    online: bool,
    reason: str,
    at: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A row for the events table recording a kit going online or offline (seq 0: ours)."""
    state = "online" if online else "offline"
    return {
        "kit_id": kit_id,
        "seq": 0,
        "msg_id": f"ctl-{uuid.uuid4().hex}",
        "ts": at,
        "received_at": at,
        "kind": f"kit_{state}",
        "severity": "info" if online else "warning",
        "message": f"kit is {state}: {reason}",
        "body": {"source": "controller", "reason": reason, **(extra or {})},
    }


class _Presence(Protocol):
    kit_id: str
    online: bool
    status_changed_at: datetime | None


@dataclass(slots=True)
class _KitState:
    """The columns of one kit that a batch reads and writes (never the latest snapshot itself)."""

    kit_id: str
    online: bool
    status_changed_at: datetime | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    last_seq: int
    acked_seq: int
    epoch: str | None
    latest_ts: datetime | None
    interval_s: float | None
    agent_version: str | None
    latest: TelemetryMessage | None = None
    loaded: tuple[Any, ...] = ()

    def rare(self) -> tuple[Any, ...]:
        """The columns that seldom change (written only when they did)."""
        return tuple(getattr(self, n) for n in _RARE)


_STATE_COLUMNS = [
    getattr(Kit, f) for f in _KitState.__dataclass_fields__ if f not in ("latest", "loaded")
]
_RARE = (
    "online",
    "status_changed_at",
    "first_seen_at",
    "epoch",
    "interval_s",
    "agent_version",
)


def _set_online(
    kit: _Presence,
    online: bool,
    reason: str,
    at: datetime,
    transitions: list[dict[str, Any]],
    *,
    extra: dict[str, Any] | None = None,
) -> bool:
    if kit.online == online and kit.status_changed_at is not None:
        return False
    kit.online = online
    kit.status_changed_at = at
    transitions.append(presence_event(kit.kit_id, online=online, reason=reason, at=at, extra=extra))
    return True


def _apply(items: list[Received], kits: dict[str, _KitState]) -> tuple[bool, list[dict[str, Any]]]:
    """Fold a batch into the kits' state, in arrival order; returns presence transitions."""
    status_changed = False
    transitions: list[dict[str, Any]] = []
    for item in items:  # arrival order: the last status wins
        msg, kit, at = item.message, kits[item.message.kit_id], item.received_at
        if kit.first_seen_at is None:
            kit.first_seen_at = at
        kit.last_seen_at = at if kit.last_seen_at is None else max(kit.last_seen_at, at)
        if isinstance(msg, StatusMessage):
            reason = msg.body.reason or ("connected" if msg.body.state == "online" else "gone")
            # What the agent says of its playbook bundle goes along (the remediator acts on it).
            agent = {"bundle_version": msg.body.bundle_version}
            status_changed |= _set_online(
                kit, msg.body.state == "online", reason, at, transitions, extra=agent
            )
            kit.agent_version = msg.body.agent_version or kit.agent_version
            kit.interval_s = msg.body.interval_s or kit.interval_s
            continue
        if msg.epoch == kit.epoch:  # last_seq counts in the kit's current outbox life
            kit.last_seq = max(kit.last_seq, msg.seq)
        interval = kit.interval_s or 30.0
        if not kit.online and at - msg.ts < timedelta(seconds=2 * interval):
            # A fresh message (not a replay) from a kit we had given up on: it is back.
            status_changed |= _set_online(kit, True, "heartbeat resumed", at, transitions)
        if isinstance(msg, TelemetryMessage) and (kit.latest_ts is None or msg.ts >= kit.latest_ts):
            kit.latest_ts = msg.ts
            kit.latest = msg
            kit.interval_s = msg.body.interval_s
            kit.agent_version = msg.body.agent_version
    return status_changed, transitions


def _write_kits(session: Session, kits: dict[str, _KitState]) -> None:
    """A few executemany UPDATEs: what every kit in the batch changed, then the rarer columns."""
    common = ["last_seen_at", "last_seq", "acked_seq"]
    latest = [*common, "latest_ts", "latest", "hostname", *FIGURES, *SUMMARY]
    plain, fresh, rare = [], [], []
    for kit in kits.values():
        row: dict[str, Any] = {"k": kit.kit_id} | {name: getattr(kit, name) for name in common}
        if kit.latest is None:
            plain.append(row)
        else:
            body = kit.latest.body
            row |= {
                "latest_ts": kit.latest_ts,
                "latest": _body_json(kit.latest),
                "hostname": body.hostname,
                **key_figures(body),
                **summary(body),
            }
            fresh.append(row)
        if kit.rare() != kit.loaded:
            rare.append({"k": kit.kit_id} | dict(zip(_RARE, kit.rare(), strict=True)))
    for rows, names in ((plain, common), (fresh, latest), (rare, list(_RARE))):
        if rows:
            sets = ", ".join(f"{n} = {{{n}}}" for n in names)
            _executemany(
                session,
                f"UPDATE kits SET {sets} WHERE kit_id = {{k}}",  # noqa: S608 - names are ours
                [*names, "k"],
                rows,
            )


HOLE_WINDOW = 2048
"""Most seqs above a kit's watermark read back in one batch to move it over a filled hole."""
GAP_WINDOW = 32
"""Most stored gap events above a kit's watermark read back in one batch."""


def _same_life(model: type[Telemetry] | type[Event], kit: _KitState) -> Any:
    return model.epoch.is_(None) if kit.epoch is None else model.epoch == kit.epoch


def _stored_next(session: Session, kit: _KitState, watermark: int) -> bool:
    """Whether the seq right after `watermark` is stored (one index look-up per table)."""
    return any(
        session.scalar(
            select(model.id)
            .where(model.kit_id == kit.kit_id, _same_life(model, kit), model.seq == watermark + 1)
            .limit(1)
        )
        for model in (Telemetry, Event)
    )


def _stored_seqs(
    session: Session, kit: _KitState, above: int
) -> tuple[set[int], list[tuple[int, int]]]:
    """Seqs of one kit's current outbox life stored just above `above`, and its next gap spans.

    Bounded: at most HOLE_WINDOW seqs and GAP_WINDOW gap events, whatever the kit has stored
    (a watermark further on moves on in a later batch).
    """
    seqs: set[int] = set()
    gaps: list[tuple[int, int]] = []
    for model in (Telemetry, Event):
        seqs.update(
            session.scalars(
                select(model.seq).where(
                    model.kit_id == kit.kit_id,
                    _same_life(model, kit),
                    model.seq > above,
                    model.seq <= above + HOLE_WINDOW,
                )
            )
        )
    for body in session.scalars(
        select(Event.body)
        .where(
            Event.kit_id == kit.kit_id,
            _same_life(Event, kit),
            Event.kind == "gap",
            Event.seq > above,
        )
        .order_by(Event.seq)
        .limit(GAP_WINDOW)
    ):
        gap = GapData.model_validate(body.get("data", {}))
        gaps.append((gap.first_seq, gap.last_seq))
    return seqs, gaps


def _switch_epochs(session: Session, items: list[Received], kits: dict[str, _KitState]) -> None:
    """A kit whose messages carry an outbox life never seen before has begun that life.

    A reinstalled kit numbers from 1 again in a new epoch; late copies from its earlier life
    carry the old epoch (already stored), so they never switch it back.
    """
    candidates: dict[str, dict[str, datetime]] = {}
    for item in items:
        msg = item.message
        if item.channel is not Channel.STATUS and msg.epoch != kits[msg.kit_id].epoch:
            newest = candidates.setdefault(msg.kit_id, {})
            if msg.epoch is not None:
                newest[msg.epoch] = max(newest.get(msg.epoch, msg.ts), msg.ts)
    for kit_id, epochs in candidates.items():
        unseen = [
            epoch
            for epoch in epochs
            if not any(
                session.scalar(
                    select(model.id).where(model.kit_id == kit_id, model.epoch == epoch).limit(1)
                )
                for model in (Telemetry, Event)
            )
        ]
        if unseen:
            kit = kits[kit_id]
            epoch = max(unseen, key=lambda e: epochs[e])
            if kit.epoch is not None:
                _LOGGER.warning(
                    "kit %s began a new outbox life (%s after %s)", kit_id, epoch, kit.epoch
                )
            kit.epoch, kit.acked_seq, kit.last_seq = epoch, 0, 0


def _advance(watermark: int, seqs: set[int], gaps: list[tuple[int, int]]) -> int:
    """Move the watermark over every contiguous seq that is stored or declared dropped."""
    spans = sorted(gaps)
    while True:
        if watermark + 1 in seqs:
            watermark += 1
            continue
        covering = [last for first, last in spans if first <= watermark + 1 <= last]
        if covering:
            watermark = max(covering)
            continue
        return watermark


def _update_watermarks(
    items: list[Received], kits: dict[str, _KitState], session: Session, result: StoreResult
) -> None:
    by_kit: dict[str, list[Received]] = {}
    for item in items:
        if item.channel is not Channel.STATUS:
            by_kit.setdefault(item.message.kit_id, []).append(item)
    for kit_id, kit_items in by_kit.items():
        kit = kits[kit_id]
        current = [i.message for i in kit_items if i.message.epoch == kit.epoch]
        seqs = {m.seq for m in current if m.seq > kit.acked_seq}
        gaps = [
            (gap.first_seq, gap.last_seq)
            for m in current
            if isinstance(m, EventMessage) and m.body.kind == "gap"
            for gap in [GapData.model_validate(m.body.data)]
        ]
        watermark = _advance(kit.acked_seq, seqs, gaps)
        if watermark < kit.last_seq and _stored_next(session, kit, watermark):
            # A hole, with messages stored above it, that is filled now (by this batch, an
            # earlier one or another instance): move on over what is stored, a bounded window
            # at a time. A hole still open costs one look-up, never a scan of what is above it;
            # a span the kit dropped is passed once its gap event comes again with the resend.
            stored, stored_gaps = _stored_seqs(session, kit, watermark)
            result.scanned += len(stored) + len(stored_gaps)
            watermark = _advance(watermark, seqs | stored, gaps + stored_gaps)
        kit.acked_seq = watermark
        result.watermarks[kit_id] = (watermark, kit.epoch)


def _add_kits(session: Session, kit_ids: list[str]) -> None:
    """Kits heard from for the first time (any already there are left as they are)."""
    session.execute(
        _insert(session, Kit.__table__).on_conflict_do_nothing(index_elements=["kit_id"]),  # type: ignore[arg-type]
        [
            {"kit_id": k, "online": False, "last_seq": 0, "acked_seq": 0, "lifecycle": "active"}
            for k in kit_ids
        ],
    )


def _load_kits(session: Session, kit_ids: list[str]) -> dict[str, _KitState]:
    return {
        row.kit_id: _KitState(*row)
        for row in session.execute(
            select(*_STATE_COLUMNS).where(Kit.kit_id.in_(kit_ids)).with_for_update()
        )
    }


def _storable(items: list[Received], result: StoreResult) -> list[Received]:
    """The items whose times the database can hold; the rest set aside, never failing a batch."""
    kept = []
    for item in items:
        if within(item.message.ts) and within(item.received_at):
            kept.append(item)
            continue
        msg = item.message
        _LOGGER.error(
            "set aside message %s of kit %s: ts %s is out of range", msg.msg_id, msg.kit_id, msg.ts
        )
        result.quarantined += 1
    return kept


def store_batch(session: Session, items: list[Received]) -> StoreResult:
    """Store a batch in the caller's transaction; a message already stored is counted, not added.

    The kits' ack watermarks advance in the same transaction, so a watermark is never ahead of
    what is committed. Core statements throughout: this is the ingest hot path.
    """
    result = StoreResult()
    items = _storable(items, result)
    if not items:
        return result
    kit_ids = sorted({item.message.kit_id for item in items})
    kits = _load_kits(session, kit_ids)
    if len(kits) < len(kit_ids):  # kits heard from for the first time
        _add_kits(session, [k for k in kit_ids if k not in kits])
        kits |= _load_kits(session, [k for k in kit_ids if k not in kits])
    for kit in kits.values():
        kit.loaded = kit.rare()
    _JSON_CACHE.clear()
    _switch_epochs(session, items, kits)
    _insert_history(session, items, result)
    result.stored[Channel.STATUS] += sum(1 for i in items if i.channel is Channel.STATUS)
    result.status_changed, transitions = _apply(items, kits)
    if transitions:
        session.execute(_insert(session, Event.__table__), transitions)  # type: ignore[arg-type]
    _update_watermarks(items, kits, session, result)
    _write_kits(session, kits)
    _JSON_CACHE.clear()
    return result


def mark_silent_kits_offline(session: Session, *, now: datetime, factor: float) -> list[str]:
    """Kits online whose last message is older than `factor` intervals go offline (recorded)."""
    transitions: list[dict[str, Any]] = []
    for kit in session.scalars(select(Kit).where(Kit.online.is_(True)).with_for_update()):
        limit = timedelta(seconds=factor * (kit.interval_s or 30.0))
        if kit.last_seen_at is not None and now - kit.last_seen_at > limit:
            silent = int((now - kit.last_seen_at).total_seconds())
            _set_online(kit, False, f"no message for {silent} s", now, transitions)
    if transitions:
        session.execute(_insert(session, Event.__table__), transitions)  # type: ignore[arg-type]
    return [t["kit_id"] for t in transitions]


def record_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store the controller's own event rows (seq 0), adding any kit not stored yet."""
    if rows:
        _add_kits(session, sorted({row["kit_id"] for row in rows}))
        session.execute(_insert(session, Event.__table__), rows)  # type: ignore[arg-type]
