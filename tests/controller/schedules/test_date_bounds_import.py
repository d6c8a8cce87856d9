"""Imports: a date outside the years 2000 to 2100 is a row error naming line and column."""

from __future__ import annotations

import pytest

from controller.loans.import_rows import parse_pupils
from controller.schedules.csv_format import parse_csv, parse_date
from controller.schedules.errors import ScheduleImportError
from controller.schedules.ics_format import parse_ics

RANGE = "not within the years 2000 to 2100 (2000-01-01 to 2100-12-31)"
FAR_DATES = ["9999-12-31", "31.12.9999", "0001-01-01", "01.01.0001", "1999-12-31", "2101-01-01"]


@pytest.mark.parametrize("text", FAR_DATES)
def test_a_schedule_date_outside_the_bounds_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not within the years 2000 to 2100"):
        parse_date(text)


def test_the_bounds_themselves_are_dates() -> None:
    assert str(parse_date("01.01.2000")) == "2000-01-01"
    assert str(parse_date("2100-12-31")) == "2100-12-31"


SCHEDULE_CSV = """kind,weekday,date,end_date,start,duration_min,subject,server,to_date,to_start
term,,2031-09-01,{end},,,,,,
slot,Monday,,,10:00,45,Mathematics,webinar.school.kz:443,,
extra,,{extra},,12:00,45,Art,webinar.school.kz:443,,
move,,2031-09-08,,10:00,,,,{to_date},11:00
"""


def test_a_schedule_csv_names_each_far_date_by_line_and_column() -> None:
    text = SCHEDULE_CSV.format(end="9999-12-31", extra="0001-01-01", to_date="31.12.9999")
    with pytest.raises(ScheduleImportError) as caught:
        parse_csv(text, pupil_ref="p-001")
    found = [(e.row, e.column, e.reason) for e in caught.value.errors]
    assert found == [
        (2, "end_date", f"9999-12-31 is {RANGE}"),
        (4, "date", f"0001-01-01 is {RANGE}"),
        (5, "to_date", f"9999-12-31 is {RANGE}"),
    ]


def test_a_schedule_csv_within_the_bounds_imports() -> None:
    text = SCHEDULE_CSV.format(end="2031-12-26", extra="2031-09-10", to_date="2031-09-09")
    content = parse_csv(text, pupil_ref="p-001")
    assert [str(t.end) for t in content.terms] == ["2031-12-26"]


def ics(dtstart: str, dtend: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "X-WR-TIMEZONE:Asia/Almaty\r\nBEGIN:VEVENT\r\nUID:far-1\r\n"
        f"DTSTART;TZID=Asia/Almaty:{dtstart}\r\nDTEND;TZID=Asia/Almaty:{dtend}\r\n{extra}"
        "SUMMARY:Mathematics\r\nLOCATION:webinar.school.kz:443\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


ICS_CASES = [
    (ics("99991231T100000", "99991231T104500"), "DTSTART", "9999-12-31 10:00:00+05:00"),
    (ics("00010101T100000", "00010101T104500"), "DTSTART", "0001-01-01 10:00"),
    (ics("20310901T100000", "99991231T104500"), "DTEND", "9999-12-31 10:45:00+05:00"),
    (
        ics("20310901T100000", "20310901T104500", "RRULE:FREQ=WEEKLY;UNTIL=99991231T000000Z\r\n"),
        "RRULE",
        "9999-12-31 00:00:00+00:00",
    ),
    (
        ics(
            "20310901T100000",
            "20310901T104500",
            "RRULE:FREQ=WEEKLY;COUNT=3\r\nEXDATE;TZID=Asia/Almaty:99991231T100000\r\n",
        ),
        "EXDATE",
        "9999-12-31 10:00:00+05:00",
    ),
]


@pytest.mark.parametrize(("text", "prop", "shown"), ICS_CASES, ids=[c[1] for c in ICS_CASES])
def test_an_ics_event_with_a_far_date_is_refused_naming_it(
    text: str, prop: str, shown: str
) -> None:
    with pytest.raises(ScheduleImportError) as caught:
        parse_ics(text)
    (error,) = caught.value.errors
    assert error.column == prop
    assert "'Mathematics'" in error.reason
    assert f"{prop} {shown}" in error.reason
    assert error.reason.endswith(f"is {RANGE}")


def test_an_ics_rule_counted_past_2100_is_refused() -> None:
    """COUNT, not UNTIL: the weekly lessons only reach past the bounds once expanded."""
    text = ics("20990105T100000", "20990105T104500", "RRULE:FREQ=WEEKLY;COUNT=200\r\n")
    with pytest.raises(ScheduleImportError) as caught:
        parse_ics(text)
    assert any(
        e.column is not None and e.reason.endswith(f"is {RANGE}") for e in caught.value.errors
    ), caught.value.errors


PUPILS = """pupil_ref,name,grade,program,basis,temporary_until,school,iin
p-001,Нұрлан Жұмабаев,5,general,temporary,{until},№42 мектеп,080215500016
"""


@pytest.mark.parametrize("until", ["9999-12-31", "01.01.0001", "31.12.1999"])
def test_a_pupils_csv_names_the_far_date_by_line_and_column(until: str) -> None:
    result = parse_pupils(PUPILS.format(until=until))
    assert result.rows == []
    (error,) = result.errors
    assert (error.row, error.column) == (2, "temporary_until")
    assert "must be within the years 2000 to 2100 (2000-01-01 to 2100-12-31)" in error.reason


def test_a_pupils_csv_within_the_bounds_imports() -> None:
    result = parse_pupils(PUPILS.format(until="2100-12-31"))
    assert result.errors == []
    assert str(result.rows[0].temporary_until) == "2100-12-31"
