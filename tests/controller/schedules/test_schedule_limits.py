"""A schedule or a file past a limit is refused before anything is expanded, naming the limit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

from controller.schedules import ics_limits, limits, model, validation
from controller.schedules.csv_format import parse_csv
from controller.schedules.errors import ScheduleTooLargeError
from controller.schedules.ics_format import parse_ics

SERVER = "webinar.school.kz:443"


def event(uid: str, rule: str, *, summary: str = "Maths", start: str = "20260901T090000") -> str:
    summary_line = f"SUMMARY:{summary}\r\n" if summary else ""
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;TZID=Asia/Almaty:{start}\r\n"
        f"DURATION:PT45M\r\nRRULE:{rule}\r\n{summary_line}LOCATION:{SERVER}\r\nEND:VEVENT\r\n"
    )


TERM = (
    "BEGIN:VEVENT\r\nUID:term-1\r\nDTSTART;VALUE=DATE:20260901\r\nDTEND;VALUE=DATE:20261225\r\n"
    "SUMMARY:1st quarter\r\nX-KITKEEPER-KIND:term\r\nEND:VEVENT\r\n"
)


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        + "".join(events)
        + ("END:VCALENDAR\r\n")
    )


def refused(text: str) -> ScheduleTooLargeError:
    with pytest.raises(ScheduleTooLargeError) as caught:
        parse_ics(text)
    return caught.value


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY", "HOURLY"])
def test_a_rule_more_often_than_daily_is_refused_naming_the_event(freq: str) -> None:
    error = refused(calendar(TERM, event("m1", f"FREQ={freq}")))
    (row,) = error.errors
    assert row.column == "RRULE"
    assert row.reason == (
        f"event 'Maths' (2026-09-01 09:00:00+05:00): it repeats {freq}; a lesson repeats at most "
        "once a day (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
    )
    messages = error.messages()
    assert set(messages) == {"kk", "ru", "en"}
    assert "событие «Maths»" in messages["ru"]
    assert "«Maths» оқиғасы" in messages["kk"]
    assert all(freq in text for text in messages.values())
    assert error.status == 422
    body = error.body()
    assert (body["detail"], body["messages"]) == (row.reason, messages)


def test_an_event_without_a_summary_is_named_by_its_uid() -> None:
    error = refused(calendar(TERM, event("lesson-42@school", "FREQ=MINUTELY", summary="")))
    assert "event 'UID lesson-42@school'" in error.errors[0].reason


def test_an_event_with_too_many_lessons_is_refused_before_it_is_expanded() -> None:
    every_minute_of_the_day = "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24)))
    every_minute_of_the_day += ";BYMINUTE=" + ",".join(map(str, range(60)))
    error = refused(calendar(TERM, event("m1", every_minute_of_the_day)))
    assert error.errors[0].reason == (
        "event 'Maths' (2026-09-01 09:00:00+05:00): it gives more than 5000 lessons; an event "
        "gives at most 5000"
    )


def test_a_file_with_too_many_lessons_is_refused() -> None:
    """Three events of 4,000 lessons each (COUNT, no terms): each fits, the file does not."""
    events = [
        event(f"e{i}", "FREQ=DAILY;COUNT=4000", start=f"20260901T0{i}0000") for i in range(1, 4)
    ]
    error = refused(calendar(*events))
    assert error.errors[0].reason == (
        f"the calendar gives more than {limits.MAX_LESSONS} lessons; a schedule has at most "
        f"{limits.MAX_LESSONS}"
    )


def test_rules_are_counted_only_over_the_span_the_import_expands() -> None:
    """A daily lesson since 2000 with no end is one term's worth of lessons, not 26 years'."""
    content = parse_ics(calendar(TERM, event("d1", "FREQ=DAILY", start="20000103T090000")))
    assert [slot.weekday for slot in content.slots] == list(range(7))


def test_a_rule_with_no_more_lessons_is_not_searched_past_2102() -> None:
    """dateutil looks for a next lesson up to datetime.MAXYEAR; the import stops at 2102."""
    assert ics_limits.dateutil_rrule.datetime.MAXYEAR == 2102
    yearly = list(rrulestr("FREQ=YEARLY", dtstart=dt.datetime(2090, 1, 1)))
    assert (len(yearly), yearly[-1].year) == (13, 2102)
    empty = calendar(
        TERM, event("x", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", start="20000103T090000")
    )
    assert parse_ics(empty).slots == ()


def weekly(count: int, *, every_minutes: int = 10) -> list[dict[str, Any]]:
    """`count` weekly ten-minute slots that never overlap."""
    return [
        {
            "weekday": i % 7,
            "start": f"{(i // 7 * every_minutes) // 60:02d}:{(i // 7 * every_minutes) % 60:02d}",
            "duration_min": 5,
            "subject": f"S{i}",
            "mode": "self_study",
        }
        for i in range(count)
    ]


def schedule(terms: list[tuple[str, str]], slots: int) -> model.ScheduleContent:
    return model.ScheduleContent.model_validate(
        {"terms": [{"start": a, "end": b} for a, b in terms], "slots": weekly(slots)}
    )


@pytest.mark.parametrize(
    ("terms", "slots", "count"),
    [
        ([("2026-09-07", "2026-09-13")], 7, 7),  # a week: each slot once
        ([("2026-09-07", "2026-09-14")], 1, 2),  # Monday to Monday: twice
        ([("2026-09-08", "2026-09-13")], 1, 0),  # no Monday in it
        ([("2026-09-01", "2026-10-31"), ("2026-11-09", "2026-12-25")], 14, None),
    ],
)
def test_lessons_are_counted_by_arithmetic(
    terms: list[tuple[str, str]], slots: int, count: int | None
) -> None:
    content = schedule(terms, slots)
    if count is None:  # day by day
        count = sum(
            1
            for term in content.terms
            for n in range((term.end - term.start).days + 1)
            for slot in content.slots
            if (term.start + dt.timedelta(days=n)).weekday() == slot.weekday
        )
    assert limits.lesson_count(content) == count


def test_a_schedule_with_too_long_terms_is_refused_before_it_is_expanded() -> None:
    """A PUT with one term over a century used 13 s and 450 MiB: now refused by arithmetic."""
    with pytest.raises(ScheduleTooLargeError) as caught:
        validation.check(schedule([("2000-01-01", "2100-12-31")], 200))
    assert str(caught.value) == (
        "the terms cover 36890 days (2000-01-01 to 2100-12-31); a schedule's terms cover at most "
        "1098 days"
    )


def test_a_schedule_with_too_many_lessons_is_refused() -> None:
    content = schedule([("2026-09-01", "2028-08-31")], 200)
    with pytest.raises(ScheduleTooLargeError) as caught:
        validation.check(content)
    assert str(caught.value) == (
        f"the schedule gives {limits.lesson_count(content)} lessons; a schedule has at most "
        f"{limits.MAX_LESSONS}"
    )


def test_a_csv_with_more_rows_than_a_schedule_holds_is_refused_before_it_is_read() -> None:
    rows = "".join(f"extra;;2026-09-01;;10:00;30;S{i};;self_study;;;;\n" for i in range(4000))
    header = (
        "kind;weekday;date;end_date;start;duration_min;subject;teacher;mode;server;to_date;"
        "to_start;note\n"
    )
    with pytest.raises(ScheduleTooLargeError) as caught:
        parse_csv(header + rows, pupil_ref="p-001")
    assert str(caught.value) == (
        f"the file has more than {limits.MAX_CSV_ROWS} rows; a schedule has at most "
        f"{limits.MAX_CSV_ROWS}"
    )
