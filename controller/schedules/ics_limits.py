"""An iCalendar file's repeating events counted before any of them is expanded.

`recurring-ical-events` builds every occurrence of a rule in a span as a full event before
anything can look at it: a 348-byte file with `RRULE:FREQ=MINUTELY` over a term is 165,000
events, 39 s and 1.7 GiB. So each rule is refused or counted first, lazily and with a cap:

- FREQ=SECONDLY, MINUTELY or HOURLY is refused: a lesson repeats at most once a day (a lesson
  twice a day is two events, or BYHOUR in a DAILY or WEEKLY rule);
- each rule's occurrences are counted with `dateutil`'s iterator (which the expansion uses too)
  up to its COUNT, its UNTIL and the end of the span the import expands (the terms, the single
  events and the overrides; no terms: the years up to 2100), stopping at the first past
  `MAX_EVENT_LESSONS` for the event or `MAX_LESSONS` for the whole file (single events, overrides
  and RDATEs included), so counting costs at most that many steps;
- an occurrence before the span costs a step too (a rule that started long ago): a rule that
  takes more than `MAX_STEPS` is refused as giving too many lessons.

Each refusal is a `ScheduleTooLargeError` naming the event (its SUMMARY, else its UID, and its
DTSTART) and the limit, in kk, ru and en.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable
from typing import Any, Final
from zoneinfo import ZoneInfo

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from icalendar import Component, Event, vRecur

from controller.schedules.errors import ScheduleTooLargeError
from controller.schedules.ics_events import text_of
from controller.schedules.limits import MAX_EVENT_LESSONS, MAX_LESSONS

TOO_OFTEN: Final = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
"""Frequencies no lesson has."""

MAX_STEPS: Final = 100_000
"""Occurrences a rule may run through, before its span included (a few tenths of a second)."""

_LAST: Final = dt.datetime(2102, 1, 1)  # noqa: DTZ001 - wall-clock time, as rules count
"""A year past the last day a schedule may name (protocol.timebounds): a rule reaching that far
still gives a lesson past it for the import to refuse, and none is counted or expanded further."""


class _SearchUntil2102(types.ModuleType):
    """The `datetime` module as `dateutil.rrule` sees it, with MAXYEAR at 2102.

    dateutil looks for a rule's next occurrence up to datetime.MAXYEAR, and it checks UNTIL only
    on an occurrence it found: a rule that gives no lesson again (FREQ=DAILY;BYMONTH=2;
    BYMONTHDAY=30) makes every expansion walk each day to the year 9999, 10 s each. Nothing in
    kitkeeper names a day past 2100 (protocol.timebounds), so the search stops at 2102.
    """

    MAXYEAR = 2102

    def __getattr__(self, name: str) -> Any:
        return getattr(dt, name)


dateutil_rrule.datetime = _SearchUntil2102("datetime")

_MARGIN: Final = dt.timedelta(days=2)
"""Around the span: lessons near midnight, and zones either side of the schedule's."""


def _wall(value: dt.date | dt.datetime, tz: dt.tzinfo | None, *, end: bool = False) -> dt.datetime:
    """A moment as wall-clock time in `tz` (the event's zone; None: floating), a date whole."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time.max if end else dt.time())
    if value.tzinfo is not None and tz is not None:
        value = value.astimezone(tz)
    return value.replace(tzinfo=None)


def _start(event: Component) -> Any:
    """DTSTART's date or time (the events here all have one)."""
    value: Any = event.get("DTSTART")
    return value.dt if value is not None else None


def _params(event: Component) -> dict[str, Any]:
    summary, uid = text_of(event, "SUMMARY"), text_of(event, "UID")
    return {"name": summary or f"UID {uid}", "start": _start(event) or "?"}


def _rules(event: Component) -> list[vRecur]:
    value = event.get("RRULE")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _rdates(event: Component) -> int:
    value = event.get("RDATE")
    values = value if isinstance(value, list) else [value] if value is not None else []
    return sum(len(getattr(one, "dts", [])) or 1 for one in values)


def _first(rule: vRecur, key: str) -> Any:
    values = rule.get(key)
    return values[0] if values else None


class _Budget:
    """Lessons still allowed in the file."""

    def __init__(self, lessons: int) -> None:
        self.left = MAX_LESSONS - lessons
        if self.left < 0:
            raise ScheduleTooLargeError("limit.file_lessons", limit=MAX_LESSONS)

    def take(self, event: Component, lessons: int) -> None:
        if lessons > MAX_EVENT_LESSONS:
            raise ScheduleTooLargeError(
                "limit.event_lessons", column="RRULE", limit=MAX_EVENT_LESSONS, **_params(event)
            )
        self.left -= lessons
        if self.left < 0:
            raise ScheduleTooLargeError("limit.file_lessons", limit=MAX_LESSONS)


def _count(
    event: Component, rule: vRecur, *, span: tuple[dt.datetime, dt.datetime] | None, cap: int
) -> tuple[int, dt.datetime]:
    """The rule's occurrences in the span (up to `cap` + 1), and the last moment it can reach.

    Counted in the event's own wall-clock time (its BYHOUR and BYDAY are), up to its COUNT, its
    UNTIL and the span's end; the moment returned is where the rule ends for the import.
    """
    freq = str(_first(rule, "FREQ") or "").upper()
    if freq in TOO_OFTEN:
        raise ScheduleTooLargeError("limit.frequency", column="RRULE", freq=freq, **_params(event))
    first = _start(event)
    tz = first.tzinfo if isinstance(first, dt.datetime) else None
    start = _wall(first, tz)
    stop = span[1] if span is not None else _LAST
    if (until := _first(rule, "UNTIL")) is not None:
        stop = min(stop, _wall(until, tz, end=True))
    count = _first(rule, "COUNT")
    if stop < start:
        return 0, stop
    bare = vRecur({k: v for k, v in rule.items() if k not in ("UNTIL", "COUNT")})
    try:
        text = f"{bare.to_ical().decode()};UNTIL={stop:%Y%m%dT%H%M%S}"  # type: ignore[no-untyped-call]
        occurrences: Iterable[dt.datetime] = rrulestr(text, dtstart=start, ignoretz=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ScheduleTooLargeError("limit.rule", column="RRULE", **_params(event)) from exc
    counted = 0
    for step, moment in enumerate(occurrences):
        if step >= MAX_STEPS:  # a rule that ran that long before the span: too many lessons
            return cap + 1, stop
        if span is None or moment >= span[0]:
            counted += 1
            if counted > cap:
                return counted, stop
        if isinstance(count, int) and step + 1 >= count:
            return counted, moment
    return counted, stop


def _end_at(rule: vRecur, last: dt.datetime, tz: dt.tzinfo | None) -> None:
    """Make the rule end at `last` (wall time in `tz`) by UNTIL, instead of COUNT or never.

    `dateutil` looks for a rule's next occurrence up to the year 9999 when there is none (a rule
    that stops giving lessons, or never gives one); with an UNTIL it stops there.
    """
    rule.pop("COUNT", None)
    rule["UNTIL"] = [last.replace(tzinfo=tz).astimezone(dt.UTC) if tz is not None else last]


def check_events(
    masters: Iterable[Component],
    others: list[Event],
    *,
    zone: ZoneInfo,
    terms: list[tuple[dt.date, dt.date]],
) -> None:
    """Refuse, before expanding, a rule too frequent, an event or a file with too many lessons.

    `masters` are the repeating events, `others` the single events and the overrides (one
    lesson each); `terms` the term events' first and last days. Raises ScheduleTooLargeError.
    Each rule that passes is made to end (UNTIL) where the import stops looking: at the end of
    the span, or at its COUNT-th lesson; it gives the same lessons up to there.
    """
    budget = _Budget(len(others))
    span = None
    if terms:  # the import expands the rules over the terms and the dated events only
        days = [d for t in terms for d in t]
        days += [_wall(_start(e), zone).date() for e in others if _start(e) is not None]
        span = (
            dt.datetime.combine(min(days), dt.time()) - _MARGIN,
            dt.datetime.combine(max(days), dt.time.max) + _MARGIN,
        )
    for master in masters:
        lessons = _rdates(master)
        first = _start(master)
        tz = first.tzinfo if isinstance(first, dt.datetime) else None
        for rule in _rules(master):
            cap = min(MAX_EVENT_LESSONS, budget.left) - lessons
            counted, last = _count(master, rule, span=span, cap=max(cap, 0))
            lessons += counted
            if span is not None or "COUNT" in rule:  # an open rule without terms stays open
                _end_at(rule, last, tz)
        budget.take(master, lessons)
