"""A pupil's schedule from an iCalendar (.ics) file, turned into weekly slots and exceptions.

A calendar program exports a timetable as events: weekly lessons as a VEVENT with an RRULE, a
cancelled lesson as an EXDATE, a moved one as a VEVENT with the same UID and a RECURRENCE-ID, and
one-off lessons as plain VEVENTs. This module turns that into the same `ScheduleContent` the API
and the CSV import give (one model, one validation, one expansion), not into stored concrete
lessons, so the deputy director can still read and change the schedule by its weekly slots:

- every recurring event's occurrences (expanded with `recurring-ical-events`, without its
  EXDATEs) are grouped by local weekday, start time and duration; each group becomes a weekly
  slot valid from its first to its last occurrence. A rule that is not weekly at heart (every
  other week, the first Monday of a month, RDATEs) fails the check that the slots give exactly
  the rule's lessons, and its lessons become extra one-off lessons instead;
- an EXDATE becomes a cancellation; a RECURRENCE-ID override becomes a move (new date, time or
  duration), a cancellation (STATUS:CANCELLED), or a cancellation and an extra lesson when it
  changes the subject, mode, server or teacher;
- a plain timed event becomes an extra lesson; an event with STATUS:CANCELLED is left out;
- all-day events are terms or holidays: `X-KITKEEPER-KIND:term` / `holiday`, or CATEGORIES
  `term` / `quarter` / `четверть` / `тоқсан` and `holiday` / `каникулы` / `демалыс` (DTEND is
  the day after the last, as iCalendar says). Without term events the terms are the span of the
  recurring events (which must then end: UNTIL or COUNT);
- SUMMARY is the subject; X-KITKEEPER-MODE or CATEGORIES (online, home_visit, self_study) the
  mode (online by default); X-KITKEEPER-SERVER or LOCATION (host:port or an https:// address) an
  online lesson's server; ORGANIZER's CN (or address), else DESCRIPTION's first line, the teacher.

Local times are read in the schedule's time zone: the caller's, else X-WR-TIMEZONE, else the
zone of the first timed event (an IANA TZID; a UTC calendar gives none), else Asia/Almaty.
Events in UTC or another zone are converted. Across a change of the clocks the calendar is read as
RFC 5545 says (README.md, "Lessons at the edges of time"): a weekly event's lessons are grouped by
their start as written, each lasts the event's real length (DTEND - DTSTART as elapsed time, not
`recurring-ical-events`' wall-clock end), and a single event lasts the real time between its start
and end. At the end the whole schedule is expanded and compared with what `recurring-ical-events`
makes of the calendar (outside terms and on holidays only the weekly lessons are dropped); any
difference is an error rather than a silent change, naming the event it comes from.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Component, Event
from pydantic import ValidationError

from controller.loans.import_rows import RowError
from controller.schedules import model
from controller.schedules.csv_format import MODES
from controller.schedules.errors import ScheduleImportError
from protocol.models import LessonMode
from protocol.timebounds import RANGE, outside, within

MAX_OCCURRENCES: Final = 5000
"""An event repeating more often than this in the imported span is refused (COUNT=100000)."""
NO_LINE: Final = 0
"""iCalendar errors name the event, not a line."""

_TERM_WORDS: Final = frozenset({"term", "quarter", "четверть", "тоқсан"})
_HOLIDAY_WORDS: Final = frozenset({"holiday", "holidays", "каникулы", "демалыс", "мереке"})
_DATED: Final = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE", "RRULE")
"""The properties of an event that hold dates or times (the RRULE's in its UNTIL)."""


@dataclass(frozen=True)
class _LessonInfo:
    subject: str
    teacher: str
    mode: LessonMode
    server: str | None

    def fields(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "teacher": self.teacher,
            "mode": self.mode,
            "server": self.server,
        }


class _ConversionError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors


def _fail(prop: str | None, reason: str) -> _ConversionError:
    return _ConversionError([RowError(NO_LINE, prop, reason)])


def _name(event: Component) -> str:
    """The event as a person finds it in their calendar: its SUMMARY (else its UID) and start."""
    start = event.get("DTSTART")
    when = f" on {start.dt}" if start is not None else ""
    summary = str(event.get("SUMMARY", "")).strip()
    uid = str(event.get("UID", "")).strip()
    if summary:
        return f"event {summary!r}{when}"
    if uid:
        return f"event with UID {uid!r} (no SUMMARY){when}"
    return f"event without SUMMARY or UID{when}"


def _text(event: Component, prop: str) -> str:
    value = event.get(prop)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def _recurrence_id(event: Component) -> dt.date | dt.datetime | None:
    value: Any = event.get("RECURRENCE-ID")
    moment = getattr(value, "dt", None)
    return moment if isinstance(moment, dt.date) else None


def _moments(event: Component, prop: str) -> Iterator[object]:
    values = event.get(prop)
    for value in values if isinstance(values, list) else [values]:
        if value is None:
            continue
        if prop == "RRULE":
            yield from value.get("UNTIL", [])
        elif (moment := getattr(value, "dt", None)) is not None:
            yield moment
        else:
            yield from (getattr(one, "dt", None) for one in getattr(value, "dts", []))


def _check_bounds(event: Component) -> None:
    """Refuse an event with a date or time outside the years 2000 to 2100, naming it."""
    for prop in _DATED:
        for moment in _moments(event, prop):
            if isinstance(moment, dt.date) and not within(moment):
                raise _fail(prop, f"{_name(event)}: {prop} {moment} is not within {RANGE}")


def _categories(event: Component) -> set[str]:
    if not isinstance(event, Event):
        return set()
    return {" ".join(str(c).strip().lower().split()) for c in event.categories}


def _aware(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _local(value: dt.date | dt.datetime, zone: ZoneInfo) -> tuple[dt.date, dt.time]:
    """The local date and time as written, in the schedule's zone (converted from another).

    A time in the schedule's own zone is kept as the calendar writes it, even one the clocks skip
    (02:30 on the night summer time starts): the schedule reads it as RFC 5545 reads DTSTART
    (fold=0), so it must not be shifted to the time zoneinfo shows (03:30) first.
    """
    if isinstance(value, dt.datetime) and (
        value.tzinfo is None or getattr(value.tzinfo, "key", None) == zone.key
    ):
        return value.date(), value.time().replace(tzinfo=None, fold=0)
    moment = _aware(value, zone).astimezone(zone)
    return moment.date(), moment.time().replace(tzinfo=None, fold=0)


def _start(event: Component, zone: ZoneInfo) -> tuple[dt.date, dt.time]:
    """A lesson's local start, refused if the schedule would read it as another moment.

    That is a time the clocks show twice written in UTC or another zone as its second one: the
    schedule, like RFC 5545, reads a local time the clocks repeat as the first.
    """
    value = event.get("DTSTART").dt
    day, clock = _local(value, zone)
    read = dt.datetime.combine(day, clock, tzinfo=zone).astimezone(dt.UTC)
    if read != _aware(value, zone).astimezone(dt.UTC):
        raise _fail(
            "DTSTART",
            f"{_name(event)}: it starts at {day} {clock:%H:%M} in {zone.key} the second time the "
            "clocks show it (they go back that night), and a schedule reads a local time the "
            "clocks repeat as the first; move this lesson out of the repeated hour",
        )
    return day, clock


def _timed(event: Component) -> bool:
    start = event.get("DTSTART")
    return start is not None and isinstance(start.dt, dt.datetime)


def _kind(event: Component) -> str:
    marker = _text(event, "X-KITKEEPER-KIND").lower()
    if marker:
        return marker
    words = _categories(event)
    if words & _TERM_WORDS:
        return "term"
    if words & _HOLIDAY_WORDS:
        return "holiday"
    return "lesson"


def _span(event: Event, kind: str) -> dict[str, Any]:
    if event.get("RRULE") is not None:
        raise _fail("RRULE", f"{_name(event)}: a repeating {kind} is not supported; list each one")
    start = event.get("DTSTART").dt
    end_prop = event.get("DTEND")
    last = start
    if end_prop is not None:
        end = end_prop.dt.date() if isinstance(end_prop.dt, dt.datetime) else end_prop.dt
        last = max(start, end - dt.timedelta(days=1))  # DTEND is the day after the last
    elif event.get("DURATION") is not None:
        last = max(start, start + event.duration - dt.timedelta(days=1))
    return {"start": start, "end": last, "name": _text(event, "SUMMARY")[:100]}


def _teacher(event: Component) -> str:
    organizer = event.get("ORGANIZER")
    if organizer is not None:
        name = str(organizer.params.get("CN", "")).strip()
        address = str(organizer).strip()
        return (name or address.removeprefix("mailto:").removeprefix("MAILTO:"))[:200]
    description = _text(event, "DESCRIPTION")
    return description.splitlines()[0].strip()[:200] if description else ""


def _mode(event: Component) -> LessonMode:
    marker = _text(event, "X-KITKEEPER-MODE").lower()
    if marker:
        if marker not in MODES:
            raise _fail(
                "X-KITKEEPER-MODE", f"{_name(event)}: the mode is online, home_visit or self_study"
            )
        return LessonMode(MODES[marker])
    for word in sorted(_categories(event)):
        if word in MODES:
            return LessonMode(MODES[word])
    return LessonMode.ONLINE


def _server(event: Component, mode: LessonMode) -> str | None:
    explicit = _text(event, "X-KITKEEPER-SERVER")
    location = _text(event, "LOCATION")
    if mode is not LessonMode.ONLINE:
        return None  # a home visit's LOCATION is an address, not a server
    for prop, value in (("X-KITKEEPER-SERVER", explicit), ("LOCATION", location)):
        if not value:
            continue
        try:
            server = model.parse_server(value)
        except ValueError as exc:
            if prop == "LOCATION" and explicit:
                continue
            raise _fail(prop, f"{_name(event)}: {exc}") from None
        return str(server)
    raise _fail(
        "LOCATION",
        f"{_name(event)}: an online lesson needs its server as X-KITKEEPER-SERVER or LOCATION "
        "(host:port or https://...)",
    )


def _info(event: Component) -> _LessonInfo:
    subject = _text(event, "SUMMARY")
    if not subject:
        raise _fail("SUMMARY", f"{_name(event)}: a lesson needs its subject (SUMMARY)")
    mode = _mode(event)
    return _LessonInfo(subject[:200], _teacher(event), mode, _server(event, mode))


def _length(event: Component, zone: ZoneInfo) -> dt.timedelta | None:
    """How long the event as written lasts in real time, if it says (DURATION or DTEND).

    RFC 5545: DTEND - DTSTART is elapsed time (aware datetimes subtract in UTC), and a repeating
    event's every occurrence lasts exactly as long as the first. `recurring-ical-events` instead
    ends each occurrence at the first one's end by the wall clock, which is wrong across a
    change of the clocks, so an occurrence's own DTEND is never used for a repeating event.
    """
    duration, start, end = event.get("DURATION"), event.get("DTSTART"), event.get("DTEND")
    if duration is not None and isinstance(duration.dt, dt.timedelta):
        return duration.dt
    if start is None or end is None:
        return None
    return _aware(end.dt, zone).astimezone(dt.UTC) - _aware(start.dt, zone).astimezone(dt.UTC)


def _minutes(event: Component, zone: ZoneInfo) -> int:
    """The event's length in whole minutes of real time, refused unless it fits a lesson."""
    length = _length(event, zone)
    if length is None:
        raise _fail("DTEND", f"{_name(event)}: a lesson needs its end (DTEND or DURATION)")
    prop = "DURATION" if event.get("DURATION") is not None else "DTEND"
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        raise _fail(prop, f"{_name(event)}: it ends before it starts or less than a minute after")
    if minutes > model.MAX_LESSON_MINUTES:
        raise _fail(
            prop,
            f"{_name(event)}: it lasts {minutes} minutes in real time; a lesson is at most "
            f"{model.MAX_LESSON_MINUTES}",
        )
    return minutes


def _exact_end(start: dt.date | dt.datetime, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """An occurrence's real end (UTC): its start, read with fold=0, and its length."""
    return _aware(start, zone).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def _cancelled(event: Component) -> bool:
    return _text(event, "STATUS").upper() == "CANCELLED"


# --- the conversion ----------------------------------------------------------------------------


class _Converter:
    def __init__(self, calendar: Calendar, zone: ZoneInfo) -> None:
        self.calendar = calendar
        self.zone = zone
        self.terms: list[dict[str, Any]] = []
        self.holidays: list[dict[str, Any]] = []
        self.masters: dict[str, Event] = {}
        self.overrides: dict[str, list[Event]] = defaultdict(list)
        self.singles: list[Event] = []
        self.slots: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self.extras: list[dict[str, Any]] = []
        self.errors: list[RowError] = []
        self.all_terms: list[dict[str, Any]] = []
        """The term events, or the one term derived from the recurring events."""
        self.origins: dict[tuple[str, int], Event] = {}
        """The event each slot, cancellation, move and extra lesson comes from, to name it."""
        self._raw: dict[str, list[Event]] = {}

    def _add(self, part: str, item: dict[str, Any], event: Event) -> None:
        found: list[dict[str, Any]] = getattr(self, part)
        self.origins[(part, len(found))] = event
        found.append(item)

    def sort(self) -> None:
        for event in self.calendar.walk("VEVENT"):
            assert isinstance(event, Event)
            try:
                self._sort(event)
            except _ConversionError as exc:
                self.errors.extend(exc.errors)

    def _sort(self, event: Event) -> None:
        if event.get("DTSTART") is None:
            raise _fail("DTSTART", f"{_name(event)}: an event needs DTSTART")
        _check_bounds(event)
        if not _timed(event):
            kind = _kind(event)
            if kind not in ("term", "holiday"):
                raise _fail(
                    "X-KITKEEPER-KIND",
                    f"{_name(event)}: an all-day event is a term or a holiday (X-KITKEEPER-KIND or "
                    "CATEGORIES); a lesson needs a start time",
                )
            self._add("terms" if kind == "term" else "holidays", _span(event, kind), event)
            return
        uid = _text(event, "UID")
        if event.get("RECURRENCE-ID") is not None and uid:
            self.overrides[uid].append(event)
        elif event.get("RRULE") is not None and uid:
            if uid in self.masters:
                raise _fail("UID", f"{_name(event)}: two recurring events with the UID {uid!r}")
            if not _cancelled(event):
                self.masters[uid] = event
        elif event.get("RRULE") is not None:
            raise _fail("UID", f"{_name(event)}: a recurring event needs a UID")
        elif not _cancelled(event):
            self.singles.append(event)

    # -- the span of the weekly lessons

    def bounds(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The local span of the terms (midnight to midnight), if there are term events."""
        if not self.terms:
            return None
        first = min(t["start"] for t in self.terms)
        last = max(t["end"] for t in self.terms) + dt.timedelta(days=1)
        return (
            dt.datetime.combine(first, dt.time(), tzinfo=self.zone),
            dt.datetime.combine(last, dt.time(), tzinfo=self.zone),
        )

    def raw(self, master: Event) -> list[Event]:
        """The rule's occurrences without its EXDATEs and overrides."""
        uid = _text(master, "UID")
        if uid in self._raw:
            return self._raw[uid]
        bare = Event()
        for key, value in master.items():
            if key not in ("EXDATE", "RDATE"):
                bare[key] = value
        calendar = Calendar()
        calendar.add_component(bare)
        rule = master.get("RRULE")
        bounded = any(key in rule for key in ("COUNT", "UNTIL"))
        span = self.bounds()
        try:
            query = recurring_ical_events.of(calendar)
            if span is not None:
                found = query.between(*span)
            elif bounded:
                found = query.all()
            else:
                raise _fail(
                    "RRULE",
                    f"{_name(master)}: the weekly lessons never end; add UNTIL or COUNT, or term "
                    "events (all-day, X-KITKEEPER-KIND:term)",
                )
            occurrences: list[Event] = []
            for occurrence in found:
                occurrences.append(occurrence)
                if len(occurrences) > MAX_OCCURRENCES:
                    raise _fail("RRULE", f"{_name(master)}: more than {MAX_OCCURRENCES} lessons")
        except (ValueError, TypeError, recurring_ical_events.InvalidCalendar) as exc:
            raise _fail("RRULE", f"{_name(master)}: {exc}") from exc
        self._raw[uid] = occurrences
        return occurrences

    # -- weekly lessons

    def recurring(self) -> None:
        for uid, master in self.masters.items():
            try:
                self._recurring(uid, master)
            except _ConversionError as exc:
                self.errors.extend(exc.errors)

    def _recurring(self, uid: str, master: Event) -> None:
        info = _info(master)
        minutes = _minutes(master, self.zone)  # every occurrence lasts as long, in real time
        raw = self.raw(master)
        groups: dict[tuple[int, dt.time, int], list[dt.date]] = defaultdict(list)
        for occurrence in raw:
            day, clock = _local(occurrence.start, self.zone)
            groups[(day.weekday(), clock, minutes)].append(day)
        slots = [
            {
                "weekday": weekday,
                "start": clock,
                "duration_min": minutes,
                "valid_from": min(days),
                "valid_until": max(days),
                **info.fields(),
            }
            for (weekday, clock, minutes), days in sorted(groups.items())
        ]
        expected = {
            (_aware(o.start, self.zone).astimezone(dt.UTC), _exact_end(o.start, minutes, self.zone))
            for o in raw
            if self._kept(o.start)
        }
        if not slots or master.get("RDATE") or self._gives(master, slots) != expected:
            self._as_extras(uid)
            return
        for slot in slots:  # a limit the terms already make is left out, for a person to read
            for limit in ("valid_from", "valid_until"):
                trial = [*(s for s in slots if s is not slot), {**slot, limit: None}]
                if self._gives(master, trial) == expected:
                    slot[limit] = None
        self._as_slots(uid, master, info, self._alone(master, slots))
        for slot in slots:
            self._add("slots", slot, master)

    def _alone(self, master: Event, slots: list[dict[str, Any]]) -> model.ScheduleContent:
        """The weekly slots of one recurring event, in the terms and with the holidays."""
        try:
            return model.ScheduleContent.model_validate(
                {
                    "timezone": self.zone.key,
                    "terms": self.all_terms,
                    "holidays": self.holidays,
                    "slots": slots,
                }
            )
        except ValidationError as exc:
            raise _fail(None, f"{_name(master)}: {_first(exc)}") from exc

    def _gives(
        self, master: Event, slots: list[dict[str, Any]]
    ) -> set[tuple[dt.datetime, dt.datetime]]:
        return {(o.start, o.end) for o in model.all_occurrences(self._alone(master, slots))}

    def _kept(self, start: dt.date | dt.datetime) -> bool:
        """Whether a weekly lesson on this day takes place: in a term, not on a holiday."""
        day, _ = _local(start, self.zone)
        return any(t["start"] <= day <= t["end"] for t in self.all_terms) and not any(
            h["start"] <= day <= h["end"] for h in self.holidays
        )

    def _as_slots(
        self,
        uid: str,
        master: Event,
        info: _LessonInfo,
        alone: model.ScheduleContent,
    ) -> None:
        def slot_of(day: dt.date, clock: dt.time) -> model.Slot | None:
            index = model.slot_at(alone, day, clock)
            return alone.slots[index] if index is not None else None

        excluded: set[tuple[dt.date, dt.time]] = set()
        for value in master.exdates:
            for day, clock in self._exdate(value, alone):
                if slot_of(day, clock) is not None and (day, clock) not in excluded:
                    excluded.add((day, clock))
                    cancel = {"date": day, "start": clock, "reason": "EXDATE"}
                    self._add("cancellations", cancel, master)
        for override in self.overrides.pop(uid, []):
            recurrence = _recurrence_id(override)
            if recurrence is None:
                continue
            original = _local(recurrence, self.zone)
            if original in excluded:
                continue  # EXDATE wins over an override of the same lesson
            slot = slot_of(*original)
            if slot is None:
                if not _cancelled(override):
                    self._extra(override)
                continue
            excluded.add(original)
            if _cancelled(override):
                cancel = {"date": original[0], "start": original[1], "reason": "STATUS:CANCELLED"}
                self._add("cancellations", cancel, override)
                continue
            changed = _info_or(override, info)
            to_day, to_clock = _start(override, self.zone)
            minutes = _minutes(override, self.zone) if _has_end(override) else slot.duration_min
            if changed == info and (to_day, to_clock, minutes) == (*original, slot.duration_min):
                continue  # an override that changes nothing a lesson is made of
            if changed == info:
                move = {
                    "date": original[0],
                    "start": original[1],
                    "to_date": to_day,
                    "to_start": to_clock,
                    "duration_min": None if minutes == slot.duration_min else minutes,
                }
                self._add("moves", move, override)
            else:
                cancel = {"date": original[0], "start": original[1], "reason": "changed"}
                self._add("cancellations", cancel, override)
                extra = {"date": to_day, "start": to_clock, "duration_min": minutes}
                self._add("extras", {**extra, **changed.fields()}, override)

    def _exdate(
        self, value: dt.date | dt.datetime, alone: model.ScheduleContent
    ) -> Iterator[tuple[dt.date, dt.time]]:
        if isinstance(value, dt.datetime):
            yield _local(value, self.zone)
            return
        for slot in alone.slots:  # a DATE EXDATE: every lesson of the event that day
            if slot.weekday == value.weekday():
                yield value, slot.start

    def _as_extras(self, uid: str) -> None:
        """A rule that is not weekly at heart: its lessons one by one."""
        master = self.masters[uid]
        overrides = self.overrides.pop(uid, [])
        calendar = Calendar()
        calendar.add_component(master)
        for override in overrides:
            calendar.add_component(override)
        span = self.bounds()
        raw = self.raw(master)
        if span is None:
            starts = [o.start for o in raw] + [o.start for o in overrides]
            first = _aware(min(starts), self.zone) - dt.timedelta(days=1)
            last = _aware(max(starts), self.zone) + dt.timedelta(days=2)
            span = (first, last)
        overridden = {
            _aware(moment, self.zone): o
            for o in overrides
            if (moment := _recurrence_id(o)) is not None
        }
        for occurrence in recurring_ical_events.of(calendar).between(*span):
            if _cancelled(occurrence):
                continue
            recurrence = _recurrence_id(occurrence)
            by = None if recurrence is None else overridden.get(_aware(recurrence, self.zone))
            if by is None and not self._kept(occurrence.start):
                continue
            written = by if by is not None and _has_end(by) else master
            self._extra(occurrence, _minutes(written, self.zone))

    def _extra(self, event: Event, minutes: int | None = None) -> None:
        """An extra lesson; `minutes` for an occurrence of a repeating event (its real length)."""
        day, clock = _start(event, self.zone)
        length = _minutes(event, self.zone) if minutes is None else minutes
        extra = {"date": day, "start": clock, "duration_min": length}
        self._add("extras", {**extra, **_info(event).fields()}, event)

    def singles_and_orphans(self) -> None:
        orphans = [o for overrides in self.overrides.values() for o in overrides]
        for event in [*self.singles, *orphans]:
            if _cancelled(event):
                continue
            try:
                self._extra(event)
            except _ConversionError as exc:
                self.errors.extend(exc.errors)


def _has_end(event: Component) -> bool:
    return event.get("DTEND") is not None or event.get("DURATION") is not None


def _info_or(event: Event, master: _LessonInfo) -> _LessonInfo:
    """An override's lesson: what it says, the rest as its recurring event says."""
    subject = _text(event, "SUMMARY") or master.subject
    has_mode = bool(_text(event, "X-KITKEEPER-MODE")) or bool(_categories(event) & set(MODES))
    mode = _mode(event) if has_mode else master.mode
    has_server = bool(_text(event, "X-KITKEEPER-SERVER") or _text(event, "LOCATION"))
    server = _server(event, mode) if has_server else master.server
    if mode is not LessonMode.ONLINE:
        server = None
    has_teacher = event.get("ORGANIZER") is not None or bool(_text(event, "DESCRIPTION"))
    teacher = _teacher(event) if has_teacher else master.teacher
    return _LessonInfo(subject[:200], teacher, mode, server)


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def _zone_of(calendar: Calendar, timezone: str | None) -> ZoneInfo:
    candidates: list[str] = []
    if timezone:
        candidates.append(timezone)
    else:
        wr = _text(calendar, "X-WR-TIMEZONE")
        if wr:
            candidates.append(wr)
        for event in calendar.walk("VEVENT"):
            start = event.get("DTSTART")
            tz = getattr(start.dt, "tzinfo", None) if start is not None else None
            key = getattr(tz, "key", None)
            if isinstance(key, str) and key != "UTC":
                candidates.append(key)
                break
        candidates.append(model.DEFAULT_TIMEZONE)
    for candidate in candidates:
        try:
            return ZoneInfo(model.check_timezone(candidate))
        except ValueError:
            if timezone:
                raise _fail("X-WR-TIMEZONE", f"unknown time zone {candidate!r}") from None
    return ZoneInfo(model.DEFAULT_TIMEZONE)


def _derived_terms(converter: _Converter) -> list[dict[str, Any]]:
    """One term over every recurring event's lessons, when the calendar has no term events."""
    days: list[dt.date] = []
    for master in converter.masters.values():
        try:
            days.extend(_local(o.start, converter.zone)[0] for o in converter.raw(master))
        except _ConversionError as exc:
            converter.errors.extend(exc.errors)
    if not days:
        return []
    return [{"start": min(days), "end": max(days), "name": "from the calendar"}]


_Key = tuple[dt.datetime, dt.datetime, str]
"""A lesson as both sides of `_check_faithful` see it: UTC start and end, subject."""


def _check_faithful(
    calendar: Calendar, converter: _Converter, content: model.ScheduleContent
) -> None:
    """The schedule gives exactly the calendar's lessons (weekly ones only within terms).

    Each occurrence of a repeating event lasts as long as the event in real time (RFC 5545), an
    override as long as it says (else as its event); `recurring-ical-events`' own ends are not
    used (see `_length`).
    """
    first, last = model.first_day(content), model.last_day(content)
    if first is None or last is None:
        return
    zone = ZoneInfo(content.timezone)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    recurring = {_text(e, "UID") for e in calendar.walk("VEVENT") if e.get("RRULE") is not None}
    overrides = {
        (_text(e, "UID"), _aware(moment, zone)): e
        for e in calendar.walk("VEVENT")
        if (moment := _recurrence_id(e)) is not None
    }
    cancelled_masters = {
        _text(e, "UID")
        for e in calendar.walk("VEVENT")
        if e.get("RRULE") is not None and _cancelled(e)
    }
    expected: Counter[_Key] = Counter()
    events: dict[_Key, Event] = {}
    for occurrence in recurring_ical_events.of(calendar).between(start, end):
        if not _timed(occurrence) or _cancelled(occurrence):
            continue
        uid = _text(occurrence, "UID")
        if uid in cancelled_masters:
            continue
        recurrence = _recurrence_id(occurrence)
        override = None if recurrence is None else overrides.get((uid, _aware(recurrence, zone)))
        day, _ = _local(occurrence.start, zone)
        off = not model.in_term(content, day) or model.holiday_on(content, day) is not None
        master = converter.masters.get(uid) if uid in recurring else None
        if master is not None and override is None and off:
            continue
        written = override if override is not None and _has_end(override) else master
        minutes = _minutes(occurrence if written is None else written, zone)
        key = _key(occurrence.start, minutes, _text(occurrence, "SUMMARY"), zone)
        expected[key] += 1
        events.setdefault(key, occurrence)
    given: Counter[_Key] = Counter()
    for lesson in model.occurrences(content, start, end):
        key = (lesson.start, lesson.end, lesson.subject)
        given[key] += 1
        if (origin := converter.origins.get(lesson.source)) is not None:
            events.setdefault(key, origin)
    if missing := expected - given:
        key = min(missing)
        what = "its lesson of {} would be lost"
    elif extra := given - expected:
        key = min(extra)
        what = "a lesson on {} would be added that the calendar does not have"
    else:
        return
    when = f"{key[0].astimezone(zone):%Y-%m-%d %H:%M}-{key[1].astimezone(zone):%H:%M}"
    who = _name(events[key]) if key in events else f"event {key[2]!r}"
    raise _fail(
        None,
        f"{who}: {what.format(when)} if its rules were read as weekly lessons with cancellations "
        "and moves; simplify them or send a CSV",
    )


def _key(start: dt.date | dt.datetime, minutes: int, subject: str, zone: ZoneInfo) -> _Key:
    return (
        _aware(start, zone).astimezone(dt.UTC),
        _exact_end(start, minutes, zone),
        subject.strip()[:200],
    )


def _named(converter: _Converter, parts: Iterable[tuple[str, int] | None], message: str) -> str:
    """The message, after the events the parts of the schedule it is about come from."""
    events: list[Event] = []
    for part in parts:
        event = converter.origins.get(part) if part is not None else None
        if event is not None and all(e is not event for e in events):
            events.append(event)
    return f"{' and '.join(_name(e) for e in events)}: {message}" if events else message


def _part(where: Sequence[object]) -> tuple[str, int] | None:
    """("extras", 3) from a location such as ("extras", 3, "duration_min") or "extras.3.date"."""
    if len(where) < 2 or not isinstance(where[0], str):
        return None
    index = where[1]
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    return (where[0], index) if isinstance(index, int) else None


def _content(converter: _Converter) -> model.ScheduleContent:
    try:
        return model.ScheduleContent.model_validate(
            {
                "timezone": converter.zone.key,
                "terms": converter.all_terms,
                "holidays": converter.holidays,
                "slots": converter.slots,
                "cancellations": converter.cancellations,
                "moves": converter.moves,
                "extras": converter.extras,
            }
        )
    except ValidationError as exc:
        where = _part(exc.errors(include_url=False)[0]["loc"])
        raise _ConversionError(
            [RowError(NO_LINE, None, _named(converter, [where], _first(exc)))]
        ) from exc


def parse_ics(text: str, *, timezone: str | None = None) -> model.ScheduleContent:
    """The schedule an iCalendar file describes (see the module's doc); ScheduleImportError."""
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise ScheduleImportError(
            [RowError(NO_LINE, None, f"not an iCalendar file: {exc}")]
        ) from exc
    if not isinstance(calendar, Calendar):
        raise ScheduleImportError([RowError(NO_LINE, None, "not an iCalendar file (VCALENDAR)")])
    try:
        converter = _Converter(calendar, _zone_of(calendar, timezone))
        converter.sort()
        _stop_on(converter.errors)
        converter.all_terms = converter.terms or _derived_terms(converter)
        _stop_on(converter.errors)
        converter.recurring()
        converter.singles_and_orphans()
        _stop_on(converter.errors)
        content = _content(converter)
        # A rule repeated far enough (COUNT) may still reach past the bounds.
        _stop_on(
            [
                RowError(
                    NO_LINE,
                    where,
                    _named(converter, [_part(where.split("."))], f"{value} is not within {RANGE}"),
                )
                for where, value in outside(content)
            ]
        )
        _stop_on(
            [
                RowError(NO_LINE, None, _named(converter, p.parts, p.message))
                for p in model.problems(content)
            ]
        )
        _check_faithful(calendar, converter, content)
    except _ConversionError as exc:
        raise ScheduleImportError(exc.errors) from exc
    return content


def _stop_on(errors: list[RowError]) -> None:
    if errors:
        raise _ConversionError(errors)
