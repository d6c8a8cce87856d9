"""A schedule file's line errors say themselves in Kazakh, Russian and English (issue 13)."""

from __future__ import annotations

import pytest

from controller.platform.csvfile import FileRefusedError, FileTooLargeError
from controller.schedules import csv_format, files, ics_format
from controller.schedules.errors import ScheduleImportError

HEADER = "kind,weekday,date,end_date,start,duration_min,subject,teacher,mode,server\n"
TERM = "term,,2026-09-01,2026-10-24,,,,,,\n"


def refusal(text: str) -> ScheduleImportError:
    with pytest.raises(ScheduleImportError) as raised:
        csv_format.parse_csv(text, pupil_ref="p-001")
    return raised.value


def test_a_csv_files_line_errors_are_said_in_every_language() -> None:
    rows = (
        "lesson,,,,,,,,,\n"  # an unknown kind
        "slot,8,,,09:00,45,Mathematics,,home_visit,\n"  # a weekday number out of range
        "term,,31.02.2026,2026-10-24,,,,,,\n"  # a date that does not exist
        "slot,1,,,09:00,45,Art,,by_post,\n"  # an unknown mode
        "term,,2026-11-01,,,,,,,\n"  # a required date missing
    )
    error = refusal(HEADER + TERM + rows)
    body = error.body()
    assert body["detail"] == "nothing imported: 5 error(s) in the csv file"
    reasons = [(e["row"], e["column"], e["reason"]) for e in body["errors"]]
    assert reasons[0] == (3, "kind", "the kind is slot, term, holiday, cancel, move or extra")
    assert reasons[1][2] == "a weekday number is 1 (Monday) to 7 (Sunday)"
    assert reasons[2][2] == "this date does not exist"
    assert reasons[3][2] == "the mode is online, home_visit or self_study"
    assert reasons[4][2] == "is required in a term row"
    ru = error.body_in("ru")
    assert ru["detail"] == "ничего не импортировано: ошибок в файле csv: 5"
    assert [e["reason"] for e in ru["errors"]] == [
        "вид строки: `slot`, `term`, `holiday`, `cancel`, `move` или `extra`",
        "номер дня недели от 1 (понедельник) до 7 (воскресенье)",
        "такой даты нет",
        "формат урока: `online`, `home_visit` или `self_study`",
        "обязательно в строке вида term",
    ]
    kk = error.body_in("kk")
    assert kk["errors"][2]["reason"] == "мұндай күн жоқ"
    assert all(set(e["messages"]) == {"kk", "ru", "en"} for e in body["errors"])


def test_a_contradiction_and_a_bad_time_zone_are_said_in_every_language() -> None:
    rows = (
        "slot,вторник,,,09:00,45,Mathematics,,home_visit,\n"
        "slot,Tuesday,,,09:30,45,Physics,,home_visit,\n"
    )
    (overlap,) = refusal(HEADER + TERM + rows).errors
    assert overlap.reason.endswith("Physics (see also line 4)"), "English as before"
    assert overlap.messages()["ru"] == (
        "еженедельные уроки пересекаются: вторник 09:00-09:45 Mathematics и вторник "
        "09:30-10:15 Physics (см. также строку 4)"
    )
    with pytest.raises(ScheduleImportError) as raised:
        csv_format.parse_csv(HEADER + TERM, pupil_ref="p-001", timezone="Mars/Olympus")
    (zone,) = raised.value.errors
    assert "unknown time zone 'Mars/Olympus'" in zone.reason
    assert zone.messages()["kk"].startswith("белгісіз сағат белдеуі")
    assert refusal("\ufeff\n").errors[0].messages()["ru"] == "файл пуст"


def _calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20260825T000000Z\r\n{e}END:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n"


def test_an_icalendar_files_errors_name_the_event_in_every_language() -> None:
    no_end = (
        "UID:d\r\nDTSTART:20260907T040000Z\r\nSUMMARY:English\r\nX-KITKEEPER-MODE:self_study\r\n"
    )
    with pytest.raises(ScheduleImportError) as raised:
        ics_format.parse_ics(_calendar(no_end))
    (error,) = raised.value.errors
    assert error.reason == (
        "event 'English' on 2026-09-07 04:00:00+00:00: a lesson needs its end (DTEND or DURATION)"
    ), "English as before"
    assert error.messages()["ru"] == (
        "событие 'English' на 2026-09-07 04:00:00+00:00: уроку нужно время окончания "
        "(`DTEND` или `DURATION`)"
    )
    ru = raised.value.body_in("ru")
    assert ru["detail"] == "ничего не импортировано: ошибок в файле ics: 1"
    assert ru["errors"][0]["reason"] == error.messages()["ru"]
    with pytest.raises(ScheduleImportError) as raised:
        ics_format.parse_ics("weekday,start\n1,09:00\n")
    assert raised.value.errors[0].messages()["kk"].startswith("бұл iCalendar файлы емес")


def test_a_file_refused_whole_is_said_in_every_language() -> None:
    with pytest.raises(FileRefusedError) as not_text:
        files.decode(b"\xff\xfe bad")
    assert str(not_text.value) == "the file is not UTF-8 text"
    assert not_text.value.body_in("kk")["detail"].startswith("файл UTF-8 кодтауындағы мәтін емес")
    with pytest.raises(FileTooLargeError) as too_large:
        files.decode(b"x" * (files.MAX_UPLOAD + 1))
    assert too_large.value.status == 413
    assert str(too_large.value) == f"a schedule file is at most {files.MAX_UPLOAD} bytes"
    messages = too_large.value.messages()
    assert messages is not None
    assert messages["ru"] == f"файл расписания — не больше {files.MAX_UPLOAD} байт"
