"""The schedule model, pure: terms, weekly slots, exceptions, time zones, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from controller.schedules import expansion, model, validation
from controller.schedules.errors import ScheduleInvalidError
from policy.lessons import Lesson
from protocol.models import LessonMode

SERVER = "webinar.school.kz:443"
MATHS = {
    "weekday": 1,  # Tuesday
    "start": "09:00",
    "duration_min": 45,
    "subject": "Mathematics",
    "teacher": "Aigerim Bekova",
    "server": SERVER,
}
READING = {
    "weekday": 3,  # Thursday
    "start": "10:00",
    "duration_min": 40,
    "subject": "Reading",
    "mode": "self_study",
}
QUARTERS = [
    {"start": "2026-09-01", "end": "2026-10-24", "name": "1st quarter"},
    {"start": "2026-11-03", "end": "2026-12-26", "name": "2nd quarter"},
]


def schedule(**parts: Any) -> model.ScheduleContent:
    return model.ScheduleContent.model_validate(
        {"terms": QUARTERS, "slots": [MATHS, READING]} | parts
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def starts(content: model.ScheduleContent, first: datetime, last: datetime) -> list[datetime]:
    return [lesson.start for lesson in expansion.expand(content, first, last)]


# --- time zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("Asia/Almaty", date(2026, 9, 1), utc(2026, 9, 1, 4)),  # UTC+5 since 2024
        ("Asia/Almaty", date(2026, 12, 22), utc(2026, 12, 22, 4)),  # no summer time
        ("Europe/Berlin", date(2026, 10, 20), utc(2026, 10, 20, 7)),  # CEST, UTC+2
        ("Europe/Berlin", date(2026, 11, 3), utc(2026, 11, 3, 8)),  # CET after 25 October
        ("UTC", date(2026, 9, 1), utc(2026, 9, 1, 9)),
    ],
)
def test_local_times_become_utc_through_the_zones_rules(
    zone: str, day: date, expected: datetime
) -> None:
    content = schedule(timezone=zone)
    lessons = expansion.expand(
        content, expected - timedelta(hours=12), expected + timedelta(hours=1)
    )
    assert [lesson.start for lesson in lessons] == [expected]
    assert lessons[0].end - lessons[0].start == timedelta(minutes=45)
    assert lessons[0].start.astimezone(ZoneInfo(zone)).date() == day


def test_a_lesson_is_what_the_kit_needs_and_nothing_about_the_teacher() -> None:
    (lesson,) = expansion.expand(schedule(), utc(2026, 9, 1), utc(2026, 9, 2))
    assert lesson == Lesson(
        utc(2026, 9, 1, 4), utc(2026, 9, 1, 4, 45), LessonMode.ONLINE, "Mathematics", SERVER
    )


# --- terms, holidays, exceptions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "first", "last", "expected"),
    [
        pytest.param({}, utc(2026, 9, 1), utc(2026, 9, 8), [(9, 1, 4), (9, 3, 5)], id="a week"),
        pytest.param({}, utc(2026, 10, 26), utc(2026, 11, 2), [], id="between quarters"),
        pytest.param({}, utc(2026, 8, 20), utc(2026, 9, 1), [], id="before the first term"),
        pytest.param(
            {"holidays": [{"start": "2026-09-03", "end": "2026-09-04", "name": "Day off"}]},
            utc(2026, 9, 1),
            utc(2026, 9, 8),
            [(9, 1, 4)],
            id="holiday",
        ),
        pytest.param(
            {"cancellations": [{"date": "2026-09-01", "start": "09:00", "reason": "ill"}]},
            utc(2026, 9, 1),
            utc(2026, 9, 8),
            [(9, 3, 5)],
            id="cancelled",
        ),
        pytest.param(
            {"moves": [{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                        "to_start": "15:00", "duration_min": 60}]},
            utc(2026, 9, 1),
            utc(2026, 9, 8),
            [(9, 2, 10), (9, 3, 5)],
            id="moved",
        ),
        pytest.param(
            {"extras": [{"date": "2026-10-30", "start": "11:00", "duration_min": 30,
                         "subject": "Consultation", "server": SERVER}]},
            utc(2026, 10, 26),
            utc(2026, 11, 2),
            [(10, 30, 6)],
            id="extra lesson outside the terms",
        ),
    ],
)  # fmt: skip
def test_terms_holidays_and_exceptions_decide_which_lessons_take_place(
    parts: dict[str, Any],
    first: datetime,
    last: datetime,
    expected: list[tuple[int, int, int]],
) -> None:
    assert starts(schedule(**parts), first, last) == [utc(2026, m, d, h) for m, d, h in expected]


def test_a_moved_lesson_keeps_its_subject_and_takes_its_new_duration() -> None:
    content = schedule(
        moves=[{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                "to_start": "15:30", "duration_min": 60, "reason": "teacher at a seminar"}]
    )  # fmt: skip
    (moved,) = [o for o in expansion.all_occurrences(content) if o.origin == "moved"]
    assert (moved.subject, moved.server, moved.teacher) == ("Mathematics", SERVER, "Aigerim Bekova")
    assert moved.end - moved.start == timedelta(minutes=60)
    assert moved.moved_from == (date(2026, 9, 1), time(9))
    assert moved.local_date == date(2026, 9, 2)


def test_a_slot_may_hold_for_part_of_the_year() -> None:
    slot = READING | {"valid_from": "2026-09-10", "valid_until": "2026-09-24"}
    content = schedule(slots=[slot])
    assert starts(content, utc(2026, 9, 1), utc(2026, 12, 31)) == [
        utc(2026, 9, 10, 5),
        utc(2026, 9, 17, 5),
        utc(2026, 9, 24, 5),
    ]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (utc(2026, 9, 1, 4, 30), utc(2026, 9, 1, 5), [utc(2026, 9, 1, 4)]),  # running at start
        (utc(2026, 9, 1, 3), utc(2026, 9, 1, 4), []),  # starts at the end: not in [start, end)
        (utc(2026, 9, 1, 4, 45), utc(2026, 9, 1, 6), []),  # ended at start
        (utc(2026, 9, 1, 5), utc(2026, 9, 1, 4), []),  # an empty range
    ],
)
def test_expand_gives_the_lessons_that_overlap_the_range(
    first: datetime, last: datetime, expected: list[datetime]
) -> None:
    assert starts(schedule(), first, last) == expected


def test_lessons_come_sorted_and_the_whole_schedule_can_be_listed() -> None:
    content = schedule(
        extras=[{"date": "2026-09-01", "start": "08:00", "duration_min": 30,
                 "subject": "Consultation", "mode": "home_visit"}]
    )  # fmt: skip
    lessons = expansion.all_occurrences(content)
    assert [o.start for o in lessons] == sorted(o.start for o in lessons)
    assert lessons[0].subject == "Consultation"
    # 8 weeks in the 1st quarter and 8 in the 2nd, two lessons a week, one extra
    assert len(lessons) == 2 * (8 + 8) + 1
    assert (expansion.first_day(content), expansion.last_day(content)) == (
        date(2026, 9, 1),
        date(2026, 12, 26),
    )


def test_expand_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expansion.expand(schedule(), datetime(2026, 9, 1), utc(2026, 9, 2))


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "where", "message"),
    [
        pytest.param(
            {"slots": [MATHS, MATHS | {"start": "09:30", "subject": "Physics"}]},
            "slots[0], slots[1]",
            "weekly lessons overlap: Tuesday 09:00-09:45 Mathematics and Tuesday 09:30-10:15 "
            "Physics",
            id="two slots",
        ),
        pytest.param(
            {"extras": [{"date": "2026-09-03", "start": "10:30", "duration_min": 30,
                         "subject": "Art", "server": SERVER}]},
            "slots[1], extras[0]",
            "lessons overlap: Thursday 2026-09-03 10:00-10:40 Reading (weekly) and Thursday "
            "2026-09-03 10:30-11:00 Art (extra)",
            id="a slot and an extra",
        ),
        pytest.param(
            {"moves": [{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-03",
                        "to_start": "09:30"}]},
            "moves[0], slots[1]",
            "Thursday 2026-09-03 09:30-10:15 Mathematics (moved)",
            id="moved onto another lesson",
        ),
        pytest.param(
            {"cancellations": [{"date": "2026-09-02", "start": "09:00"}]},
            "cancellations[0]",
            "cancels a lesson that does not take place: no weekly lesson starts on Wednesday "
            "2026-09-02 at 09:00",
            id="cancel a lesson that is not",
        ),
        pytest.param(
            {"cancellations": [{"date": "2026-10-27", "start": "09:00"}]},
            "cancellations[0]",
            "2026-10-27 is outside every term",
            id="cancel between terms",
        ),
        pytest.param(
            {"holidays": [{"start": "2026-09-01", "end": "2026-09-01", "name": "Knowledge Day"}],
             "moves": [{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                        "to_start": "09:00"}]},
            "moves[0]",
            "moves a lesson that does not take place: 2026-09-01 is in the holiday Knowledge Day",
            id="move a lesson on a holiday",
        ),
        pytest.param(
            {"cancellations": [{"date": "2026-09-01", "start": "09:00"}],
             "moves": [{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                        "to_start": "09:00"}]},
            "cancellations[0], moves[0]",
            "the lesson of 2026-09-01 at 09:00 is cancelled or moved twice",
            id="cancelled and moved",
        ),
        pytest.param(
            {"moves": [{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                        "to_start": "23:30"}],
             "slots": [MATHS, READING, MATHS | {"weekday": 3, "start": "00:00"}]},
            "moves[0], slots[2]",
            "Wednesday 2026-09-02 23:30-00:15 Mathematics (moved) and Thursday 2026-09-03 "
            "00:00-00:45 Mathematics (weekly)",
            id="moved past midnight onto the next day's lesson",
        ),
        pytest.param(
            {"terms": [QUARTERS[0], {"start": "2026-10-20", "end": "2026-12-26"}]},
            "terms[0], terms[1]",
            "terms overlap: 2026-09-01 to 2026-10-24 and 2026-10-20 to 2026-12-26",
            id="overlapping terms",
        ),
        pytest.param({"terms": []}, "", "weekly lessons need a term", id="no term"),
    ],
)  # fmt: skip
def test_problems_say_what_is_wrong_and_where(
    parts: dict[str, Any], where: str, message: str
) -> None:
    found = validation.problems(schedule(**parts))
    assert [p.where for p in found] == [where]
    assert message in found[0].message
    with pytest.raises(ScheduleInvalidError) as raised:
        validation.check(schedule(**parts))
    assert message in str(raised.value)


def test_a_sound_schedule_has_no_problems_and_back_to_back_lessons_are_fine() -> None:
    after = MATHS | {"start": "09:45", "subject": "Physics"}
    assert validation.problems(schedule(slots=[MATHS, after, READING])) == []
    assert validation.problems(model.ScheduleContent()) == [], "an empty draft is fine"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"server": None}, "server", "an online lesson needs its server"),
        ({"mode": "home_visit"}, "server", "only online lessons have a server"),
        ({"server": "webinar.school.kz"}, "server", "the port is missing"),
        ({"server": "bad host:443"}, "server", "bad host name"),
        ({"server": "webinar.school.kz:99999"}, "server", "port is 1 to 65535"),
        ({"duration_min": 481}, "duration_min", "less than or equal to 480"),
        ({"start": "25:00"}, "start", "does not exist"),
        ({"start": "nine"}, "start", "HH:MM"),
        ({"weekday": 7}, "weekday", "less than or equal to 6"),
        ({"duration_min": 0}, "duration_min", "greater than or equal to 1"),
        ({"subject": " "}, "subject", "at least 1 character"),
    ],
)
def test_a_slot_with_a_bad_field_is_refused_with_the_field_named(
    changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        model.Slot.model_validate(MATHS | changes)
    errors = raised.value.errors()
    assert errors[0]["loc"] == (field,)
    assert message in errors[0]["msg"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("webinar.school.kz:443", "webinar.school.kz:443"),
        ("https://Webinar.School.kz/room/42?x=1", "webinar.school.kz:443"),
        ("http://10.0.0.5/", "10.0.0.5:80"),
        ("https://webinar.school.kz:8443/room", "webinar.school.kz:8443"),
        ("[2001:db8::5]:443", "[2001:db8::5]:443"),
    ],
)
def test_a_server_is_stored_as_host_and_port(given: str, stored: str) -> None:
    assert model.Slot.model_validate(MATHS | {"server": given}).server == stored


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Asia/Almati'"):
        schedule(timezone="Asia/Almati")


def test_approval_records_who_and_when_and_a_draft_has_neither() -> None:
    draft = model.for_pupil(schedule(drawn_up_by="G. Akhmetova"), "p-001")
    assert draft.status is model.ScheduleStatus.DRAFT
    at = utc(2026, 8, 28, 6)
    done = model.approved(draft, by="S. Nurlanov, director", at=at)
    assert (done.status, done.approved_by, done.approved_at) == (
        model.ScheduleStatus.APPROVED,
        "S. Nurlanov, director",
        at,
    )
    assert done.content() == draft.content(), "approval changes nothing that was drawn up"
    with pytest.raises(ValidationError, match="not been approved"):
        model.PupilSchedule.model_validate(draft.model_dump() | {"approved_by": "someone"})
    with pytest.raises(ValidationError, match="says who approved it"):
        model.PupilSchedule.model_validate(draft.model_dump() | {"status": "approved"})


def test_the_schedule_round_trips_through_json() -> None:
    content = schedule(
        holidays=[{"start": "2026-12-16", "end": "2026-12-17", "name": "Independence Day"}],
        cancellations=[{"date": "2026-09-01", "start": "09:00"}],
        extras=[{"date": "2026-10-30", "start": "11:00", "duration_min": 30,
                 "subject": "Consultation", "server": SERVER}],
    )  # fmt: skip
    dumped = content.model_dump(mode="json")
    assert dumped["slots"][0]["start"] == "09:00"
    assert model.ScheduleContent.model_validate(dumped) == content
