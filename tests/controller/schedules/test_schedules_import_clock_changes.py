"""iCalendar imports across a change of the clocks: RFC 5545's reading, as the schedule's own.

A weekly event's every lesson lasts as long as its first in real time, a local time the clocks
skip is read with the offset before the jump and one they repeat as its first (README.md,
"Lessons at the edges of time"). Each calendar is written here with explicit dates; nothing is
compared with today.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from controller.schedules import expansion, ics_format
from controller.schedules.errors import ScheduleImportError


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


def calendar(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n{event}END:VEVENT\r\n" for event in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n"


def lesson(uid: str, zone: str, start: str, end: str, extra: str = "") -> str:
    """A self-study lesson (no server needed) from `start` to `end`, local to `zone`."""
    return (
        f"UID:{uid}\r\nDTSTART;TZID={zone}:{start}\r\nDTEND;TZID={zone}:{end}\r\n{extra}"
        "SUMMARY:Mathematics\r\nX-KITKEEPER-MODE:self_study\r\n"
    )


@pytest.mark.parametrize(
    ("start", "end", "nominal", "on_the_day"),
    [
        pytest.param(
            "20260301T023000", "20260301T031500", dt.time(2, 30),
            (utc(2026, 3, 8, 7, 30), "03:30"),
            id="02:30 is skipped on 8 March: read as 03:30 EDT, 45 minutes on",
        ),
        pytest.param(
            "20261025T013000", "20261025T021500", dt.time(1, 30),
            (utc(2026, 11, 1, 5, 30), "01:30"),
            id="01:30 comes twice on 1 November: the first, 45 minutes on",
        ),
    ],
)  # fmt: skip
def test_a_weekly_lesson_across_a_change_in_new_york_is_one_slot(
    start: str, end: str, nominal: dt.time, on_the_day: tuple[dt.datetime, str]
) -> None:
    text = calendar(lesson("ny", "America/New_York", start, end, "RRULE:FREQ=WEEKLY;COUNT=4\r\n"))
    content = ics_format.parse_ics(text)
    assert content.timezone == "America/New_York"
    ((weekday, clock, minutes),) = [(s.weekday, s.start, s.duration_min) for s in content.slots]
    assert (weekday, clock, minutes) == (6, nominal, 45), "as written, not as zoneinfo shows it"
    assert (content.cancellations, content.moves, content.extras) == ((), (), ())
    lessons = expansion.all_occurrences(content)
    assert len(lessons) == 4
    assert {o.end - o.start for o in lessons} == {dt.timedelta(minutes=45)}, "45 real minutes"
    (changed,) = [o for o in lessons if o.clocks_change]
    assert (changed.start, changed.describe().split()[2][:5]) == on_the_day


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        pytest.param("20260321T233000", "20260322T003000", 60, id="60 min over the March change"),
        pytest.param("20261017T233000", "20261018T003000", 60, id="60 min over the October change"),
        pytest.param(
            "20261017T233000", "20261018T033000", 240, id="4 h, through the repeated hour"
        ),
    ],
)
def test_an_evening_lesson_in_berlin_runs_past_midnight_in_real_time(
    start: str, end: str, minutes: int
) -> None:
    rule = "RRULE:FREQ=WEEKLY;COUNT=3\r\n"
    content = ics_format.parse_ics(calendar(lesson("eve", "Europe/Berlin", start, end, rule)))
    ((weekday, clock, duration),) = [(s.weekday, s.start, s.duration_min) for s in content.slots]
    assert (weekday, clock, duration) == (5, dt.time(23, 30), minutes), "Saturday 23:30"
    lessons = expansion.all_occurrences(content)
    assert len(lessons) == 3
    for one in lessons:
        assert one.local_date.weekday() == 5, "it belongs to the Saturday it starts on"
        assert one.end - one.start == dt.timedelta(minutes=minutes)
        assert one.end.astimezone(ZoneInfo("Europe/Berlin")).date() > one.local_date
    offsets = {o.start.astimezone(ZoneInfo("Europe/Berlin")).utcoffset() for o in lessons}
    assert len(offsets) == 2, "the lessons are on both sides of the change"


def test_the_night_the_clocks_go_back_a_four_hour_lesson_ends_at_0230() -> None:
    """Not at 03:30 by the wall clock, which would be five hours."""
    rule = "RRULE:FREQ=WEEKLY;COUNT=2\r\n"
    text = calendar(lesson("eve", "Europe/Berlin", "20261017T233000", "20261018T033000", rule))
    night = expansion.all_occurrences(ics_format.parse_ics(text))[1]
    assert (night.local_date, night.start, night.end) == (
        dt.date(2026, 10, 24),
        utc(2026, 10, 24, 21, 30),
        utc(2026, 10, 25, 1, 30),
    )
    assert night.describe() == "Saturday 2026-10-24 23:30-02:30 Mathematics (weekly)"


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        pytest.param("20261101T013000", "20261101T023000", 120, id="01:30 EDT to 02:30 EST: 2 h"),
        pytest.param("20260308T013000", "20260308T033000", 60, id="01:30 EST to 03:30 EDT: 1 h"),
    ],
)
def test_a_single_event_across_a_change_keeps_its_real_length(
    start: str, end: str, minutes: int
) -> None:
    content = ics_format.parse_ics(calendar(lesson("one", "America/New_York", start, end)))
    ((clock, duration),) = [(e.start, e.duration_min) for e in content.extras]
    assert (clock, duration) == (dt.time(1, 30), minutes)


def test_an_override_on_the_night_of_the_change_keeps_the_real_length_of_its_event() -> None:
    """A move without its own end lasts as long as its weekly lesson: 45 real minutes."""
    text = calendar(
        lesson("ny", "America/New_York", "20260301T023000", "20260301T031500",
               "RRULE:FREQ=WEEKLY;COUNT=3\r\n"),
        "UID:ny\r\nRECURRENCE-ID;TZID=America/New_York:20260308T023000\r\n"
        "DTSTART;TZID=America/New_York:20260308T100000\r\nSUMMARY:Mathematics\r\n"
        "X-KITKEEPER-MODE:self_study\r\n",
    )  # fmt: skip
    content = ics_format.parse_ics(text)
    ((day, clock, to_clock, duration),) = [
        (m.date, m.start, m.to_start, m.duration_min) for m in content.moves
    ]
    assert (day, clock, to_clock, duration) == (
        dt.date(2026, 3, 8),
        dt.time(2, 30),
        dt.time(10),
        None,
    )


def errors(text: str, **kwargs: str) -> list[tuple[str | None, str]]:
    with pytest.raises(ScheduleImportError) as raised:
        ics_format.parse_ics(text, **kwargs)
    return [(e.column, e.reason) for e in raised.value.errors]


def test_a_weekly_event_without_an_end_is_named() -> None:
    text = calendar(
        "UID:w\r\nDTSTART;TZID=Europe/Berlin:20260321T233000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
        "SUMMARY:Physics\r\nX-KITKEEPER-MODE:self_study\r\n"
    )
    assert errors(text) == [
        (
            "DTEND",
            "event 'Physics' on 2026-03-21 23:30:00+01:00: a lesson needs its end (DTEND or "
            "DURATION)",
        )
    ]


def test_an_event_longer_than_a_lesson_in_real_time_is_named() -> None:
    """21:00 to 05:30 is 8.5 hours by the wall clock and 9.5 in real time that night."""
    text = calendar(lesson("long", "Europe/Berlin", "20261024T210000", "20261025T053000"))
    assert errors(text) == [
        (
            "DTEND",
            "event 'Mathematics' on 2026-10-24 21:00:00+02:00: it lasts 570 minutes in real time; "
            "a lesson is at most 480",
        )
    ]


def test_an_event_without_a_summary_is_named_by_its_uid() -> None:
    text = calendar(
        "UID:lesson-7\r\nDTSTART;TZID=Europe/Berlin:20261024T210000\r\n"
        "DTEND;TZID=Europe/Berlin:20261024T220000\r\nX-KITKEEPER-MODE:self_study\r\n"
    )
    assert errors(text) == [
        (
            "SUMMARY",
            "event with UID 'lesson-7' (no SUMMARY) on 2026-10-24 21:00:00+02:00: a lesson needs "
            "its subject (SUMMARY)",
        )
    ]


def test_an_event_that_ends_before_it_starts_is_named() -> None:
    """00:30 to 00:15 runs backwards, whatever the clocks do that night."""
    text = calendar(lesson("back", "Europe/Berlin", "20261025T003000", "20261025T001500"))
    assert errors(text) == [
        (
            "DTEND",
            "event 'Mathematics' on 2026-10-25 00:30:00+02:00: it ends before it starts or less "
            "than a minute after",
        )
    ]


def test_a_lesson_at_the_second_of_a_repeated_hour_is_refused_by_name() -> None:
    """06:30Z on 1 November is 01:30 EST, the second 01:30 in New York, which no schedule holds."""
    text = calendar(
        "UID:z\r\nDTSTART:20261101T063000Z\r\nDTEND:20261101T071500Z\r\nSUMMARY:Physics\r\n"
        "X-KITKEEPER-MODE:self_study\r\n"
    )
    ((column, reason),) = errors(text, timezone="America/New_York")
    assert column == "DTSTART"
    assert reason.startswith(
        "event 'Physics' on 2026-11-01 06:30:00+00:00: it starts at 2026-11-01 01:30 in "
        "America/New_York the second time the clocks show it"
    )


def test_lessons_that_meet_on_the_night_of_the_change_name_both_events() -> None:
    """Berlin, 29 March 2026: 01:30 for 45 real minutes ends at 03:15, into the 03:00 lesson."""
    rule = "RRULE:FREQ=WEEKLY;COUNT=2\r\n"
    text = calendar(
        lesson("a", "Europe/Berlin", "20260322T013000", "20260322T021500", rule),
        lesson("b", "Europe/Berlin", "20260322T030000", "20260322T034500", rule).replace(
            "SUMMARY:Mathematics", "SUMMARY:Physics"
        ),
    )
    ((column, reason),) = errors(text)
    assert column is None
    assert reason == (
        "event 'Mathematics' on 2026-03-22 01:30:00+01:00 and event 'Physics' on "
        "2026-03-22 03:00:00+01:00: lessons overlap: Sunday 2026-03-29 01:30-03:15 Mathematics "
        "(weekly) and Sunday 2026-03-29 03:00-03:45 Physics (weekly) (the clocks change that "
        "night)"
    )
