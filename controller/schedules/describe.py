"""A stored version of a pupil's schedule for a person: a summary, and the whole as text."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from controller.schedules import expansion, model, versions


def summary(stored: versions.StoredSchedule) -> dict[str, Any]:
    """A short account of a stored version: for an import's answer and the CLI."""
    schedule = stored.schedule
    lessons = expansion.all_occurrences(schedule)
    return {
        "pupil_ref": stored.pupil_ref,
        "version": stored.version,
        "status": schedule.status.value,
        "in_force_version": stored.in_force_version,
        "source": stored.source,
        "timezone": schedule.timezone,
        **versions.counts(schedule),
        "first_day": expansion.first_day(schedule),
        "last_day": expansion.last_day(schedule),
        "lessons": len(lessons),
    }


def describe(stored: versions.StoredSchedule, *, kit_ids: list[str], now: datetime) -> str:
    """The schedule as text for a person: approval, terms, weekly lessons, exceptions, next ones."""
    s = stored.schedule
    in_force = (
        f"version {stored.in_force_version} is in force"
        if stored.in_force_version is not None
        else "no version approved yet: the kits get no lessons"
    )
    lines = [
        f"pupil {stored.pupil_ref}: version {stored.version} ({s.status.value}); {in_force}",
        f"  time zone {s.timezone}; {stored.source}, saved by {stored.saved_by} "
        f"at {stored.saved_at:%Y-%m-%d %H:%M} UTC",
    ]
    if s.drawn_up_by:
        lines.append(f"  drawn up by {s.drawn_up_by}")
    if s.approved_by and s.approved_at:
        lines.append(f"  approved by {s.approved_by} at {s.approved_at:%Y-%m-%d %H:%M} UTC")
    lines.append(f"  kits: {', '.join(kit_ids) or 'none lent under a signed contract'}")
    sections: list[tuple[str, list[str]]] = [
        ("terms", [f"{t.start} to {t.end}  {t.name}".rstrip() for t in s.terms]),
        ("weekly lessons", [_slot_line(slot) for slot in sorted(s.slots, key=_slot_key)]),
        ("holidays", [f"{h.start} to {h.end}  {h.name}".rstrip() for h in s.holidays]),
        (
            "cancelled",
            [f"{c.date} {c.start:%H:%M}  {c.reason}".rstrip() for c in s.cancellations],
        ),
        (
            "moved",
            [
                f"{m.date} {m.start:%H:%M} -> {m.to_date} {m.to_start:%H:%M}"
                + (f" ({m.duration_min} min)" if m.duration_min else "")
                for m in s.moves
            ],
        ),
        (
            "extra lessons",
            [
                f"{e.date} {e.start:%H:%M} {e.duration_min} min  {e.subject}  {e.mode.value}"
                for e in s.extras
            ],
        ),
    ]
    for title, items in sections:
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
    upcoming = [
        o for o in expansion.occurrences(s, now, now + timedelta(days=14)) if o.start >= now
    ][:5]
    if upcoming:
        lines.append("next lessons (of this version):")
        lines.extend(f"  {o.describe()}" for o in upcoming)
    return "\n".join(lines) + "\n"


def _slot_key(slot: model.Slot) -> tuple[int, time]:
    return slot.weekday, slot.start


def _slot_line(slot: model.Slot) -> str:
    end = slot.start.hour * 60 + slot.start.minute + slot.duration_min
    until = f"{end // 60 % 24:02d}:{end % 60:02d}"  # past midnight: the next day's time
    limits = ""
    if slot.valid_from or slot.valid_until:
        limits = f"  [{slot.valid_from or '...'} to {slot.valid_until or '...'}]"
    teacher = f"  ({slot.teacher})" if slot.teacher else ""
    server = f" {slot.server}" if slot.server else ""
    return (
        f"{model.WEEKDAYS[slot.weekday]:<9} {slot.start:%H:%M}-{until}  "
        f"{slot.subject}{teacher}  {slot.mode.value}{server}{limits}"
    )
