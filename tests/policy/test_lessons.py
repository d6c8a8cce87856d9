"""Lesson windows: when disruptive work may run, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.lessons import Lesson, current, may_disrupt, minutes_lost, next_free_start, next_lesson

DAY = datetime(2026, 11, 30, tzinfo=UTC)
NINE = Lesson(DAY + timedelta(hours=9), DAY + timedelta(hours=9, minutes=45))
TEN = Lesson(DAY + timedelta(hours=10), DAY + timedelta(hours=10, minutes=45))
LESSONS = [TEN, NINE]  # any order
GUARD = timedelta(minutes=15)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("start", "minutes", "allowed"),
    [
        (at(8), 30, True),  # over at 08:30, the guard starts 08:45
        (at(8), 46, False),  # runs into the guard
        (at(8, 44), 1, True),
        (at(8, 45), 1, False),  # the guard
        (at(9, 20), 1, False),  # the lesson
        (at(9, 45), 5, False),  # the next lesson's guard starts at 09:45
        (at(10, 45), 60, True),
        (at(10, 44), 0, False),
    ],
)
def test_may_disrupt(start: datetime, minutes: int, allowed: bool) -> None:
    assert may_disrupt(start, timedelta(minutes=minutes), LESSONS, GUARD) is allowed


@pytest.mark.parametrize(
    ("now", "minutes", "expected"),
    [
        (at(7), 10, at(7)),
        (at(8, 40), 10, at(10, 45)),  # no room before 08:45, nor between the lessons
        (at(9, 10), 1, at(10, 45)),
        (at(11), 30, at(11)),
    ],
)
def test_next_free_start(now: datetime, minutes: int, expected: datetime) -> None:
    assert next_free_start(now, timedelta(minutes=minutes), LESSONS, GUARD) == expected


def test_current_and_next_lesson() -> None:
    assert current(at(9, 10), LESSONS) == NINE
    assert current(at(9, 50), LESSONS) is None
    assert next_lesson(at(9, 10), LESSONS) == TEN
    assert next_lesson(at(11), LESSONS) is None


def test_minutes_lost_counts_only_lesson_time_inside_the_outage() -> None:
    assert minutes_lost(at(9, 30), at(10, 15), LESSONS) == 15 + 15
    assert minutes_lost(at(11), at(12), LESSONS) == 0
