"""A pupil's individual lesson schedule and the lessons it gives: pure, no clock, no I/O.

The deputy director draws up each home-schooled pupil's schedule, the parents and teachers agree
to it and the director approves it (DOMAIN.md). It is written the way the school thinks of it:

- **terms** (start and end dates, inclusive; e.g. the four school quarters) in which the weekly
  lessons take place;
- **weekly slots**: a weekday (0 Monday .. 6 Sunday), a local start time, a duration, the subject,
  the teacher (staff, free text), the mode (online, home visit, self-study) and, for an online
  lesson, the host:port of its server; a slot may hold only from / until a date;
- **exceptions**: holidays (date ranges without weekly lessons), cancelled lessons (the date and
  the slot's start), moved lessons (from a date and time to another, perhaps with a new duration)
  and extra one-off lessons.

Times are local to the schedule's IANA time zone (Asia/Almaty by default) and become UTC only in
`expand`, through `zoneinfo`, so a change of the zone's rules needs no change here. Terms and
holidays govern the weekly slots only: an extra lesson or a moved one is dated by hand and stands
as written. The edges of time (README.md, "Lessons at the edges of time"):

- a lesson belongs to the day it starts on: it may run past midnight into the next day (an
  evening lesson with a teacher in another zone), and that day's term and holidays decide whether
  it takes place;
- a local start time the clocks skip (02:30 when summer time starts at 02:00) is read with the
  offset before the change, so the lesson starts as much later as the clocks jump (03:30); a time
  the clocks pass twice (01:30 when summer time ends) is its first occurrence: zoneinfo's fold=0,
  as RFC 5545 reads DTSTART;
- a lesson lasts its duration in real time (45 minutes are 45 minutes across a change of the
  clocks), so on such a night two lessons can meet that never do otherwise: `problems` finds
  them.

`problems` finds everything wrong with a schedule (overlapping lessons, a cancellation of a lesson
that does not take place, ...), each with where it is, so that an import can name the line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from controller.loans.people import REF
from controller.schedules.errors import ScheduleInvalidError
from policy.lessons import Lesson
from protocol.models import LessonMode

DEFAULT_TIMEZONE: Final = "Asia/Almaty"
MAX_LESSON_MINUTES: Final = 480
MINUTES_PER_DAY: Final = 24 * 60
MINUTES_PER_WEEK: Final = 7 * MINUTES_PER_DAY
WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_PROBLEMS: Final = 50
"""A schedule with more problems than this is reported by its first ones."""


class ScheduleStatus(StrEnum):
    """A draft is being agreed; only an approved schedule reaches the pupil's kit."""

    DRAFT = "draft"
    APPROVED = "approved"


# --- value types -------------------------------------------------------------------------------

_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})(?::00)?", re.ASCII)


def parse_clock(value: object) -> object:
    """A local time of day from "9:00", "09:00" or "09:00:00" (minutes, no seconds)."""
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError("a time of day is HH:MM, local to the schedule's time zone")
        return value
    if not isinstance(value, str):
        return value
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        raise ValueError("a time of day is written HH:MM, e.g. 09:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("this time of day does not exist")
    return dt.time(hour, minute)


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


LocalTime = Annotated[
    dt.time, BeforeValidator(parse_clock), PlainSerializer(_hhmm, return_type=str)
]
"""A local time of day, HH:MM."""

_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]", re.ASCII)
_URL = re.compile(r"(?i)(https?)://([^/?#]+)")
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def parse_server(value: object) -> object:
    """An online lesson's server as host:port, from "host:port" or a https:// or http:// URL."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    port: int | None = None
    if match := _URL.match(text):
        scheme, text = match.group(1).lower(), match.group(2).rsplit("@", 1)[-1]
        port = _DEFAULT_PORTS[scheme]
    host, sep, port_text = text.rpartition(":")
    if sep and (host.startswith("[") or ":" not in host):
        if not port_text.isascii() or not port_text.isdigit():
            raise ValueError("a server is host:port, e.g. webinar.school.kz:443")
        port = int(port_text)
    else:
        host = text
    if port is None:
        raise ValueError("a server is host:port, e.g. webinar.school.kz:443 (the port is missing)")
    if not 1 <= port <= 65535:
        raise ValueError("a server's port is 1 to 65535")
    if not (_HOST.fullmatch(host) or _IPV6.fullmatch(host)):
        raise ValueError("a server is host:port, e.g. webinar.school.kz:443 (bad host name)")
    return f"{host.lower()}:{port}"


Server = Annotated[str, BeforeValidator(parse_server), Field(max_length=255)]
"""host:port of an online lesson's server."""


def check_timezone(name: str) -> str:
    """The name of an IANA time zone zoneinfo knows, e.g. Asia/Almaty."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: an IANA name such as Asia/Almaty") from None
    return name


# --- the schedule ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Span(_Model):
    start: dt.date = Field(description="the first day")
    end: dt.date = Field(description="the last day (inclusive)")
    name: str = Field(default="", max_length=100)

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if isinstance(start, dt.date) and end < start:
            raise ValueError(f"it ends ({end}) before it starts ({start})")
        return end

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


class Term(_Span):
    """A term (e.g. a school quarter): the weekly lessons take place within terms only."""


class Holiday(_Span):
    """Days without weekly lessons (a school holiday, a public holiday)."""


class _Lesson(_Model):
    start: LocalTime = Field(description="local start time, HH:MM")
    duration_min: int = Field(ge=1, le=MAX_LESSON_MINUTES)
    subject: str = Field(min_length=1, max_length=200)
    teacher: str = Field(default="", max_length=200, description="the teacher's name (staff)")
    mode: LessonMode = LessonMode.ONLINE
    server: Server | None = Field(
        default=None, validate_default=True, description="host:port; online lessons only"
    )

    @field_validator("subject", "teacher", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("server")
    @classmethod
    def _server_fits_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode is LessonMode.ONLINE and value is None:
            raise ValueError("an online lesson needs its server (host:port)")
        if mode is not None and mode is not LessonMode.ONLINE and value is not None:
            raise ValueError(f"only online lessons have a server, not {mode.value} ones")
        return value


class Slot(_Lesson):
    """A lesson every week on `weekday` (0 Monday .. 6 Sunday) within the terms."""

    weekday: int = Field(ge=0, le=6, description="0 Monday .. 6 Sunday")
    valid_from: dt.date | None = Field(default=None, description="from this day on only")
    valid_until: dt.date | None = Field(default=None, description="up to this day only")

    @model_validator(mode="after")
    def _validity(self) -> Slot:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def holds_on(self, day: dt.date) -> bool:
        """Whether the slot's validity covers `day` (weekday, terms and holidays aside)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class Extra(_Lesson):
    """A one-off lesson on a date."""

    date: dt.date


class Cancellation(_Model):
    """A weekly lesson that does not take place: its date and its slot's start time."""

    date: dt.date
    start: LocalTime
    reason: str = Field(default="", max_length=500)


class Move(_Model):
    """A weekly lesson given at another date and time (and perhaps for another duration)."""

    date: dt.date = Field(description="the lesson's own date")
    start: LocalTime = Field(description="the lesson's own start (the slot's)")
    to_date: dt.date
    to_start: LocalTime
    duration_min: int | None = Field(
        default=None, ge=1, le=MAX_LESSON_MINUTES, description="empty: as the slot's"
    )
    reason: str = Field(default="", max_length=500)


class ScheduleContent(_Model):
    """What the deputy director draws up: time zone, terms, weekly slots and exceptions."""

    timezone: str = Field(
        default=DEFAULT_TIMEZONE, max_length=64, description="IANA time zone of the local times"
    )
    terms: tuple[Term, ...] = Field(default=(), max_length=12)
    slots: tuple[Slot, ...] = Field(default=(), max_length=200)
    holidays: tuple[Holiday, ...] = Field(default=(), max_length=100)
    cancellations: tuple[Cancellation, ...] = Field(default=(), max_length=1000)
    moves: tuple[Move, ...] = Field(default=(), max_length=1000)
    extras: tuple[Extra, ...] = Field(default=(), max_length=1000)
    drawn_up_by: str | None = Field(
        default=None, max_length=200, description="who drew it up (the deputy director)"
    )

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        return check_timezone(value.strip()) if isinstance(value, str) else value

    def content(self) -> ScheduleContent:
        """Only what was drawn up (without the pupil and the approval)."""
        return ScheduleContent.model_validate(
            self.model_dump(include=set(ScheduleContent.model_fields))
        )


class PupilSchedule(ScheduleContent):
    """A pupil's schedule with its approval: only an approved one is published to the kit."""

    pupil_ref: str = Field(pattern=REF)
    status: ScheduleStatus = ScheduleStatus.DRAFT
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _approval(self) -> PupilSchedule:
        approved = self.approved_by is not None and self.approved_at is not None
        if self.status is ScheduleStatus.APPROVED and not approved:
            raise ValueError("an approved schedule says who approved it and when")
        if self.status is ScheduleStatus.DRAFT and (self.approved_by or self.approved_at):
            raise ValueError("a draft has not been approved by anyone yet")
        return self


def for_pupil(content: ScheduleContent, pupil_ref: str) -> PupilSchedule:
    """A draft of `content` for the pupil."""
    return PupilSchedule.model_validate({**content.content().model_dump(), "pupil_ref": pupil_ref})


def approved(schedule: PupilSchedule, *, by: str, at: dt.datetime) -> PupilSchedule:
    """The same schedule, approved by `by` (the director) at `at`."""
    return PupilSchedule.model_validate(
        {
            **schedule.model_dump(),
            "status": ScheduleStatus.APPROVED,
            "approved_by": by,
            "approved_at": at,
        }
    )


# --- expansion ---------------------------------------------------------------------------------

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
    timezone: str = DEFAULT_TIMEZONE
    """The schedule's zone: the local times above are its."""

    def lesson(self) -> Lesson:
        """The lesson as the kit sees it: no teacher."""
        return Lesson(self.start, self.end, self.mode, self.subject, self.server)

    def describe(self) -> str:
        """For a person, by the wall clock, e.g. "Tuesday 2026-09-08 09:00-09:45 Maths (weekly)"."""
        zone = ZoneInfo(self.timezone)
        what = {"slot": "weekly", "moved": "moved", "extra": "extra"}[self.origin]
        return (
            f"{WEEKDAYS[self.local_date.weekday()]} {self.local_date} "
            f"{self.start.astimezone(zone):%H:%M}-{self.end.astimezone(zone):%H:%M} "
            f"{self.subject} ({what})"
        )

    @property
    def clocks_change(self) -> bool:
        """Whether the clocks change during the lesson or skipped its start time (summer time)."""
        zone = ZoneInfo(self.timezone)
        start, end = self.start.astimezone(zone), self.end.astimezone(zone)
        return start.time() != self.local_start or start.utcoffset() != end.utcoffset()


def _minutes(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


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
    lesson: _Lesson,
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


def holiday_on(schedule: ScheduleContent, day: dt.date) -> Holiday | None:
    """The holiday `day` falls in, if any."""
    return next((h for h in schedule.holidays if day in h), None)


def in_term(schedule: ScheduleContent, day: dt.date) -> bool:
    """Whether `day` is within one of the terms."""
    return any(day in term for term in schedule.terms)


def slot_at(schedule: ScheduleContent, day: dt.date, clock: dt.time) -> int | None:
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
    schedule: ScheduleContent, start: dt.datetime, end: dt.datetime
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
    for term in schedule.terms:
        for day in _days(max(first, term.start), min(last, term.end)):
            if holiday_on(schedule, day) is not None:
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
            continue  # a move of a lesson that does not take place: `problems` reports it
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


def expand(schedule: ScheduleContent, start: dt.datetime, end: dt.datetime) -> list[Lesson]:
    """The lessons (UTC, by start time) that overlap [start, end)."""
    return [o.lesson() for o in occurrences(schedule, start, end)]


def first_day(schedule: ScheduleContent) -> dt.date | None:
    """The earliest day a lesson can take place, if any can."""
    days = [
        *(t.start for t in schedule.terms if schedule.slots),
        *(m.to_date for m in schedule.moves),
        *(e.date for e in schedule.extras),
    ]
    return min(days, default=None)


def last_day(schedule: ScheduleContent) -> dt.date | None:
    """The latest day a lesson can take place, if any can."""
    days = [
        *(t.end for t in schedule.terms if schedule.slots),
        *(m.to_date for m in schedule.moves),
        *(e.date for e in schedule.extras),
    ]
    return max(days, default=None)


def all_occurrences(schedule: ScheduleContent) -> list[Occurrence]:
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


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a schedule; `parts` are the (list, index) it concerns."""

    parts: tuple[tuple[str, int], ...]
    message: str

    @property
    def where(self) -> str:
        """E.g. "slots[0], slots[2]"."""
        return ", ".join(f"{name}[{index}]" for name, index in self.parts)

    def as_dict(self) -> dict[str, Any]:
        """For a JSON error report."""
        return {"where": self.where, "message": self.message}


def _slot_text(slot: Slot) -> str:
    end = _minutes(slot.start) + slot.duration_min
    return (
        f"{WEEKDAYS[slot.weekday]} {_hhmm(slot.start)}-{end // 60 % 24:02d}:{end % 60:02d} "
        f"{slot.subject}"
    )


def _why_no_lesson(schedule: ScheduleContent, day: dt.date, clock: dt.time) -> str:
    when = f"{WEEKDAYS[day.weekday()]} {day} at {_hhmm(clock)}"
    if not in_term(schedule, day):
        return f"{day} is outside every term"
    if (holiday := holiday_on(schedule, day)) is not None:
        return f"{day} is in the holiday {holiday.name or ''} ({holiday.start} to {holiday.end})"
    return f"no weekly lesson starts on {when}"


def _term_problems(schedule: ScheduleContent) -> Iterator[Problem]:
    ordered = sorted(enumerate(schedule.terms), key=lambda item: item[1].start)
    for (i, a), (j, b) in itertools.pairwise(ordered):
        if b.start <= a.end:
            yield Problem(
                (("terms", i), ("terms", j)),
                f"terms overlap: {a.start} to {a.end} and {b.start} to {b.end}",
            )
    if schedule.slots and not schedule.terms:
        yield Problem((), "weekly lessons need a term (its start and end dates)")


def _both_hold(first: Slot, second: Slot, days_later: dt.timedelta) -> bool:
    """Whether on some day of `first`'s weekday it holds and `second` holds `days_later`."""
    second_from = second.valid_from - days_later if second.valid_from else None
    second_until = second.valid_until - days_later if second.valid_until else None
    starts = [d for d in (first.valid_from, second_from) if d is not None]
    ends = [d for d in (first.valid_until, second_until) if d is not None]
    if not starts or not ends:
        return True
    lo = max(starts)
    return lo + dt.timedelta(days=(first.weekday - lo.weekday()) % 7) <= min(ends)


def _starts_during(first: Slot, second: Slot) -> bool:
    """Whether `second` starts while `first` runs, by the clock (past midnight and Sunday too)."""
    first_from = first.weekday * MINUTES_PER_DAY + _minutes(first.start)
    second_from = second.weekday * MINUTES_PER_DAY + _minutes(second.start)
    after = (second_from - first_from) % MINUTES_PER_WEEK
    days_later = dt.timedelta(days=(_minutes(first.start) + after) // MINUTES_PER_DAY)
    return after < first.duration_min and _both_hold(first, second, days_later)


def _slot_problems(schedule: ScheduleContent) -> Iterator[Problem]:
    # By the clock; two slots that meet only on a night the clocks change are left to
    # _overlap_problems, which compares real times.
    slots = schedule.slots
    for i, a in enumerate(slots):
        for j in range(i + 1, len(slots)):
            b = slots[j]
            if _starts_during(a, b) or _starts_during(b, a):
                yield Problem(
                    (("slots", i), ("slots", j)),
                    f"weekly lessons overlap: {_slot_text(a)} and {_slot_text(b)}",
                )


def _exception_problems(schedule: ScheduleContent) -> Iterator[Problem]:
    seen: dict[tuple[dt.date, dt.time], tuple[str, int]] = {}
    items: list[tuple[str, int, Cancellation | Move]] = [
        *(("cancellations", i, c) for i, c in enumerate(schedule.cancellations)),
        *(("moves", i, m) for i, m in enumerate(schedule.moves)),
    ]
    for name, i, item in items:
        key = (item.date, item.start)
        if slot_at(schedule, item.date, item.start) is None:
            verb = "cancels" if name == "cancellations" else "moves"
            yield Problem(
                ((name, i),),
                f"{verb} a lesson that does not take place: "
                + _why_no_lesson(schedule, item.date, item.start),
            )
        elif (earlier := seen.get(key)) is not None:
            yield Problem(
                (earlier, (name, i)),
                f"the lesson of {item.date} at {_hhmm(item.start)} is cancelled or moved twice",
            )
        else:
            seen[key] = (name, i)


def _overlap_problems(schedule: ScheduleContent) -> Iterator[Problem]:
    reported: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    running: list[Occurrence] = []
    for occurrence in all_occurrences(schedule):
        running = [o for o in running if o.end > occurrence.start]
        for other in running:
            pair = (other.source, occurrence.source)
            if pair in reported:
                continue  # the first day says it
            reported.add(pair)
            changed = other.clocks_change or occurrence.clocks_change
            why = " (the clocks change that night)" if changed else ""
            yield Problem(
                pair, f"lessons overlap: {other.describe()} and {occurrence.describe()}{why}"
            )
        running.append(occurrence)


def problems(schedule: ScheduleContent) -> list[Problem]:
    """Everything wrong with the schedule (the first MAX_PROBLEMS); empty when it is sound."""
    found: list[Problem] = []
    for check in (_term_problems, _slot_problems, _exception_problems):
        found.extend(check(schedule))
    if not found:  # overlaps of concrete lessons only make sense once the rest is sound
        found.extend(_overlap_problems(schedule))
    return found[:MAX_PROBLEMS]


def check(schedule: ScheduleContent) -> None:
    """Raise ScheduleInvalidError with every problem of the schedule, if it has any."""
    if found := problems(schedule):
        raise ScheduleInvalidError(found)
