"""Lessons at the edges of time: midnight, term edges, holidays, summer time, the host's zone.

Tables for each rule (controller/schedules/README.md, "Lessons at the edges of time"), then
properties over random schedules in several zones and years (2024-2040): every lesson is where and
when the schedule says, lasts its duration in real time, and never overlaps another in a schedule
that `problems` finds sound; the guard, "a lesson now", the next free window and a ticket's due
date agree with the lesson list; and nothing depends on the host's TZ.
"""

from __future__ import annotations

import functools
import itertools
import os
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from controller.fleet.tables import Kit
from controller.loans.tables import LoanContract, Pupil
from controller.schedules import (
    csv_format,
    expansion,
    ics_format,
    kits,
    model,
    service,
    validation,
    versions,
)
from policy import ladder
from policy.lessons import (
    DEFAULT_GUARD,
    Lesson,
    current,
    may_disrupt,
    next_free_start,
    windows,
)
from protocol.models import Severity
from tests.support import MigratedDb

SERVER = "webinar.school.kz:443"
ZONES = (
    "Asia/Almaty",  # UTC+6 until 2024-03-01, then UTC+5 (23:00-24:00 on 29 February twice)
    "Asia/Qyzylorda",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # summer time is 30 minutes
    "America/Santiago",  # the clocks change at midnight
    "UTC",
)
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def slot(weekday: int, start: str, minutes: int = 45, **more: Any) -> dict[str, Any]:
    return {
        "weekday": weekday,
        "start": start,
        "duration_min": minutes,
        "subject": more.pop("subject", "Mathematics"),
        "server": SERVER,
        **more,
    }


def schedule(
    zone: str, first: str, last: str, *slots: dict[str, Any], **parts: Any
) -> model.ScheduleContent:
    return model.ScheduleContent.model_validate(
        {"timezone": zone, "terms": [{"start": first, "end": last}], "slots": slots, **parts}
    )


def only(content: model.ScheduleContent) -> expansion.Occurrence:
    (occurrence,) = expansion.all_occurrences(content)
    return occurrence


# --- midnight, term edges, holidays ------------------------------------------------------------


def test_an_evening_lesson_runs_past_midnight_into_the_next_day() -> None:
    # Sunday 23:30 for 90 minutes: a pupil in Almaty with a teacher eight hours behind
    content = schedule("Asia/Almaty", "2026-09-01", "2026-09-13", slot(6, "23:30", 90))
    assert validation.problems(content) == []
    lessons = expansion.expand(content, utc(2026, 9, 1), utc(2026, 9, 15))
    assert [(w.start, w.end) for w in lessons] == [
        (utc(2026, 9, 6, 18, 30), utc(2026, 9, 6, 20)),  # Sunday 6th 23:30 to Monday 01:00
        (utc(2026, 9, 13, 18, 30), utc(2026, 9, 13, 20)),
    ]
    # what the kit gets at 00:10 on Monday: the lesson running now
    monday = local("Asia/Almaty", 2026, 9, 7, 0, 10)
    assert expansion.expand(content, monday, monday + timedelta(days=14))[0] == lessons[0]
    assert current(monday, lessons) == lessons[0]
    assert ladder.due_by(monday, lessons) == lessons[0].start


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(
            {"slots": [slot(6, "23:30", 60), slot(0, "00:15", 45, subject="Physics")]},
            "slots[0], slots[1]: weekly lessons overlap: Sunday 23:30-00:30 Mathematics and "
            "Monday 00:15-01:00 Physics",
            id="Sunday night into Monday",
        ),
        pytest.param(
            {"slots": [slot(1, "23:00", 120), slot(2, "00:30", subject="Physics")]},
            "slots[0], slots[1]: weekly lessons overlap: Tuesday 23:00-01:00 Mathematics and "
            "Wednesday 00:30-01:15 Physics",
            id="Tuesday night into Wednesday",
        ),
        pytest.param(
            {
                "slots": [
                    slot(1, "23:00", 120, valid_until="2026-09-08"),
                    slot(2, "00:30", subject="Physics", valid_from="2026-09-09"),
                ]
            },
            "slots[0], slots[1]: weekly lessons overlap: Tuesday 23:00-01:00 Mathematics and "
            "Wednesday 00:30-01:15 Physics",
            id="the night of the last Tuesday and the first Wednesday",
        ),
        pytest.param(
            {
                "slots": [slot(6, "23:30", 60), slot(0, "00:15", 45, subject="Physics")],
                "terms": [{"start": "2026-09-07", "end": "2026-09-13"}],
            },
            "slots[0], slots[1]: weekly lessons overlap: Sunday 23:30-00:30 Mathematics and "
            "Monday 00:15-01:00 Physics",
            id="by the clock, whatever the terms",
        ),
    ],
)
def test_weekly_lessons_that_meet_past_midnight_are_refused_by_name(
    parts: dict[str, Any], expected: str
) -> None:
    content = model.ScheduleContent.model_validate(
        {"terms": [{"start": "2026-09-01", "end": "2026-12-25"}], **parts}
    )
    assert [f"{p.where}: {p.message}" for p in validation.problems(content)] == [expected]


def test_slots_a_day_apart_or_back_to_back_over_midnight_are_fine() -> None:
    content = schedule(
        "Asia/Almaty",
        "2026-09-01",
        "2026-12-25",
        slot(6, "23:30", 30),
        slot(0, "00:00", 45, subject="Physics"),
        slot(1, "23:00", 120, valid_until="2026-09-08"),
        slot(2, "00:30", subject="Art", valid_from="2026-09-10"),
    )
    assert validation.problems(content) == []


def test_a_person_reads_a_lesson_past_midnight_by_the_clock() -> None:
    content = schedule("Asia/Almaty", "2026-09-01", "2026-09-13", slot(6, "23:30", 90))
    stored = versions.StoredSchedule(
        pupil_ref="p-001",
        version=1,
        schedule=model.for_pupil(content, "p-001"),
        source="api",
        saved_by="admin",
        saved_at=utc(2026, 8, 1),
        in_force_version=None,
    )
    text = service.describe(stored, kit_ids=[], now=utc(2026, 9, 1))
    assert "Sunday    23:30-01:00  Mathematics" in text  # the weekly slot, not 24:30
    assert "Sunday 2026-09-06 23:30-01:00 Mathematics (weekly)" in text  # the next lessons
    assert "saved by admin at 2026-08-01 05:00 (Asia/Almaty)" in text, "in the schedule's zone"
    assert "UTC" not in text


def test_slots_whose_validity_shares_no_day_of_their_weekday_do_not_meet() -> None:
    # a new timetable from Wednesday 2 September; the old one held until Thursday 3 September:
    # their periods share two days, but no Tuesday, so the two Tuesday slots never meet
    content = schedule(
        "Asia/Almaty",
        "2026-09-01",
        "2026-12-25",
        slot(1, "09:00", valid_until="2026-09-03"),
        slot(1, "09:00", subject="Physics", valid_from="2026-09-02"),
    )
    assert validation.problems(content) == []
    assert [o.subject for o in expansion.all_occurrences(content)[:2]] == ["Mathematics", "Physics"]


def test_a_lesson_belongs_to_the_day_it_starts_on() -> None:
    # the term ends on Friday 25 December; Monday 7 September is a holiday
    content = schedule(
        "Asia/Almaty",
        "2026-09-01",
        "2026-12-25",
        slot(4, "23:30", 60),  # Friday night
        slot(6, "23:30", 60, subject="Physics"),  # Sunday night, into the holiday Monday
        holidays=[{"start": "2026-09-07", "end": "2026-09-07", "name": "a Monday off"}],
    )
    occurrences = expansion.all_occurrences(content)
    assert (occurrences[0].local_date, occurrences[0].start) == (
        date(2026, 9, 4),
        utc(2026, 9, 4, 18, 30),
    )
    # the last day of the term: its lesson takes place and ends on the 26th, outside the term
    assert (occurrences[-1].local_date, occurrences[-1].end) == (
        date(2026, 12, 25),
        utc(2026, 12, 25, 19, 30),
    )
    assert date(2026, 9, 6) in {o.local_date for o in occurrences}  # runs into the holiday


def test_the_school_year_starts_on_the_first_of_september_and_a_holiday_takes_its_weekday() -> None:
    content = schedule(
        "Asia/Almaty",
        "2026-09-01",
        "2026-10-24",
        slot(1, "09:00"),  # Tuesday 1 September: Knowledge Day, the first lesson
        slot(3, "09:00", subject="Reading"),
        holidays=[{"start": "2026-09-03", "end": "2026-09-03", "name": "a Thursday off"}],
    )
    starts = [w.start for w in expansion.expand(content, utc(2026, 8, 25), utc(2026, 9, 11))]
    assert starts == [utc(2026, 9, 1, 4), utc(2026, 9, 8, 4), utc(2026, 9, 10, 4)]


def test_a_lesson_moved_past_midnight_or_an_extra_one_ends_the_next_day() -> None:
    content = schedule(
        "Europe/Berlin",
        "2026-09-01",
        "2026-10-24",
        slot(1, "09:00"),
        moves=[{"date": "2026-09-01", "start": "09:00", "to_date": "2026-09-02",
                "to_start": "23:45", "duration_min": 60}],
        extras=[{"date": "2026-09-05", "start": "22:00", "duration_min": 240,
                 "subject": "Night sky", "mode": "home_visit"}],
    )  # fmt: skip
    assert validation.problems(content) == []
    found = [(o.origin, o.start, o.end) for o in expansion.all_occurrences(content)[:2]]
    assert found == [
        ("moved", utc(2026, 9, 2, 21, 45), utc(2026, 9, 2, 22, 45)),
        ("extra", utc(2026, 9, 5, 20), utc(2026, 9, 6, 0)),
    ]


EVENING_CSV = """kind,weekday,date,end_date,start,duration_min,subject,mode,server
term,,2026-09-01,2026-10-24,,,,,
slot,Sunday,,,23:30,90,Mathematics,online,webinar.school.kz:443
"""
EVENING_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//kitkeeper//test//EN
BEGIN:VEVENT
UID:evening
DTSTART;TZID=Asia/Almaty:20260906T233000
DTEND;TZID=Asia/Almaty:20260907T010000
RRULE:FREQ=WEEKLY;UNTIL=20261018T235959Z
SUMMARY:Mathematics
X-KITKEEPER-SERVER:webinar.school.kz:443
END:VEVENT
END:VCALENDAR
"""


def test_a_lesson_past_midnight_imports_from_csv_and_icalendar_alike() -> None:
    from_csv = csv_format.parse_csv(EVENING_CSV, pupil_ref="p-001", timezone="Asia/Almaty")
    from_ics = ics_format.parse_ics(EVENING_ICS)
    for content in (from_csv, from_ics):
        ((weekday, start, minutes),) = [(s.weekday, s.start, s.duration_min) for s in content.slots]
        assert (weekday, start, minutes) == (6, time(23, 30), 90)
        first = expansion.all_occurrences(content)[0]
        assert (first.start, first.end) == (utc(2026, 9, 6, 18, 30), utc(2026, 9, 6, 20))


# --- summer time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "start", "expected_start", "wall"),
    [
        pytest.param(
            "America/New_York", "2026-03-08", "02:30", utc(2026, 3, 8, 7, 30), "03:30-04:15",
            id="New York: 02:30 is skipped, the lesson starts at 03:30",
        ),
        pytest.param(
            "America/New_York", "2026-11-01", "01:30", utc(2026, 11, 1, 5, 30), "01:30-01:15",
            id="New York: 01:30 comes twice, the first one; 45 real minutes",
        ),
        pytest.param(
            "Europe/Berlin", "2026-03-29", "01:30", utc(2026, 3, 29, 0, 30), "01:30-03:15",
            id="Berlin: the clocks jump during the lesson",
        ),
        pytest.param(
            "Europe/Berlin", "2026-10-25", "02:30", utc(2026, 10, 25, 0, 30), "02:30-02:15",
            id="Berlin: 02:30 comes twice",
        ),
        pytest.param(
            "Australia/Lord_Howe", "2026-10-04", "02:15", utc(2026, 10, 3, 15, 45), "02:45-03:30",
            id="Lord Howe: a half-hour jump",
        ),
        pytest.param(
            "Australia/Lord_Howe", "2026-04-05", "01:45", utc(2026, 4, 4, 14, 45), "01:45-02:00",
            id="Lord Howe: a half hour twice",
        ),
        pytest.param(
            "America/Santiago", "2026-09-06", "00:00", utc(2026, 9, 6, 4), "01:00-01:45",
            id="Santiago: midnight is skipped",
        ),
        pytest.param(
            "Asia/Almaty", "2024-02-29", "23:30", utc(2024, 2, 29, 17, 30), "23:30-23:15",
            id="Almaty: UTC+6 to UTC+5, 23:30 on 29 February twice",
        ),
    ],
)  # fmt: skip
def test_a_lesson_on_a_night_the_clocks_change(
    zone: str, day: str, start: str, expected_start: datetime, wall: str
) -> None:
    weekday = date.fromisoformat(day).weekday()
    lesson = only(schedule(zone, day, day, slot(weekday, start)))
    assert lesson.start == expected_start
    assert lesson.end - lesson.start == timedelta(minutes=45)  # real minutes
    assert lesson.describe().split()[2] == wall  # by the wall clock
    assert lesson.clocks_change


def test_the_guard_is_fifteen_real_minutes_across_a_jump_of_the_clocks() -> None:
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; a lesson at 03:00
    (lesson,) = expansion.expand(
        schedule("Europe/Berlin", "2026-03-29", "2026-03-29", slot(6, "03:00")),
        utc(2026, 3, 28),
        utc(2026, 3, 30),
    )
    guard_from, _ = lesson.blocked(DEFAULT_GUARD)
    assert guard_from.astimezone(ZoneInfo("Europe/Berlin")) == local(
        "Europe/Berlin", 2026, 3, 29, 1, 45
    )
    assert may_disrupt(guard_from - timedelta(minutes=10), timedelta(minutes=10), [lesson])
    assert not may_disrupt(guard_from, timedelta(0), [lesson])


def test_lessons_that_meet_only_when_the_clocks_jump_are_refused_with_the_day() -> None:
    content = schedule(
        "Europe/Berlin",
        "2026-03-01",
        "2026-04-30",
        slot(6, "01:30", 60),  # 01:30-02:30 by the clock, 01:30-03:30 on 29 March
        slot(6, "03:00", subject="Physics"),
    )
    assert [f"{p.where}: {p.message}" for p in validation.problems(content)] == [
        "slots[0], slots[1]: lessons overlap: Sunday 2026-03-29 01:30-03:30 Mathematics (weekly) "
        "and Sunday 2026-03-29 03:00-03:45 Physics (weekly) (the clocks change that night)"
    ]
    cancelled = content.model_copy(
        update={"cancellations": (model.Cancellation(date=date(2026, 3, 29), start=time(3)),)}
    )
    assert validation.problems(cancelled) == []


def test_a_skipped_start_time_that_lands_on_another_lesson_is_refused() -> None:
    # New York, 8 March 2026: 02:30 does not exist and is read as 03:30, when Physics starts
    content = schedule(
        "America/New_York",
        "2026-03-01",
        "2026-03-31",
        slot(6, "02:30", 30),
        slot(6, "03:30", subject="Physics"),
    )
    (problem,) = validation.problems(content)
    assert problem.where == "slots[0], slots[1]"
    assert "Sunday 2026-03-08 03:30-04:00 Mathematics (weekly)" in problem.message
    assert "(the clocks change that night)" in problem.message


# --- what the kit gets -------------------------------------------------------------------------


@pytest.fixture
def session(migrated_db: MigratedDb) -> Iterator[Session]:
    """A migrated SQLite database with pupil p-001 and kit-1 lent to them."""
    made = utc(2026, 8, 1)
    with migrated_db.sessions() as session:
        session.add(
            Pupil(ref="p-001", name_enc="-", iin_enc="-", iin_index="-", grade=5,
                  program_enc="-", basis_enc="-", temporary_until_enc="-", school="№42",
                  teacher="t",
                  created_at=made)
        )  # fmt: skip
        session.add(Kit(kit_id="kit-1", online=False, last_seq=0, acked_seq=0))
        session.flush()
        session.add(
            LoanContract(number="c-1", school="№42", city="Berlin", guardian_ref="g-001",
                         pupil_ref="p-001", kit_id="kit-1", state="active",
                         start=date(2026, 3, 1), end=date(2026, 12, 31), terms_version="2026-1",
                         components=[], training_recorded=True, created_at=made)
        )  # fmt: skip
        session.commit()
        yield session


def test_the_kit_gets_a_lesson_running_past_midnight_and_the_next_one_across_a_clock_change(
    session: Session,
) -> None:
    content = schedule(
        "Europe/Berlin",
        "2026-03-01",
        "2026-04-30",
        slot(5, "23:30", 90),  # Saturday night: on 28 March it ends after the clocks jump
        slot(6, "09:00", subject="Physics"),
    )
    service.save_schedule(
        session, pupil_ref="p-001", schedule=content, actor="admin", now=utc(2026, 3, 1)
    )
    service.approve(session, pupil_ref="p-001", actor="admin", now=utc(2026, 3, 1))
    now = local("Europe/Berlin", 2026, 3, 29, 0, 10)  # in the Saturday lesson, before the jump
    sent = service.kit_schedule(session, kit_id="kit-1", now=now)
    assert sent is not None
    sent_windows = [(w.start, w.end, w.subject) for w in sent.lessons[:3]]
    assert sent_windows == [
        (utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 0), "Mathematics"),  # 23:30 CET-01:00 CET
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 7, 45), "Physics"),  # 09:00 CEST
        (utc(2026, 4, 4, 21, 30), utc(2026, 4, 4, 23), "Mathematics"),  # 23:30 CEST
    ]
    assert len(sent.lessons) == 5, "14 days: three Saturday nights and two Sundays"
    assert sent.lessons[-1].start == utc(2026, 4, 11, 21, 30) < sent.horizon_end
    following = kits.next_lesson_for_kit(session, kit_id="kit-1", now=now)
    assert following is not None
    assert following.start == utc(2026, 3, 29, 7)
    assert ladder.due_by(now, windows(sent)) == utc(2026, 3, 28, 22, 30), "already late"


# --- the host's time zone ----------------------------------------------------------------------


@contextmanager
def host_zone(name: str) -> Iterator[None]:
    """Run with the host's TZ set to `name` (and put back after)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    clock.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        clock.tzset()


HOST_ZONES = ("UTC", "Pacific/Kiritimati", "America/St_Johns", "Asia/Kathmandu")


# --- properties --------------------------------------------------------------------------------


@functools.cache
def clock_changes(zone: str, year: int) -> tuple[datetime, ...]:
    """The local wall clock (naive) the moment the zone's clocks change in `year`."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    noon = datetime(year, 1, 1, 12, tzinfo=UTC)
    while noon.year == year:
        if noon.astimezone(tz).utcoffset() != (noon + timedelta(days=1)).astimezone(tz).utcoffset():
            moment = noon
            while moment.astimezone(tz).utcoffset() == noon.astimezone(tz).utcoffset():
                moment += timedelta(minutes=15)
            tick = timedelta(microseconds=1)
            found.append((moment - tick).astimezone(tz).replace(tzinfo=None) + tick)
        noon += timedelta(days=1)
    return tuple(found)


TIMES = st.one_of(
    st.sampled_from(["00:00", "00:30", "01:00", "01:30", "01:45", "02:00", "02:15", "02:30",
                     "02:45", "03:00", "22:00", "23:00", "23:30", "23:45"]),
    st.integers(0, 24 * 60 - 1).map(lambda m: f"{m // 60:02d}:{m % 60:02d}"),
)  # fmt: skip
MINUTES = st.one_of(st.sampled_from([15, 30, 45, 60, 90, 120, 480]), st.integers(1, 480))


@st.composite
def _anchor(draw: st.DrawFn, zone: str) -> datetime:
    """A local moment to build a schedule around: often a change of the clocks or 1 September."""
    year = draw(st.integers(2024, 2040))
    changes = clock_changes(zone, year)
    kind = draw(st.sampled_from(["change", "change", "change", "year", "any"]))
    if kind == "change" and changes:
        return draw(st.sampled_from(changes))
    if kind in ("change", "year"):
        return draw(st.sampled_from([datetime(year, 9, 1), datetime(year, 12, 31, 23)]))
    return datetime(year, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60 - 1)))


@st.composite
def _when(draw: st.DrawFn, anchor: datetime, *, near: bool = False) -> tuple[int, str]:
    """A weekday and a time, often (or, if `near`, always) just around the anchor's."""
    if near or draw(st.booleans()):
        moment = anchor + timedelta(minutes=15 * draw(st.integers(-8, 4)))
        return moment.weekday(), f"{moment:%H:%M}"
    return draw(st.integers(0, 6)), draw(TIMES)


@st.composite
def _slot(draw: st.DrawFn, anchor: datetime, *, near: bool = False) -> dict[str, Any]:
    around = st.integers(-20, 20).map(lambda d: anchor.date() + timedelta(days=d))
    limits = sorted(draw(st.lists(around, min_size=2, max_size=2)))
    found = slot(*draw(_when(anchor, near=near)), draw(MINUTES))
    if draw(st.booleans()):
        found["valid_from"] = limits[0]
    if draw(st.booleans()):
        found["valid_until"] = limits[1]
    return found


@st.composite
def _moment(draw: st.DrawFn, anchor: datetime) -> tuple[date, str]:
    """A local date and time for a moved or extra lesson, often just around the anchor."""
    if draw(st.booleans()):
        near = anchor + timedelta(minutes=15 * draw(st.integers(-8, 4)))
        return near.date(), f"{near:%H:%M}"
    return anchor.date() + timedelta(days=draw(st.integers(-3, 3))), draw(TIMES)


@st.composite
def schedules(draw: st.DrawFn) -> model.ScheduleContent:
    """A schedule around a random day, often a change of the clocks or a school year's start."""
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(_anchor(zone))
    day = anchor.date()
    days = st.integers(0, 10).map(lambda d: timedelta(days=d))
    first = {"start": day - draw(days), "end": day + draw(days)}
    terms = [first]
    if draw(st.booleans()):
        start = first["end"] + timedelta(days=1) + draw(days)
        terms.append({"start": start, "end": start + draw(days)})
    holidays = [
        {"start": (start := day + timedelta(days=draw(st.integers(-10, 10)))),
         "end": start + timedelta(days=draw(st.integers(0, 3)))}
        for _ in range(draw(st.integers(0, 2)))
    ]  # fmt: skip
    slots = [draw(_slot(anchor, near=True)), *draw(st.lists(_slot(anchor), max_size=3))]
    base = model.ScheduleContent.model_validate(
        {"timezone": zone, "terms": terms, "slots": slots, "holidays": holidays}
    )
    weekly = expansion.all_occurrences(base)
    chosen = draw(st.lists(st.sampled_from(weekly), max_size=3, unique=True)) if weekly else []
    cancellations, moves = [], []
    for occurrence in chosen:
        if draw(st.booleans()):
            cancellations.append({"date": occurrence.local_date, "start": occurrence.local_start})
        else:
            to_date, to_start = draw(_moment(anchor))
            moves.append({"date": occurrence.local_date, "start": occurrence.local_start,
                          "to_date": to_date, "to_start": to_start,
                          "duration_min": draw(st.none() | MINUTES)})  # fmt: skip
    extras = []
    for _ in range(draw(st.integers(0, 2))):
        on, at = draw(_moment(anchor))
        extras.append({"date": on, "start": at, "duration_min": draw(MINUTES),
                       "subject": "Extra", "mode": "self_study"})  # fmt: skip
    return base.model_copy(
        update={
            "cancellations": tuple(model.Cancellation.model_validate(c) for c in cancellations),
            "moves": tuple(model.Move.model_validate(m) for m in moves),
            "extras": tuple(model.Extra.model_validate(e) for e in extras),
        }
    )


def _first_moment(day: date, at: time, zone: str) -> tuple[datetime, timedelta]:
    """When a local time happens by RFC 5545 (the first of two; a skipped one with the offset
    before the jump), worked out without zoneinfo's fold, and how far the clocks jumped there."""
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, at)
    before = tz.utcoffset(wall - timedelta(hours=12))
    after = tz.utcoffset(wall + timedelta(hours=12))
    assert before is not None
    assert after is not None
    real = sorted(
        (wall - offset).replace(tzinfo=UTC)
        for offset in {before, after}
        if (wall - offset).replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None) == wall
    )
    if real:
        return real[0], timedelta(0)
    return (wall - before).replace(tzinfo=UTC), after - before


def _duration(content: model.ScheduleContent, o: expansion.Occurrence) -> int:
    kind, index = o.source
    if kind == "slots":
        return content.slots[index].duration_min
    if kind == "extras":
        return content.extras[index].duration_min
    move = content.moves[index]
    return (
        move.duration_min
        or content.slots[expansion.slot_at(content, move.date, move.start) or 0].duration_min
    )


def _weekly_expected(content: model.ScheduleContent) -> set[tuple[date, int]]:
    """Which (day, slot) weekly lessons take place, worked out day by day."""
    gone = {(c.date, c.start) for c in content.cancellations} | {
        (m.date, m.start) for m in content.moves
    }
    found: set[tuple[date, int]] = set()
    for term in content.terms:
        day = term.start
        while day <= term.end:
            if not any(h.start <= day <= h.end for h in content.holidays):
                for i, s in enumerate(content.slots):
                    if (
                        s.weekday == day.weekday()
                        and s.holds_on(day)
                        and (day, s.start) not in gone
                    ):
                        found.add((day, i))
            day += timedelta(days=1)
    return found


def _meet(a: model.Slot, b: model.Slot, days: list[date]) -> bool:
    """Whether two weekly slots ever run at once by the clock (naive local times), day by day."""

    def spans(s: model.Slot) -> list[tuple[datetime, datetime]]:
        return [
            (start := datetime.combine(d, s.start), start + timedelta(minutes=s.duration_min))
            for d in days
            if d.weekday() == s.weekday and s.holds_on(d)
        ]

    return any(x0 < y1 and y0 < x1 for x0, x1 in spans(a) for y0, y1 in spans(b))


@PROPERTY
@given(content=schedules(), window=st.tuples(st.integers(-15, 15), st.integers(0, 72 * 60)))
def test_every_lesson_is_where_and_when_the_schedule_says(
    content: model.ScheduleContent, window: tuple[int, int]
) -> None:
    occurrences = expansion.all_occurrences(content)
    for o in occurrences:
        start, jump = _first_moment(o.local_date, o.local_start, content.timezone)
        assert o.start == start, f"{o.describe()} starts at {o.start}, not {start}"
        wall = o.start.astimezone(ZoneInfo(content.timezone)).replace(tzinfo=None)
        assert wall == datetime.combine(o.local_date, o.local_start) + jump
        assert o.end - o.start == timedelta(minutes=_duration(content, o)), "real minutes"
    weekly = {(o.local_date, o.source[1]) for o in occurrences if o.origin == "slot"}
    assert weekly == _weekly_expected(content), "in the terms, not on holidays, not cancelled"
    assert len(weekly) == sum(o.origin == "slot" for o in occurrences)
    assert occurrences == sorted(occurrences, key=lambda o: (o.start, o.end, o.subject, o.source))
    # any range: what overlaps it, the lesson running at its start included
    anchor = content.terms[0].start
    since = datetime.combine(anchor, time(), tzinfo=UTC) + timedelta(days=window[0])
    until = since + timedelta(minutes=window[1])
    assert expansion.expand(content, since, until) == [
        o.lesson() for o in occurrences if o.start < until and since < o.end and since < until
    ]
    found = validation.problems(content)
    if not found:
        for a, b in itertools.pairwise(occurrences):
            assert a.end <= b.start, f"{a.describe()} and {b.describe()} overlap"
    days = [anchor + timedelta(days=d) for d in range(-45, 75)]
    said = {p.parts for p in found if p.message.startswith("weekly lessons overlap")}
    for i, one in enumerate(content.slots):
        for j in range(i + 1, len(content.slots)):
            meet = _meet(one, content.slots[j], days)
            assert ((("slots", i), ("slots", j)) in said) is meet, (one, content.slots[j])


@st.composite
def _moments(draw: st.DrawFn, lessons: list[Lesson]) -> datetime:
    near_a_lesson = draw(st.booleans())
    if lessons and near_a_lesson:
        lesson = draw(st.sampled_from(lessons))
        edge = draw(st.sampled_from([lesson.start, lesson.end, lesson.start - DEFAULT_GUARD]))
        return edge + draw(st.sampled_from([-1, 0, 1, 60])) * timedelta(microseconds=1)
    return draw(st.datetimes(datetime(2023, 12, 1), datetime(2041, 1, 31), timezones=st.just(UTC)))


@PROPERTY
@given(content=schedules(), data=st.data())
def test_the_guard_the_next_free_window_and_due_dates_follow_the_lessons(
    content: model.ScheduleContent, data: st.DataObject
) -> None:
    lessons = [o.lesson() for o in expansion.all_occurrences(content)]
    duration = timedelta(minutes=data.draw(st.integers(0, 120)))
    for _ in range(8):
        now = data.draw(_moments(lessons))
        running = [w for w in lessons if w.start <= now < w.end]
        guarded = [w for w in lessons if w.start - DEFAULT_GUARD <= now < w.end]
        assert (current(now, lessons) is not None) == bool(running)
        assert may_disrupt(now, timedelta(0), lessons) == (not guarded)
        free = next_free_start(now, duration, lessons)
        assert free >= now
        assert may_disrupt(free, duration, lessons), "the next free window is free"
        assert all(
            not may_disrupt(c, duration, lessons)
            for c in [now, *(w.end for w in lessons if now < w.end)]
            if c < free
        ), "and none comes earlier"
        upcoming = [w.start for w in lessons if w.start > now]
        expected = running[0].start if running else min(upcoming, default=None)
        assert ladder.due_by(now, lessons) == expected
        soon = bool(running) or (bool(upcoming) and min(upcoming) - now <= timedelta(hours=2))
        urgent = ladder.priority(now, lessons, Severity.WARNING) is ladder.Priority.URGENT
        assert urgent is soon


@settings(PROPERTY, max_examples=40)
@given(content=schedules(), now=st.datetimes(datetime(2024, 1, 1), datetime(2040, 12, 31)))
def test_the_hosts_time_zone_changes_nothing(content: model.ScheduleContent, now: datetime) -> None:
    moment = now.replace(tzinfo=UTC)
    seen = []
    for name in HOST_ZONES:
        with host_zone(name):
            lessons = expansion.expand(
                content, moment - timedelta(days=30), moment + timedelta(days=30)
            )
            seen.append(
                (
                    expansion.all_occurrences(content),
                    [o.describe() for o in expansion.all_occurrences(content)],
                    validation.problems(content),
                    lessons,
                    next_free_start(moment, timedelta(minutes=20), lessons),
                    ladder.due_by(moment, lessons),
                )
            )
    assert all(s == seen[0] for s in seen)
