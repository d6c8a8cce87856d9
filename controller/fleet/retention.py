"""Retention: raw telemetry folded into hourly rows and deleted, old events and history deleted.

Rows are taken oldest first by id (ids follow arrival, so `received_at`, the controller's own
clock, rises with them): a pass reads at most `batch` rows, needs no index of its own, and stops
at the first row still within its days. Each pass is one short transaction, so the writer is
never held up for long; the controller repeats passes until nothing is left, then waits for the
next interval (`Retention.tick`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from controller.fleet.tables import Event, Telemetry, TelemetryHourly

_LOGGER = logging.getLogger(__name__)

BATCH = 2000
"""Most rows one pass reads or deletes per table."""
FIGURES = ("cpu_avg", "cpu_max", "memory_avg", "memory_max", "disk_used_max", "battery_min")


@dataclass(frozen=True, slots=True)
class Policy:
    """How many days each kind of row is kept."""

    telemetry_days: int = 30
    events_days: int = 180
    hourly_days: int = 730


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _part(body: dict[str, Any], name: str, figure: str) -> float | None:
    part = body.get(name)
    return _number(part.get(figure)) if isinstance(part, dict) else None


def _figures(body: Any) -> tuple[float | None, float | None, float | None, float | None]:
    """cpu, memory, fullest disk and battery percentages of one stored snapshot body."""
    if not isinstance(body, dict):
        return None, None, None, None
    disks = body.get("disks")
    used = (
        [_number(d.get("used_percent")) for d in disks if isinstance(d, dict)]
        if isinstance(disks, list)
        else []
    )
    known = [u for u in used if u is not None]
    return (
        _part(body, "cpu", "percent"),
        _part(body, "memory", "used_percent"),
        max(known) if known else None,
        _part(body, "battery", "percent"),
    )


@dataclass(slots=True)
class Hour:
    """What one kit's snapshots of one hour add up to."""

    samples: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    extremes: dict[str, float] = field(default_factory=dict)

    def add(self, body: Any) -> None:
        """Fold one snapshot body in."""
        self.samples += 1
        cpu, memory, disk, battery = _figures(body)
        for name, value in (("cpu", cpu), ("memory", memory)):
            if value is not None:
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1
                self._extreme(f"{name}_max", value, max)
        if disk is not None:
            self._extreme("disk_used_max", disk, max)
        if battery is not None:
            self._extreme("battery_min", battery, min)

    def _extreme(self, name: str, value: float, pick: Any) -> None:
        self.extremes[name] = pick(self.extremes.get(name, value), value)

    def merged(self, row: TelemetryHourly | None) -> dict[str, Any]:
        """The hourly row's columns, with an existing row for the same hour folded in."""
        old = row.samples if row else 0
        values: dict[str, Any] = {"samples": self.samples + old}
        for name in ("cpu", "memory"):
            mean = self.sums[name] / self.counts[name] if name in self.counts else None
            before = getattr(row, f"{name}_avg", None) if row else None
            if mean is not None and before is not None:  # weighted by the samples on each side
                mean = (mean * self.counts[name] + before * old) / (self.counts[name] + old)
            values[f"{name}_avg"] = mean if mean is not None else before
        for name, pick in (("cpu_max", max), ("memory_max", max), ("disk_used_max", max)):
            values[name] = _pick(self.extremes.get(name), getattr(row, name, None), pick)
        values["battery_min"] = _pick(
            self.extremes.get("battery_min"), getattr(row, "battery_min", None), min
        )
        return values


def _pick(a: float | None, b: float | None, pick: Any) -> float | None:
    return b if a is None else a if b is None else float(pick(a, b))


def fold_telemetry(session: Session, *, before: datetime, batch: int = BATCH) -> int:
    """Fold up to `batch` of the oldest raw snapshots received before `before` into hourly rows
    and delete them; how many were."""
    rows = session.execute(
        select(Telemetry.id, Telemetry.kit_id, Telemetry.ts, Telemetry.received_at, Telemetry.body)
        .order_by(Telemetry.id)
        .limit(batch)
    ).all()
    old = [r for r in rows if r.received_at < before]
    if not old:
        return 0
    hours: dict[tuple[str, datetime], Hour] = {}
    for row in old:
        key = (row.kit_id, row.ts.replace(minute=0, second=0, microsecond=0))
        hours.setdefault(key, Hour()).add(row.body)
    existing = {
        (r.kit_id, r.hour): r
        for r in session.scalars(
            select(TelemetryHourly).where(
                TelemetryHourly.kit_id.in_({k for k, _ in hours}),
                TelemetryHourly.hour.in_({h for _, h in hours}),
            )
        )
    }
    for (kit_id, hour), folded in hours.items():
        kept = existing.get((kit_id, hour))
        values = folded.merged(kept)
        if kept is None:
            session.add(TelemetryHourly(kit_id=kit_id, hour=hour, **values))
        else:
            for name, value in values.items():
                setattr(kept, name, value)
    session.execute(delete(Telemetry).where(Telemetry.id.in_([r.id for r in old])))
    return len(old)


def _delete_events(session: Session, *, before: datetime, batch: int) -> int:
    ids = [
        i
        for i, at in session.execute(
            select(Event.id, Event.received_at).order_by(Event.id).limit(batch)
        )
        if at < before
    ]
    if ids:
        session.execute(delete(Event).where(Event.id.in_(ids)))
    return len(ids)


def _delete_hours(session: Session, *, before: datetime, batch: int) -> int:
    ids = list(
        session.scalars(
            select(TelemetryHourly.id)
            .where(TelemetryHourly.hour < before)
            .order_by(TelemetryHourly.hour)
            .limit(batch)
        )
    )
    if ids:
        session.execute(delete(TelemetryHourly).where(TelemetryHourly.id.in_(ids)))
    return len(ids)


def apply(session: Session, *, now: datetime, policy: Policy, batch: int = BATCH) -> dict[str, int]:
    """One bounded pass: rows deleted per table (a table at `batch` has more to go)."""
    return {
        "telemetry": fold_telemetry(
            session, before=now - timedelta(days=policy.telemetry_days), batch=batch
        ),
        "events": _delete_events(
            session, before=now - timedelta(days=policy.events_days), batch=batch
        ),
        "telemetry_hourly": _delete_hours(
            session, before=now - timedelta(days=policy.hourly_days), batch=batch
        ),
    }


class Retention:
    """When the next pass is due: every `interval` seconds, and right away while rows remain."""

    def __init__(self, policy: Policy, interval: float, batch: int = BATCH) -> None:
        self.policy = policy
        self._interval = interval
        self._batch = batch
        self._due = 0.0

    def tick(
        self, sessions: sessionmaker[Session], *, now: datetime, monotonic: float
    ) -> dict[str, int]:
        """Run one pass if due; rows deleted per table (empty if none was due)."""
        if monotonic < self._due:
            return {}
        with sessions.begin() as session:
            deleted = apply(session, now=now, policy=self.policy, batch=self._batch)
        more = any(n >= self._batch for n in deleted.values())
        self._due = monotonic + (0.0 if more else self._interval)
        if any(deleted.values()):
            _LOGGER.info("retention: deleted %s", deleted)
        return deleted
