"""How large a schedule may be, checked by arithmetic before any lesson is expanded.

Expanding a schedule (validation, the check of an import against its calendar) costs time and
memory in proportion to its lessons and to the days its terms cover, so both are bounded first:

- a schedule gives at most `MAX_LESSONS` lessons: its weekly slots on their weekdays within the
  terms (holidays not taken off: an upper bound), its moved and its extra lessons
  (`lesson_count`, a sum over terms and slots, never a list of lessons);
- its terms cover at most `MAX_TERM_DAYS` days, first term's start to last term's end (three
  school years; a new school year is a new version);
- a CSV file has at most `MAX_CSV_ROWS` rows (all a schedule can hold), counted before parsing.

The limits of an iCalendar file's repeating events are `ics_limits`'. Each refusal is a
`ScheduleTooLargeError` naming the limit, in kk, ru and en.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from controller.schedules import model
from controller.schedules.errors import ScheduleTooLargeError

MAX_LESSONS: Final = 10_000
"""Lessons a schedule (or an imported file) may give: 200 weekly slots over a school year is
7,200; a pupil's real timetable is a few hundred a year."""

MAX_EVENT_LESSONS: Final = 5000
"""Lessons one repeating iCalendar event may give."""

MAX_TERM_DAYS: Final = 3 * 366
"""Days from the first term's start to the last term's end."""

MAX_CSV_ROWS: Final = 12 + 200 + 100 + 3 * 1000
"""Every term, slot, holiday, cancellation, move and extra lesson a schedule can hold."""


def _weekdays_between(weekday: int, first: dt.date, last: dt.date) -> int:
    """How many days from `first` to `last` (inclusive) fall on `weekday`."""
    if last < first:
        return 0
    ahead = (weekday - first.weekday()) % 7
    days = (last - first).days - ahead
    return 0 if days < 0 else days // 7 + 1


def lesson_count(schedule: model.ScheduleContent) -> int:
    """At least as many lessons as the schedule gives (holidays and cancellations not taken off)."""
    weekly = 0
    for term in schedule.terms:
        for slot in schedule.slots:
            first = max(term.start, slot.valid_from or term.start)
            last = min(term.end, slot.valid_until or term.end)
            weekly += _weekdays_between(slot.weekday, first, last)
    return weekly + len(schedule.moves) + len(schedule.extras)


def check_terms(terms: list[tuple[dt.date, dt.date]]) -> None:
    """Refuse terms (first and last day) that together cover more than MAX_TERM_DAYS days."""
    if not terms:
        return
    first, last = min(t[0] for t in terms), max(t[1] for t in terms)
    days = (last - first).days + 1
    if days > MAX_TERM_DAYS:
        raise ScheduleTooLargeError(
            "limit.term_days",
            column="terms",
            days=days,
            first=first,
            last=last,
            limit=MAX_TERM_DAYS,
        )


def check(schedule: model.ScheduleContent) -> None:
    """Refuse a schedule past a limit (ScheduleTooLargeError), before it is expanded."""
    check_terms([(t.start, t.end) for t in schedule.terms])
    count = lesson_count(schedule)
    if count > MAX_LESSONS:
        raise ScheduleTooLargeError("limit.schedule_lessons", count=count, limit=MAX_LESSONS)


def check_csv_rows(text: str) -> None:
    """Refuse a CSV file with more than MAX_CSV_ROWS rows under its header, before parsing it.

    Lines are counted (a cell over two lines counts twice; blank lines do not), so a file that
    passes has at most that many rows.
    """
    rows = -1  # the header
    for line in text.splitlines():
        if line.strip(" \t,;\"'"):
            rows += 1
            if rows > MAX_CSV_ROWS:
                raise ScheduleTooLargeError("limit.csv_rows", limit=MAX_CSV_ROWS)
