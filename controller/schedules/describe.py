"""A stored version of a pupil's schedule for a person: a summary, and the whole as text in the
reader's language (kk, ru, en: the schedules catalogue; weekdays and lesson modes included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, Final, get_args
from zoneinfo import ZoneInfo

from common.i18n import Lang, catalogue
from controller.platform.localtime import clock
from controller.schedules import expansion, model, versions
from controller.schedules.errors import DOMAIN

SOURCES: Final = frozenset(get_args(versions.Source))


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


def describe(
    stored: versions.StoredSchedule, *, kit_ids: list[str], now: datetime, lang: Lang = "en"
) -> str:
    """The schedule as text for a person in `lang`: approval, terms, weekly lessons, exceptions,
    the next lessons (the `describe.*` texts of the schedules catalogue)."""
    _ = catalogue(DOMAIN).gettext(lang)
    s = stored.schedule
    zone = ZoneInfo(s.timezone)  # times a person reads: in the schedule's zone, named
    in_force = (
        _("describe.in_force", version=stored.in_force_version)
        if stored.in_force_version is not None
        else _("describe.none_in_force")
    )
    source = _(f"source.{stored.source}") if stored.source in SOURCES else stored.source
    lines = [
        _(
            "describe.heading",
            pupil=stored.pupil_ref,
            version=stored.version,
            status=_(f"status.{s.status.value}"),
            in_force=in_force,
        ),
        "  "
        + _(
            "describe.saved",
            timezone=s.timezone,
            source=source,
            who=stored.saved_by,
            at=clock(stored.saved_at, zone),
        ),
    ]
    if s.drawn_up_by:
        lines.append("  " + _("describe.drawn_up", who=s.drawn_up_by))
    if s.approved_by and s.approved_at:
        at = clock(s.approved_at, zone)
        lines.append("  " + _("describe.approved", who=s.approved_by, at=at))
    lines.append("  " + _("describe.kits", kits=", ".join(kit_ids) or _("describe.no_kits")))
    lines.extend(_sections(s, _))
    upcoming = [
        o for o in expansion.occurrences(s, now, now + timedelta(days=14)) if o.start >= now
    ][:5]
    if upcoming:
        lines.append(_("describe.next") + ":")
        lines.extend(f"  {o.describe(lang)}" for o in upcoming)
    return "\n".join(lines) + "\n"


def _sections(s: model.ScheduleContent, _: Callable[..., str]) -> list[str]:
    """Terms, weekly lessons, holidays, cancelled, moved and extra lessons: a title, then each."""
    minutes: Callable[[int], str] = lambda n: _("describe.minutes", minutes=n)  # noqa: E731
    sections: list[tuple[str, list[str]]] = [
        ("terms", [f"{_('describe.range', start=t.start, end=t.end)}  {t.name}" for t in s.terms]),
        ("weekly", [_slot_line(slot, _) for slot in sorted(s.slots, key=_slot_key)]),
        (
            "holidays",
            [f"{_('describe.range', start=h.start, end=h.end)}  {h.name}" for h in s.holidays],
        ),
        ("cancelled", [f"{c.date} {c.start:%H:%M}  {c.reason}" for c in s.cancellations]),
        (
            "moved",
            [
                f"{m.date} {m.start:%H:%M} -> {m.to_date} {m.to_start:%H:%M}"
                + (f" ({minutes(m.duration_min)})" if m.duration_min else "")
                for m in s.moves
            ],
        ),
        (
            "extras",
            [
                f"{e.date} {e.start:%H:%M} {minutes(e.duration_min)}  {e.subject}  "
                + _(f"mode.{e.mode.value}")
                for e in s.extras
            ],
        ),
    ]
    lines: list[str] = []
    for title, items in sections:
        if items:
            lines.append(_(f"describe.{title}") + ":")
            lines.extend(f"  {item.rstrip()}" for item in items)
    return lines


def _slot_key(slot: model.Slot) -> tuple[int, time]:
    return slot.weekday, slot.start


def _slot_line(slot: model.Slot, _: Callable[..., str]) -> str:
    end = slot.start.hour * 60 + slot.start.minute + slot.duration_min
    until = f"{end // 60 % 24:02d}:{end % 60:02d}"  # past midnight: the next day's time
    limits = ""
    if slot.valid_from or slot.valid_until:
        span = _("describe.range", start=slot.valid_from or "...", end=slot.valid_until or "...")
        limits = f"  [{span}]"
    teacher = f"  ({slot.teacher})" if slot.teacher else ""
    server = f" {slot.server}" if slot.server else ""
    width = max(len(_(f"weekday.{day}")) for day in range(7))
    return (
        f"{_(f'weekday.{slot.weekday}'):<{width}} {slot.start:%H:%M}-{until}  "
        f"{slot.subject}{teacher}  {_(f'mode.{slot.mode.value}')}{server}{limits}"
    )
