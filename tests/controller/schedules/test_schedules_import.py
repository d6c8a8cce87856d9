"""Schedules from a school's CSV and iCalendar files: what they say, and every error named."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from controller.platform.csvfile import RowError
from controller.schedules import csv_format, expansion, ics_format
from controller.schedules.errors import ScheduleImportError
from protocol.models import LessonMode

FILES = Path(__file__).parent / "schedule_files"
ALMATY_ICS = (FILES / "almaty_two_quarters.ics").read_text()
UTC_ICS = (FILES / "utc_september.ics").read_text()
TWIN_CSV = (FILES / "p001_two_quarters.csv").read_text(encoding="utf-8-sig")
PUPIL_IIN = "080215500016"

HEADER = "kind,weekday,date,end_date,start,duration_min,subject,teacher,mode,server\n"
TERM = "term,,2026-09-01,2026-10-24,,,,,,\n"


def csv_errors(text: str, **kwargs: object) -> list[RowError]:
    with pytest.raises(ScheduleImportError) as raised:
        csv_format.parse_csv(text, pupil_ref="p-001", **kwargs)  # type: ignore[arg-type]
    return raised.value.errors


def ics_errors(text: str) -> list[RowError]:
    with pytest.raises(ScheduleImportError) as raised:
        ics_format.parse_ics(text)
    return raised.value.errors


# --- CSV ----------------------------------------------------------------------------------------


def test_a_csv_in_a_spreadsheets_russian_and_kazakh_ways_reads_whole() -> None:
    content = csv_format.parse_csv(TWIN_CSV, pupil_ref="p-001")
    assert content.timezone == "Asia/Almaty"
    assert [(t.start, t.end, t.name) for t in content.terms] == [
        (date(2026, 9, 1), date(2026, 10, 24), "1-я четверть"),
        (date(2026, 11, 3), date(2026, 12, 26), "2-я четверть"),
    ]
    assert [(s.weekday, s.start, s.mode, s.server) for s in content.slots] == [
        (1, time(9), LessonMode.ONLINE, "webinar.school.kz:443"),
        (3, time(9), LessonMode.ONLINE, "webinar.school.kz:443"),
        (2, time(15), LessonMode.HOME_VISIT, None),
        (4, time(10), LessonMode.SELF_STUDY, None),
    ]
    assert content.slots[3].valid_until == date(2026, 10, 23)
    assert content.holidays[0].name == "Тәуелсіздік күні"
    assert content.cancellations[0].reason == "болезнь учителя"
    assert content.moves[0].to_date == date(2026, 9, 16)
    assert content.moves[0].duration_min == 60
    assert content.extras[0].server == "webinar.school.kz:8443"


@pytest.mark.parametrize(
    ("cell", "weekday"),
    [
        ("1", 0), ("7", 6), ("Monday", 0), ("mon", 0), ("Пн", 0), ("понедельник", 0),
        ("дүйсенбі", 0), ("Сәрсенбі", 2), ("ср", 2), ("жұма", 4), ("Sunday", 6), ("вс.", 6),
    ],
)  # fmt: skip
def test_weekdays_are_read_as_numbers_or_names_in_three_languages(cell: str, weekday: int) -> None:
    assert csv_format.parse_weekday(cell) == weekday


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            "slot,8,,,09:00,45,Mathematics,,online,webinar.school.kz:443\n",
            RowError(3, "weekday", "a weekday number is 1 (Monday) to 7 (Sunday)"),
            id="weekday 8",
        ),
        pytest.param(
            "slot,вторник,,,09:00,45,Mathematics,,online,\n",
            RowError(3, "server", "an online lesson needs its server (host:port)"),
            id="online without server",
        ),
        pytest.param(
            "slot,вторник,,,9h,45,Mathematics,,home_visit,\n",
            RowError(3, "start", "a time of day is written HH:MM, e.g. 09:00"),
            id="bad time",
        ),
        pytest.param(
            "slot,вторник,,,09:00,,Mathematics,,home_visit,\n",
            RowError(3, "duration_min", "is required in a slot row"),
            id="no duration",
        ),
        pytest.param(
            "holiday,,31.09.2026,,,,,,,\n",
            RowError(3, "date", "this date does not exist"),
            id="31 September",
        ),
        pytest.param(
            "holiday,,01.10.2026,,,,Autumn,,,\n",
            RowError(3, "subject", "is not used in a holiday row; leave it empty"),
            id="a subject on a holiday",
        ),
        pytest.param(
            "lesson,вторник,,,09:00,45,Mathematics,,home_visit,\n",
            RowError(3, "kind", "the kind is slot, term, holiday, cancel, move or extra"),
            id="unknown kind",
        ),
        pytest.param(
            "slot,вторник,,,09:00,45,Mathematics,,by pigeon,\n",
            RowError(3, "mode", "the mode is online, home_visit or self_study"),
            id="unknown mode",
        ),
        pytest.param(
            "slot,вторник,,,23:30,481,Mathematics,,home_visit,\n",
            RowError(3, "duration_min", "Input should be less than or equal to 480"),
            id="longer than 8 hours",
        ),
        pytest.param(
            "slot,вторник,,,09:00,45\n",
            RowError(3, None, "has 6 cells, the header has 10"),
            id="short row",
        ),
    ],
)
def test_a_bad_value_is_named_by_its_line_and_column(rows: str, expected: RowError) -> None:
    assert csv_errors(HEADER + TERM + rows) == [expected]


def test_every_bad_row_is_reported_not_only_the_first() -> None:
    rows = (
        "slot,вторник,,,09:00,45,Mathematics,,online,\n"
        "slot,среда,,,10:00,45,Reading,,self_study,\n"
        "slot,четверг,,,25:00,45,Art,,self_study,\n"
    )
    assert [(e.row, e.column) for e in csv_errors(HEADER + TERM + rows)] == [
        (3, "server"),
        (5, "start"),
    ]


def test_lessons_that_overlap_name_both_lines() -> None:
    rows = (
        "slot,вторник,,,09:00,45,Mathematics,,home_visit,\n"
        "slot,Tuesday,,,09:30,45,Physics,,home_visit,\n"
    )
    (error,) = csv_errors(HEADER + TERM + rows)
    assert error.row == 3
    assert error.reason == (
        "weekly lessons overlap: Tuesday 09:00-09:45 Mathematics and Tuesday 09:30-10:15 "
        "Physics (see also line 4)"
    )


def test_a_cancellation_of_a_lesson_that_is_not_names_its_line() -> None:
    text = (
        "kind;weekday;date;end_date;start;duration_min;subject;mode;note\n"
        "term;;01.09.2026;24.10.2026;;;;;1st quarter\n"
        "slot;вторник;;;09:00;45;Mathematics;self_study;\n"
        "cancel;;02.09.2026;;09:00;;;;teacher ill\n"
    )
    (error,) = csv_errors(text)
    assert (error.row, error.column) == (4, None)
    assert "cancels a lesson that does not take place" in error.reason
    assert "Wednesday 2026-09-02 at 09:00" in error.reason


def test_a_header_with_an_unknown_column_reads_nothing() -> None:
    (error,) = csv_errors("kind,weekday,start,room\nslot,1,09:00,12\n")
    assert error.row == 1
    assert error.reason.startswith("Unknown columns: room.")
    assert "The file's columns are: kind, pupil_ref" in error.reason, "the accepted ones listed"


def test_a_plain_timetable_keeps_the_current_terms_and_needs_some() -> None:
    timetable = (
        "weekday,start,duration_min,subject,teacher,mode,server\n"
        "Monday,09:00,45,English,D. Omarova,online,webinar.school.kz:443\n"
        "Wednesday,11:00,45,Art,,self_study,\n"
    )
    (error,) = csv_errors(timetable)
    assert error.reason == (
        "weekly lessons need a term (its start and end dates): add a row with kind term, date "
        "and end_date"
    )
    base = csv_format.parse_csv(TWIN_CSV, pupil_ref="p-001")
    content = csv_format.parse_csv(timetable, pupil_ref="p-001", base=base)
    assert content.terms == base.terms
    assert content.holidays == base.holidays
    assert [s.subject for s in content.slots] == ["English", "Art"]
    assert content.cancellations == (), "the old exceptions went with the old lessons"


def test_a_row_for_another_pupil_is_refused() -> None:
    text = (
        "pupil_ref,kind,date,end_date\n"
        "p-001,term,2026-09-01,2026-10-24\n"
        "p-002,term,2026-11-03,2026-12-26\n"
    )
    (error,) = csv_errors(text)
    assert (error.row, error.column) == (3, "pupil_ref")
    assert "for pupil 'p-002'" in error.reason


def test_a_pupils_iin_is_checked_and_never_repeated() -> None:
    text = f"pupil_iin,kind,date,end_date\n{PUPIL_IIN},term,2026-09-01,2026-10-24\n"
    content = csv_format.parse_csv(
        text, pupil_ref="p-001", iin_matches=lambda iin: iin == PUPIL_IIN
    )
    assert len(content.terms) == 1
    other = text.replace(PUPIL_IIN, "900101300017")
    (error,) = csv_errors(other, iin_matches=lambda iin: iin == PUPIL_IIN)
    assert (error.row, error.column) == (2, "pupil_iin")
    assert "900101300017" not in error.reason
    (error,) = csv_errors(text)
    assert "personal-data keys" in error.reason, "no keys: the IIN cannot be checked"
    (error,) = csv_errors(text.replace(PUPIL_IIN, "080215500017"))
    assert error.reason.startswith("invalid IIN")


def test_an_empty_file_and_an_unknown_time_zone_are_refused() -> None:
    assert csv_errors("\ufeff\n")[0].reason == "the file is empty"
    (error,) = csv_errors(HEADER + TERM, timezone="Mars/Olympus")
    assert "unknown time zone 'Mars/Olympus'" in error.reason


# --- iCalendar ----------------------------------------------------------------------------------


def test_an_ics_becomes_weekly_slots_and_exceptions() -> None:
    content = ics_format.parse_ics(ALMATY_ICS)
    assert content.timezone == "Asia/Almaty"
    assert [t.name for t in content.terms] == ["1st quarter", "2nd quarter"]
    assert [(h.start, h.end) for h in content.holidays] == [
        (date(2026, 12, 16), date(2026, 12, 17))
    ]
    slots = {(s.subject, s.weekday): s for s in content.slots}
    assert set(slots) == {
        ("Mathematics", 1),
        ("Mathematics", 3),
        ("Russian language", 2),
        ("Reading", 4),
    }
    maths = slots[("Mathematics", 1)]
    assert (maths.start, maths.duration_min, maths.teacher, maths.server) == (
        time(9),
        45,
        "Aigerim Bekova",
        "webinar.school.kz:443",
    )
    russian = slots[("Russian language", 2)]
    assert (russian.mode, russian.server, russian.teacher) == (
        LessonMode.HOME_VISIT,
        None,
        "Ерлан Сапаров",
    ), "LOCATION of a home visit is an address; DESCRIPTION names the teacher"
    assert slots[("Reading", 4)].mode is LessonMode.SELF_STUDY
    assert slots[("Reading", 4)].valid_until == date(2026, 10, 23), "COUNT=8"
    assert [(c.date, c.reason) for c in content.cancellations] == [
        (date(2026, 9, 8), "EXDATE"),
        (date(2026, 9, 17), "STATUS:CANCELLED"),
    ]
    (move,) = content.moves
    assert (move.date, move.start, move.to_date, move.to_start, move.duration_min) == (
        date(2026, 9, 15),
        time(9),
        date(2026, 9, 16),
        time(11),
        60,
    )
    (extra,) = content.extras
    assert (extra.date, extra.subject, extra.server) == (
        date(2026, 10, 30),
        "Mathematics consultation",
        "webinar.school.kz:8443",
    )


def test_the_ics_and_its_csv_twin_give_the_same_lessons() -> None:
    from_ics = expansion.all_occurrences(ics_format.parse_ics(ALMATY_ICS))
    from_csv = expansion.all_occurrences(csv_format.parse_csv(TWIN_CSV, pupil_ref="p-001"))
    assert [o.lesson() for o in from_ics] == [o.lesson() for o in from_csv]
    days = {o.local_date for o in from_ics}
    assert date(2026, 9, 8) not in days, "EXDATE"
    assert date(2026, 12, 17) not in days, "holiday"
    assert date(2026, 10, 27) not in days, "between the quarters"
    assert date(2026, 10, 30) in days, "the extra lesson in the break stands"


def test_a_utc_calendar_is_read_in_almaty_time_and_an_irregular_rule_becomes_extras() -> None:
    content = ics_format.parse_ics(UTC_ICS)
    assert content.timezone == "Asia/Almaty"
    (english,) = content.slots
    assert (english.weekday, english.start, english.server, english.teacher) == (
        0,
        time(9),
        "10.0.0.5:8080",
        "Dana Omarova",
    ), "04:00Z on Monday is 09:00 in Almaty"
    music = [e for e in content.extras if e.subject == "Music"]
    assert [e.date for e in music] == [date(2026, 9, 8), date(2026, 9, 22), date(2026, 10, 6)]
    assert {(e.start, e.mode) for e in music} == {(time(14), LessonMode.SELF_STUDY)}
    (art,) = [e for e in content.extras if e.subject == "Art"]
    assert (art.date, art.start, art.server) == (date(2026, 9, 10), time(18), "art.school.kz:443")
    assert (content.terms[0].start, content.terms[0].end) == (date(2026, 9, 7), date(2026, 10, 6))


def test_the_callers_time_zone_wins() -> None:
    content = ics_format.parse_ics(UTC_ICS, timezone="UTC")
    assert (content.timezone, content.slots[0].start) == ("UTC", time(4))


def _calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20260825T000000Z\r\n{e}END:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n"


@pytest.mark.parametrize(
    ("events", "prop", "message"),
    [
        pytest.param(
            ["UID:a\r\nDTSTART:20260907T040000Z\r\nDTEND:20260907T044500Z\r\nSUMMARY:English\r\n"],
            "LOCATION",
            "event 'English' on 2026-09-07 04:00:00+00:00: an online lesson needs its server",
            id="online without server",
        ),
        pytest.param(
            ["UID:b\r\nDTSTART;VALUE=DATE:20261104\r\nSUMMARY:Trip to the museum\r\n"],
            "X-KITKEEPER-KIND",
            "an all-day event is a term or a holiday",
            id="an all-day event",
        ),
        pytest.param(
            ["UID:c\r\nDTSTART:20260907T040000Z\r\nDTEND:20260907T044500Z\r\nSUMMARY:English\r\n"
             "LOCATION:webinar.school.kz:443\r\nRRULE:FREQ=WEEKLY\r\n"],
            "RRULE",
            "the weekly lessons never end",
            id="a rule without end or terms",
        ),
        pytest.param(
            ["UID:d\r\nDTSTART:20260907T040000Z\r\nSUMMARY:English\r\nX-KITKEEPER-MODE:self_study\r\n"],
            "DTEND",
            "a lesson needs its end (DTEND or DURATION)",
            id="no end",
        ),
        pytest.param(
            ["UID:e\r\nDTSTART:20260907T040000Z\r\nDTEND:20260907T044500Z\r\n"
             "X-KITKEEPER-MODE:by pigeon\r\nSUMMARY:English\r\n"],
            "X-KITKEEPER-MODE",
            "the mode is online, home_visit or self_study",
            id="unknown mode",
        ),
        pytest.param(
            ["UID:f\r\nDTSTART:20260907T040000Z\r\nDTEND:20260907T044500Z\r\nSUMMARY:English\r\n"
             "X-KITKEEPER-MODE:self_study\r\n",
             "UID:g\r\nDTSTART:20260907T043000Z\r\nDTEND:20260907T050000Z\r\nSUMMARY:Art\r\n"
             "X-KITKEEPER-MODE:self_study\r\n"],
            None,
            "lessons overlap: Monday 2026-09-07 09:00-09:45 English (extra) and Monday 2026-09-07 "
            "09:30-10:00 Art (extra)",
            id="overlapping events",
        ),
    ],
)  # fmt: skip
def test_a_bad_event_is_named_with_the_property_at_fault(
    events: list[str], prop: str | None, message: str
) -> None:
    (error,) = ics_errors(_calendar(*events))
    assert error.column == prop
    assert message in error.reason


def test_text_that_is_not_a_calendar_is_refused() -> None:
    (error,) = ics_errors("weekday,start\n1,09:00\n")
    assert error.reason.startswith("not an iCalendar file")


def test_a_daily_rule_becomes_a_slot_for_each_weekday() -> None:
    text = _calendar(
        "UID:d\r\nDTSTART;TZID=Asia/Almaty:20260907T100000\r\nDURATION:PT30M\r\n"
        "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20260918T235959Z\r\nSUMMARY:Exercises\r\n"
        "CATEGORIES:SELF_STUDY\r\n"
    )
    content = ics_format.parse_ics(text)
    assert [(s.weekday, s.start, s.valid_from, s.valid_until) for s in content.slots] == [
        (day, time(10), None, None) for day in range(5)
    ]
    assert len(expansion.all_occurrences(content)) == 10
