"""Lesson windows as properties: any lessons (overlapping, nested, back to back), any guard.

"A lesson now", "in a lesson or its guard", the next free window and a ticket's due date must
agree with the plain list of windows at any moment, the window edges included; the schedules'
side (zones, summer time, midnight) is in tests/controller/test_schedules_time_edges.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import ladder
from policy.lessons import Lesson, current, may_disrupt, minutes_lost, next_free_start
from protocol.models import Severity

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)


@st.composite
def _lessons(draw: st.DrawFn) -> list[Lesson]:
    lessons: list[Lesson] = []
    for _ in range(draw(st.integers(0, 8))):
        start = EPOCH + draw(st.integers(0, 3 * 24 * 60)) * MINUTE
        lessons.append(Lesson(start, start + draw(st.integers(1, 8 * 60)) * MINUTE))
    return lessons


@st.composite
def _moment(draw: st.DrawFn, lessons: list[Lesson], guard: timedelta) -> datetime:
    near_a_lesson = draw(st.booleans())
    if lessons and near_a_lesson:
        lesson = draw(st.sampled_from(lessons))
        edge = draw(st.sampled_from([lesson.start, lesson.end, lesson.start - guard]))
        return edge + draw(st.sampled_from([-1, 0, 1])) * TICK
    return EPOCH + draw(st.integers(-60, 4 * 24 * 60)) * MINUTE


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    lessons=_lessons(),
    guard=st.integers(0, 30).map(lambda m: m * MINUTE),
    duration=st.integers(0, 180).map(lambda m: m * MINUTE),
    data=st.data(),
)
def test_every_answer_agrees_with_the_list_of_windows(
    lessons: list[Lesson], guard: timedelta, duration: timedelta, data: st.DataObject
) -> None:
    for _ in range(6):
        now = data.draw(_moment(lessons, guard))
        running = [w for w in lessons if w.start <= now < w.end]
        blocked = [w for w in lessons if w.start - guard <= now < w.end]
        assert (current(now, lessons) in running) if running else current(now, lessons) is None
        assert may_disrupt(now, timedelta(0), lessons, guard) == (not blocked)
        work_end = now + max(duration, TICK)
        clear = not any(w.start - guard < work_end and now < w.end for w in lessons)
        assert may_disrupt(now, duration, lessons, guard) is clear
        free = next_free_start(now, duration, lessons, guard)
        assert free >= now
        assert may_disrupt(free, duration, lessons, guard), "the next free window is free"
        earlier = [now, *(w.end for w in lessons if now < w.end < free)]
        assert not any(may_disrupt(c, duration, lessons, guard) for c in earlier if c < free)
        upcoming = [w.start for w in lessons if w.start > now]
        first_running = min((w.start for w in running), default=None)
        assert ladder.due_by(now, lessons) == (first_running or min(upcoming, default=None))
        urgent = bool(running) or any(s - now <= timedelta(hours=2) for s in upcoming)
        priority = ladder.priority(now, lessons, Severity.WARNING)
        assert (priority is ladder.Priority.URGENT) is urgent
    outage = sorted([data.draw(_moment(lessons, guard)), data.draw(_moment(lessons, guard))])
    lost = sum(
        (max(timedelta(0), min(outage[1], w.end) - max(outage[0], w.start)) for w in lessons),
        timedelta(0),
    )
    assert minutes_lost(outage[0], outage[1], lessons) == pytest.approx(lost / MINUTE)
