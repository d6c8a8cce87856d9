"""A pupil's schedule from an iCalendar (.ics) file, turned into weekly slots and exceptions.

A calendar program exports a timetable as events: weekly lessons as a VEVENT with an RRULE, a
cancelled lesson as an EXDATE, a moved one as a VEVENT with the same UID and a RECURRENCE-ID, and
one-off lessons as plain VEVENTs. This module turns that into the same `ScheduleContent` the API
and the CSV import give (one model, one validation, one expansion), not into stored concrete
lessons, so the deputy director can still read and change the schedule by its weekly slots
(`ics_events` reads each event, `ics_conversion` turns them into slots and exceptions):

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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Event
from pydantic import ValidationError

from controller.platform.csvfile import RowError
from controller.schedules import expansion, ics_limits, limits, line_errors, model, validation
from controller.schedules.errors import ScheduleImportError
from controller.schedules.ics_conversion import Converter
from controller.schedules.ics_events import (
    NO_LINE,
    ConversionError,
    aware,
    exact_end,
    first_error_said,
    has_end,
    is_cancelled,
    local,
    named,
    real_minutes,
    recurrence_id,
    refuse_for,
    text_of,
    timed,
)
from controller.schedules.line_errors import Say, line_error
from protocol.timebounds import BOUNDS, outside


def _zone_of(calendar: Calendar, timezone: str | None) -> ZoneInfo:
    candidates: list[str] = []
    if timezone:
        candidates.append(timezone)
    else:
        wr = text_of(calendar, "X-WR-TIMEZONE")
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
                raise ConversionError(
                    [line_error(NO_LINE, "X-WR-TIMEZONE", "ics.timezone", zone=repr(candidate))]
                ) from None
    return ZoneInfo(model.DEFAULT_TIMEZONE)


def _derived_terms(converter: Converter) -> list[dict[str, Any]]:
    """One term over every recurring event's lessons, when the calendar has no term events."""
    days: list[dt.date] = []
    for master in converter.masters.values():
        try:
            days.extend(local(o.start, converter.zone)[0] for o in converter.raw(master))
        except ConversionError as exc:
            converter.errors.extend(exc.errors)
    if not days:
        return []
    return [{"start": min(days), "end": max(days), "name": "from the calendar"}]


_Key = tuple[dt.datetime, dt.datetime, str]
"""A lesson as both sides of `_check_faithful` see it: UTC start and end, subject."""


def _check_faithful(
    calendar: Calendar, converter: Converter, content: model.ScheduleContent
) -> None:
    """The schedule gives exactly the calendar's lessons (weekly ones only within terms).

    Each occurrence of a repeating event lasts as long as the event in real time (RFC 5545), an
    override as long as it says (else as its event); `recurring-ical-events`' own ends are not
    used (see `_length`).
    """
    first, last = expansion.first_day(content), expansion.last_day(content)
    if first is None or last is None:
        return
    zone = ZoneInfo(content.timezone)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    recurring = {text_of(e, "UID") for e in calendar.walk("VEVENT") if e.get("RRULE") is not None}
    overrides = {
        (text_of(e, "UID"), aware(moment, zone)): e
        for e in calendar.walk("VEVENT")
        if (moment := recurrence_id(e)) is not None
    }
    cancelled_masters = {
        text_of(e, "UID")
        for e in calendar.walk("VEVENT")
        if e.get("RRULE") is not None and is_cancelled(e)
    }
    expected: Counter[_Key] = Counter()
    events: dict[_Key, Event] = {}
    for occurrence in recurring_ical_events.of(calendar).between(start, end):
        if not timed(occurrence) or is_cancelled(occurrence):
            continue
        uid = text_of(occurrence, "UID")
        if uid in cancelled_masters:
            continue
        recurrence = recurrence_id(occurrence)
        override = None if recurrence is None else overrides.get((uid, aware(recurrence, zone)))
        day, _ = local(occurrence.start, zone)
        off = not expansion.in_term(content, day) or expansion.holiday_on(content, day) is not None
        master = converter.masters.get(uid) if uid in recurring else None
        if master is not None and override is None and off:
            continue
        written = override if override is not None and has_end(override) else master
        minutes = real_minutes(occurrence if written is None else written, zone)
        key = _key(occurrence.start, minutes, text_of(occurrence, "SUMMARY"), zone)
        expected[key] += 1
        events.setdefault(key, occurrence)
    given: Counter[_Key] = Counter()
    for lesson in expansion.occurrences(content, start, end):
        key = (lesson.start, lesson.end, lesson.subject)
        given[key] += 1
        if (origin := converter.origins.get(lesson.source)) is not None:
            events.setdefault(key, origin)
    if missing := expected - given:
        key = min(missing)
        what = "ics.unfaithful_lost"
    elif extra := given - expected:
        key = min(extra)
        what = "ics.unfaithful_added"
    else:
        return
    when = f"{key[0].astimezone(zone):%Y-%m-%d %H:%M}-{key[1].astimezone(zone):%H:%M}"
    reason = line_errors.text(what, when=when)
    if key in events:
        raise refuse_for(None, events[key], reason)
    name = line_errors.text("ics.event_only", summary=repr(key[2]))
    said = line_errors.text("ics.of", event=name, reason=reason)
    raise ConversionError([line_errors.said(NO_LINE, None, said)])


def _key(start: dt.date | dt.datetime, minutes: int, subject: str, zone: ZoneInfo) -> _Key:
    return (
        aware(start, zone).astimezone(dt.UTC),
        exact_end(start, minutes, zone),
        subject.strip()[:200],
    )


def _named(converter: Converter, parts: Iterable[tuple[str, int] | None], reason: Say) -> RowError:
    """The reason, after the events the parts of the schedule it is about come from."""
    events: list[Event] = []
    for part in parts:
        event = converter.origins.get(part) if part is not None else None
        if event is not None and all(e is not event for e in events):
            events.append(event)
    return line_errors.said(NO_LINE, None, named(events, reason))


def _part(where: Sequence[object]) -> tuple[str, int] | None:
    """("extras", 3) from a location such as ("extras", 3, "duration_min") or "extras.3.date"."""
    if len(where) < 2 or not isinstance(where[0], str):
        return None
    index = where[1]
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    return (where[0], index) if isinstance(index, int) else None


def _content(converter: Converter) -> model.ScheduleContent:
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
        raise ConversionError([_named(converter, [where], first_error_said(exc))]) from exc


def parse_ics(text: str, *, timezone: str | None = None) -> model.ScheduleContent:
    """The schedule an iCalendar file describes (see the module's doc); ScheduleImportError."""
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise ScheduleImportError(
            [line_error(NO_LINE, None, "ics.unreadable", detail=str(exc))], "ics"
        ) from exc
    if not isinstance(calendar, Calendar):
        raise ScheduleImportError([line_error(NO_LINE, None, "ics.not_calendar")], "ics")
    try:
        converter = Converter(calendar, _zone_of(calendar, timezone))
        converter.sort()
        _stop_on(converter.errors)
        ics_limits.check_events(
            [e for e in calendar.walk("VEVENT") if e.get("RRULE") is not None],
            [*converter.singles, *(o for found in converter.overrides.values() for o in found)],
            zone=converter.zone,
            terms=[(t["start"], t["end"]) for t in converter.terms],
        )
        converter.all_terms = converter.terms or _derived_terms(converter)
        _stop_on(converter.errors)
        limits.check_terms([(t["start"], t["end"]) for t in converter.all_terms])
        converter.recurring()
        converter.singles_and_orphans()
        _stop_on(converter.errors)
        content = _content(converter)
        # A rule repeated far enough (COUNT) may still reach past the bounds.
        _stop_on(
            [
                replace(
                    _named(
                        converter,
                        [_part(where.split("."))],
                        line_errors.text("import.date_range", day=value, **BOUNDS),
                    ),
                    column=where,
                )
                for where, value in outside(content)
            ]
        )
        _stop_on([_named(converter, p.parts, p.text) for p in validation.problems(content)])
        _check_faithful(calendar, converter, content)
    except ConversionError as exc:
        raise ScheduleImportError(exc.errors, "ics") from exc
    return content


def _stop_on(errors: list[RowError]) -> None:
    if errors:
        raise ConversionError(errors)
