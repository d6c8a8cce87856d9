"""What one iCalendar event says, as a lesson, a term or a holiday: the reader of VEVENTs.

Each function reads one property or a few of one event (`icalendar`'s `Component`) and refuses,
with a `ConversionError` naming the event (its SUMMARY, else its UID, and its DTSTART), what a
schedule cannot hold:

- SUMMARY is the subject; X-KITKEEPER-MODE or CATEGORIES (online, home_visit, self_study) the
  mode (online by default); X-KITKEEPER-SERVER or LOCATION (host:port or an https:// address) an
  online lesson's server; ORGANIZER's CN (or address), else DESCRIPTION's first line, the teacher;
- an all-day event is a term or a holiday: `X-KITKEEPER-KIND:term` / `holiday`, or CATEGORIES
  `term` / `quarter` / `четверть` / `тоқсан` and `holiday` / `каникулы` / `демалыс` (DTEND is the
  day after the last, as iCalendar says);
- a local time is read as written in the schedule's zone (converted from another zone), and an
  event lasts its real length: DTEND - DTSTART as elapsed time, or its DURATION (RFC 5545).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from icalendar import Component, Event
from pydantic import ValidationError

from common.i18n import Lang, catalogue
from controller.platform.csvfile import RowError
from controller.schedules import line_errors, model
from controller.schedules.csv_format import MODES
from controller.schedules.errors import DOMAIN
from controller.schedules.line_errors import Say
from protocol.models import LessonMode
from protocol.timebounds import BOUNDS, within

NO_LINE: Final = 0
"""iCalendar errors name the event, not a line."""

_TERM_WORDS: Final = frozenset({"term", "quarter", "четверть", "тоқсан"})
_HOLIDAY_WORDS: Final = frozenset({"holiday", "holidays", "каникулы", "демалыс", "мереке"})
_DATED: Final = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE", "RRULE")
"""The properties of an event that hold dates or times (the RRULE's in its UNTIL)."""


@dataclass(frozen=True)
class LessonInfo:
    """What a lesson is made of, as an event says it."""

    subject: str
    teacher: str
    mode: LessonMode
    server: str | None

    def fields(self) -> dict[str, Any]:
        """As the fields of a slot or an extra lesson."""
        return {
            "subject": self.subject,
            "teacher": self.teacher,
            "mode": self.mode,
            "server": self.server,
        }


class ConversionError(Exception):
    """Events that cannot become a schedule; `errors` name each event and what is wrong."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors


def event_said(event: Component) -> Say:
    """The event as a person finds it in their calendar: its SUMMARY (else its UID) and start,
    in any language."""
    start = event.get("DTSTART")
    when = line_errors.text("ics.on", start=start.dt) if start is not None else ""
    summary = str(event.get("SUMMARY", "")).strip()
    uid = str(event.get("UID", "")).strip()
    if summary:
        return line_errors.text("ics.event", summary=repr(summary), when=when)
    if uid:
        return line_errors.text("ics.event_uid", uid=repr(uid), when=when)
    return line_errors.text("ics.event_unnamed", when=when)


def named(events: Sequence[Component], reason: Say) -> Say:
    """The reason after the events it is about (their names joined by "and")."""
    if not events:
        return reason
    names = [event_said(e) for e in events]

    def say(lang: Lang) -> str:
        joiner = catalogue(DOMAIN).text("ics.and", lang)
        return f"{joiner.join(name(lang) for name in names)}: {reason(lang)}"

    return say


def refuse(prop: str | None, event: Component, key: str, /, **params: object) -> ConversionError:
    """The event refused for `key` of the schedules catalogue, named before the reason."""
    return refuse_for(prop, event, line_errors.text(key, **params))


def refuse_for(prop: str | None, event: Component, reason: Say) -> ConversionError:
    """The event refused for `reason`, named before it."""
    return ConversionError([line_errors.said(NO_LINE, prop, named([event], reason))])


def text_of(event: Component, prop: str) -> str:
    value = event.get(prop)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def recurrence_id(event: Component) -> dt.date | dt.datetime | None:
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


def check_bounds(event: Component) -> None:
    """Refuse an event with a date or time outside the years 2000 to 2100, naming it."""
    for prop in _DATED:
        for moment in _moments(event, prop):
            if isinstance(moment, dt.date) and not within(moment):
                raise refuse(prop, event, "ics.outside", prop=prop, moment=moment, **BOUNDS)


def categories(event: Component) -> set[str]:
    if not isinstance(event, Event):
        return set()
    return {" ".join(str(c).strip().lower().split()) for c in event.categories}


def aware(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def local(value: dt.date | dt.datetime, zone: ZoneInfo) -> tuple[dt.date, dt.time]:
    """The local date and time as written, in the schedule's zone (converted from another).

    A time in the schedule's own zone is kept as the calendar writes it, even one the clocks skip
    (02:30 on the night summer time starts): the schedule reads it as RFC 5545 reads DTSTART
    (fold=0), so it must not be shifted to the time zoneinfo shows (03:30) first.
    """
    if isinstance(value, dt.datetime) and (
        value.tzinfo is None or getattr(value.tzinfo, "key", None) == zone.key
    ):
        return value.date(), value.time().replace(tzinfo=None, fold=0)
    moment = aware(value, zone).astimezone(zone)
    return moment.date(), moment.time().replace(tzinfo=None, fold=0)


def local_start(event: Component, zone: ZoneInfo) -> tuple[dt.date, dt.time]:
    """A lesson's local start, refused if the schedule would read it as another moment.

    That is a time the clocks show twice written in UTC or another zone as its second one: the
    schedule, like RFC 5545, reads a local time the clocks repeat as the first.
    """
    value = event.get("DTSTART").dt
    day, clock = local(value, zone)
    read = dt.datetime.combine(day, clock, tzinfo=zone).astimezone(dt.UTC)
    if read != aware(value, zone).astimezone(dt.UTC):
        raise refuse(
            "DTSTART", event, "ics.repeated_hour", day=day, clock=f"{clock:%H:%M}", zone=zone.key
        )
    return day, clock


def timed(event: Component) -> bool:
    start = event.get("DTSTART")
    return start is not None and isinstance(start.dt, dt.datetime)


def kind_of(event: Component) -> str:
    marker = text_of(event, "X-KITKEEPER-KIND").lower()
    if marker:
        return marker
    words = categories(event)
    if words & _TERM_WORDS:
        return "term"
    if words & _HOLIDAY_WORDS:
        return "holiday"
    return "lesson"


def span_of(event: Event, kind: str) -> dict[str, Any]:
    if event.get("RRULE") is not None:
        raise refuse("RRULE", event, f"ics.repeating_{kind}")
    start = event.get("DTSTART").dt
    end_prop = event.get("DTEND")
    last = start
    if end_prop is not None:
        end = end_prop.dt.date() if isinstance(end_prop.dt, dt.datetime) else end_prop.dt
        last = max(start, end - dt.timedelta(days=1))  # DTEND is the day after the last
    elif event.get("DURATION") is not None:
        last = max(start, start + event.duration - dt.timedelta(days=1))
    return {"start": start, "end": last, "name": text_of(event, "SUMMARY")[:100]}


def _teacher(event: Component) -> str:
    organizer = event.get("ORGANIZER")
    if organizer is not None:
        name = str(organizer.params.get("CN", "")).strip()
        address = str(organizer).strip()
        return (name or address.removeprefix("mailto:").removeprefix("MAILTO:"))[:200]
    description = text_of(event, "DESCRIPTION")
    return description.splitlines()[0].strip()[:200] if description else ""


def _mode(event: Component) -> LessonMode:
    marker = text_of(event, "X-KITKEEPER-MODE").lower()
    if marker:
        if marker not in MODES:
            raise refuse("X-KITKEEPER-MODE", event, "import.mode")
        return LessonMode(MODES[marker])
    for word in sorted(categories(event)):
        if word in MODES:
            return LessonMode(MODES[word])
    return LessonMode.ONLINE


def _server(event: Component, mode: LessonMode) -> str | None:
    explicit = text_of(event, "X-KITKEEPER-SERVER")
    location = text_of(event, "LOCATION")
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
            raise refuse_for(prop, event, line_errors.reason_of(exc)) from None
        return str(server)
    raise refuse("LOCATION", event, "ics.no_server")


def lesson_info(event: Component) -> LessonInfo:
    subject = text_of(event, "SUMMARY")
    if not subject:
        raise refuse("SUMMARY", event, "ics.no_subject")
    mode = _mode(event)
    return LessonInfo(subject[:200], _teacher(event), mode, _server(event, mode))


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
    return aware(end.dt, zone).astimezone(dt.UTC) - aware(start.dt, zone).astimezone(dt.UTC)


def real_minutes(event: Component, zone: ZoneInfo) -> int:
    """The event's length in whole minutes of real time, refused unless it fits a lesson."""
    length = _length(event, zone)
    if length is None:
        raise refuse("DTEND", event, "ics.no_end")
    prop = "DURATION" if event.get("DURATION") is not None else "DTEND"
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        raise refuse(prop, event, "ics.too_short")
    if minutes > model.MAX_LESSON_MINUTES:
        raise refuse(prop, event, "ics.too_long", minutes=minutes, limit=model.MAX_LESSON_MINUTES)
    return minutes


def exact_end(start: dt.date | dt.datetime, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """An occurrence's real end (UTC): its start, read with fold=0, and its length."""
    return aware(start, zone).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def is_cancelled(event: Component) -> bool:
    return text_of(event, "STATUS").upper() == "CANCELLED"


def has_end(event: Component) -> bool:
    return event.get("DTEND") is not None or event.get("DURATION") is not None


def override_info(event: Event, master: LessonInfo) -> LessonInfo:
    """An override's lesson: what it says, the rest as its recurring event says."""
    subject = text_of(event, "SUMMARY") or master.subject
    has_mode = bool(text_of(event, "X-KITKEEPER-MODE")) or bool(categories(event) & set(MODES))
    mode = _mode(event) if has_mode else master.mode
    has_server = bool(text_of(event, "X-KITKEEPER-SERVER") or text_of(event, "LOCATION"))
    server = _server(event, mode) if has_server else master.server
    if mode is not LessonMode.ONLINE:
        server = None
    has_teacher = event.get("ORGANIZER") is not None or bool(text_of(event, "DESCRIPTION"))
    teacher = _teacher(event) if has_teacher else master.teacher
    return LessonInfo(subject[:200], teacher, mode, server)


def first_error_said(exc: ValidationError) -> Say:
    """`first_error` in any language."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    reason = (
        line_errors.reason_of(cause)
        if isinstance(cause, ValueError)
        else line_errors.text("import.invalid", detail=error["msg"].removeprefix("Value error, "))
    )
    return lambda lang: f"{where}: {reason(lang)}"
