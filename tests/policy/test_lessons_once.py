"""Each lost lesson minute of a kit counted once across overlapping incidents, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.lessons import Lesson, minutes_lost, minutes_lost_once

DAY = datetime(2026, 11, 30, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


NINE = Lesson(at(9), at(9, 45))
TEN = Lesson(at(10), at(10, 45))
LESSONS = [TEN, NINE]


@pytest.mark.parametrize(
    ("outage", "covered", "expected"),
    [
        ((at(9), at(10)), [], 45.0),  # nothing earlier: as minutes_lost
        ((at(9), at(10)), [(at(8), at(11))], 0.0),  # all inside an earlier incident
        ((at(9), at(10)), [(at(9, 10), at(9, 20))], 35.0),
        ((at(9), at(10)), [(at(9, 10), at(9, 20)), (at(9, 15), at(9, 30))], 25.0),  # overlapping
        ((at(9), at(10)), [(at(9, 15), at(9, 30)), (at(9, 10), at(9, 20))], 25.0),  # any order
        ((at(9), at(10)), [(at(9, 10), at(9, 20)), (at(9, 12), at(9, 18))], 35.0),  # nested
        ((at(9), at(11)), [(at(9, 30), at(10, 15))], 60.0),  # two lessons: 30 + 30 left
        ((at(9), at(10)), [(at(11), at(12))], 45.0),  # an earlier span elsewhere
        ((at(9, 30), at(9, 30)), [], 0.0),  # an empty outage
        ((at(9), at(10)), [(at(9, 40), at(9, 20))], 45.0),  # a span ending before it starts
    ],
)
def test_minutes_covered_by_an_earlier_incident_are_not_counted_again(
    outage: tuple[datetime, datetime],
    covered: list[tuple[datetime, datetime]],
    expected: float,
) -> None:
    assert minutes_lost_once(*outage, LESSONS, covered) == pytest.approx(expected)


@pytest.mark.parametrize(
    "incidents",
    [
        [(at(9), at(10)), (at(9, 5), at(9, 50)), (at(9, 10), at(10, 40))],  # four at once (7.2)
        [(at(8), at(12)), (at(9), at(9, 1))],
        [(at(9, 40), at(10, 5)), (at(9), at(9, 41)), (at(10, 4), at(11))],
    ],
)
def test_the_sum_over_a_kits_incidents_is_the_lesson_time_in_their_union(
    incidents: list[tuple[datetime, datetime]],
) -> None:
    order = sorted(incidents)
    counted = [minutes_lost_once(a, b, LESSONS, order[:i]) for i, (a, b) in enumerate(order)]
    assert sum(counted) == pytest.approx(_union_minutes(order))
    assert sum(counted) <= sum(minutes_lost(a, b, LESSONS) for a, b in order)


def _union_minutes(spans: list[tuple[datetime, datetime]]) -> float:
    """Lesson minutes in the union of `spans`, minute by minute (the slow, obvious way)."""
    minutes = set()
    for a, b in spans:
        t = a
        while t < b:
            if any(lesson.start <= t < lesson.end for lesson in LESSONS):
                minutes.add(t)
            t += timedelta(minutes=1)
    return float(len(minutes))
