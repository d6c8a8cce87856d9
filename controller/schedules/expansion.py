"""The lessons a schedule gives: its weekly slots and exceptions expanded to UTC lessons.

Pure, no clock, no I/O. The edges of time (README.md, "Lessons at the edges of time"):

- a lesson belongs to the day it starts on: it may run past midnight into the next day (an
  evening lesson with a teacher in another zone), and that day's term and holidays decide whether
  it takes place; terms and holidays govern the weekly slots only, an extra or moved lesson is
  dated by hand and stands as written;
- a local start time the clocks skip (02:30 when summer time starts at 02:00) is read with the
  offset before the change, so the lesson starts as much later as the clocks jump (03:30); a time
  the clocks pass twice (01:30 when summer time ends) is its first occurrence: zoneinfo's fold=0,
  as RFC 5545 reads DTSTART;
- a lesson lasts its duration in real time (45 minutes are 45 minutes across a change of the
  clocks), so on such a night two lessons can meet that never do otherwise:
  `controller.schedules.validation` finds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from common.i18n import Lang, catalogue
from controller.schedules import model
from policy.lessons import Lesson
from protocol.models import LessonMode

Origin = Literal["slot", "moved", "extra"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One lesson the schedule gives: UTC and local times, and where in the schedule it is from."""

    start: dt.datetime
    end: dt.datetime
    local_date: dt.date
    local_start: dt.time
    subject: str
    teacher: str
    mode: LessonMode
    server: str | None
    origin: Origin
    source: tuple[str, int]
    """("slots", i), ("moves", i) or ("extras", i): the part of the schedule it comes from."""
    moved_from: tuple[dt.date, dt.time] | None = None
    timezone: str = model.DEFAULT_TIMEZONE
    """The schedule's zone: the local times above are its."""

    def lesson(self) -> Lesson:
        """The lesson as the kit sees it: no teacher."""
        return Lesson(self.start, self.end, self.mode, self.subject, self.server)

    def describe(self, lang: Lang = "en") -> str:
        """For a person in `lang`, by the wall clock, e.g.
        "Tuesday 2026-09-08 09:00-09:45 Maths (weekly)"."""
        zone = ZoneInfo(self.timezone)
        _ = catalogue("schedules").gettext(lang)
        return (
            f"{_(f'weekday.{self.local_date.weekday()}')} {self.local_date} "
            f"{self.start.astimezone(zone):%H:%M}-{self.end.astimezone(zone):%H:%M} "
            f"{self.subject} ({_(f'origin.{self.origin}')})"
        )

    @property
    def clocks_change(self) -> bool:
        """Whether the clocks change during the lesson or skipped its start time (summer time)."""
        zone = ZoneInfo(self.timezone)
        start, end = self.start.astimezone(zone), self.end.astimezone(zone)
        return start.time() != self.local_start or start.utcoffset() != end.utcoffset()


def _utc(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The moment a local date and time stand for (fold=0: a skipped time is read with the
    offset before the jump, so it falls as much later; a repeated time is its first)."""
    return dt.datetime.combine(day, clock, tzinfo=zone).replace(fold=0).astimezone(dt.UTC)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _occurrence(  # noqa: PLR0917 - a private constructor with the parts in their order
    lesson: model.BaseLesson,
    day: dt.date,
    clock: dt.time,
    duration_min: int,
    zone: ZoneInfo,
    origin: Origin,
    source: tuple[str, int],
    moved_from: tuple[dt.date, dt.time] | None = None,
) -> Occurrence:
    start = _utc(day, clock, zone)
    return Occurrence(
        start=start,
        end=start + dt.timedelta(minutes=duration_min),
        local_date=day,
        local_start=clock,
        subject=lesson.subject,
        teacher=lesson.teacher,
        mode=lesson.mode,
        server=lesson.server,
        origin=origin,
        source=source,
        moved_from=moved_from,
        timezone=zone.key,
    )


def holiday_on(schedule: model.ScheduleContent, day: dt.date) -> model.Holiday | None:
    """The holiday `day` falls in, if any."""
    return next((h for h in schedule.holidays if day in h), None)


def in_term(schedule: model.ScheduleContent, day: dt.date) -> bool:
    """Whether `day` is within one of the terms."""
    return any(day in term for term in schedule.terms)


def slot_at(schedule: model.ScheduleContent, day: dt.date, clock: dt.time) -> int | None:
    """The index of the weekly slot that gives a lesson at this local date and time, if any."""
    if not in_term(schedule, day) or holiday_on(schedule, day) is not None:
        return None
    return next(
        (
            i
            for i, slot in enumerate(schedule.slots)
            if slot.weekday == day.weekday() and slot.start == clock and slot.holds_on(day)
        ),
        None,
    )


def _require_aware(*moments: dt.datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("expand() takes timezone-aware datetimes")


def occurrences(
    schedule: model.ScheduleContent, start: dt.datetime, end: dt.datetime
) -> list[Occurrence]:
    """Every lesson that overlaps [start, end), by start time, with its local times and origin."""
    _require_aware(start, end)
    if end <= start:
        return []
    zone = ZoneInfo(schedule.timezone)
    # A lesson lasts at most MAX_LESSON_MINUTES (8 h): one that overlaps the range starts on
    # one of its local days or on the day before.
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    found: list[Occurrence] = []
    cancelled = {(c.date, c.start) for c in schedule.cancellations}
    moved = {(m.date, m.start) for m in schedule.moves}
    weekdays = {slot.weekday for slot in schedule.slots}
    for term in schedule.terms:
        for day in _days(max(first, term.start), min(last, term.end)):
            if day.weekday() not in weekdays or holiday_on(schedule, day) is not None:
                continue
            for i, slot in enumerate(schedule.slots):
                if slot.weekday != day.weekday() or not slot.holds_on(day):
                    continue
                if (day, slot.start) in cancelled or (day, slot.start) in moved:
                    continue
                found.append(
                    _occurrence(
                        slot, day, slot.start, slot.duration_min, zone, "slot", ("slots", i)
                    )
                )
    for i, move in enumerate(schedule.moves):
        index = slot_at(schedule, move.date, move.start)
        if index is None or (move.date, move.start) in cancelled:
            continue  # a move of a lesson that does not take place: validation reports it
        slot = schedule.slots[index]
        found.append(
            _occurrence(
                slot,
                move.to_date,
                move.to_start,
                move.duration_min or slot.duration_min,
                zone,
                "moved",
                ("moves", i),
                (move.date, move.start),
            )
        )
    found.extend(
        _occurrence(e, e.date, e.start, e.duration_min, zone, "extra", ("extras", i))
        for i, e in enumerate(schedule.extras)
    )
    return sorted(
        (o for o in found if o.start < end and start < o.end),
        key=lambda o: (o.start, o.end, o.subject, o.source),
    )


def expand(schedule: model.ScheduleContent, start: dt.datetime, end: dt.datetime) -> list[Lesson]:
    """The lessons (UTC, by start time) that overlap [start, end)."""
    return [o.lesson() for o in occurrences(schedule, start, end)]


def first_day(schedule: model.ScheduleContent) -> dt.date | None:
    """The earliest day a lesson can take place, if any can."""
    days = [
        *(t.start for t in schedule.terms if schedule.slots),
        *(m.to_date for m in schedule.moves),
        *(e.date for e in schedule.extras),
    ]
    return min(days, default=None)


def last_day(schedule: model.ScheduleContent) -> dt.date | None:
    """The latest day a lesson can take place, if any can."""
    days = [
        *(t.end for t in schedule.terms if schedule.slots),
        *(m.to_date for m in schedule.moves),
        *(e.date for e in schedule.extras),
    ]
    return max(days, default=None)


def all_occurrences(schedule: model.ScheduleContent) -> list[Occurrence]:
    """Every lesson the schedule gives, from its first day to its last."""
    first, last = first_day(schedule), last_day(schedule)
    if first is None or last is None:
        return []
    zone = ZoneInfo(schedule.timezone)
    return occurrences(
        schedule,
        dt.datetime.combine(first, dt.time(), tzinfo=zone),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone),
    )
