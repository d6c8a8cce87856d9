"""Lesson windows and when disruptive work may run: pure, shared by agent and controller.

A lesson is a window in UTC during which the pupil needs the kit. Nothing disruptive (a reboot, a
network or driver restart) may start inside a lesson or within `guard` before it, and it must be
over before the guard time of the next one. Every function takes `now`; none reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.models import LessonMode, LessonWindow, Schedule

DEFAULT_GUARD = timedelta(minutes=15)
"""Nothing disruptive this close before a lesson: a failed step needs time to be put right."""


@dataclass(frozen=True, slots=True)
class Lesson:
    """One lesson, in UTC; `server` is the online lesson's host:port."""

    start: datetime
    end: datetime
    mode: LessonMode = LessonMode.ONLINE
    subject: str = ""
    server: str | None = None

    def blocked(self, guard: timedelta) -> tuple[datetime, datetime]:
        """The span in which nothing disruptive may run: the guard time, then the lesson."""
        return self.start - guard, self.end


def from_window(window: LessonWindow) -> Lesson:
    """The pure form of one lesson as the kit receives it."""
    return Lesson(window.start, window.end, window.mode, window.subject, window.server)


def windows(schedule: Schedule) -> list[Lesson]:
    """A received schedule's lessons in the pure form, by start time."""
    return sorted((from_window(w) for w in schedule.lessons), key=lambda lesson: lesson.start)


def ordered(lessons: Iterable[Lesson]) -> list[Lesson]:
    """The lessons by start time."""
    return sorted(lessons, key=lambda lesson: (lesson.start, lesson.end))


def current(now: datetime, lessons: Iterable[Lesson]) -> Lesson | None:
    """The lesson running at `now`, if any."""
    for lesson in ordered(lessons):
        if lesson.start <= now < lesson.end:
            return lesson
    return None


def next_lesson(
    now: datetime, lessons: Iterable[Lesson], *, mode: LessonMode | None = None
) -> Lesson | None:
    """The first lesson that starts after `now` (of `mode`, if given)."""
    for lesson in ordered(lessons):
        if lesson.start > now and (mode is None or lesson.mode == mode):
            return lesson
    return None


def may_disrupt(
    start: datetime,
    duration: timedelta,
    lessons: Iterable[Lesson],
    guard: timedelta = DEFAULT_GUARD,
) -> bool:
    """Whether work in [start, start + duration) stays clear of every lesson and its guard time."""
    end = start + max(duration, timedelta(0))
    for lesson in lessons:
        blocked_from, blocked_to = lesson.blocked(guard)
        if start < blocked_to and blocked_from < max(end, start + timedelta(microseconds=1)):
            return False
    return True


def next_free_start(
    now: datetime,
    duration: timedelta,
    lessons: Sequence[Lesson],
    guard: timedelta = DEFAULT_GUARD,
) -> datetime:
    """The earliest time at or after `now` when work of `duration` disturbs no lesson."""
    candidate = now
    for lesson in ordered(lessons):
        blocked_from, blocked_to = lesson.blocked(guard)
        if blocked_to <= candidate:
            continue
        if candidate + max(duration, timedelta(microseconds=1)) <= blocked_from:
            break
        candidate = max(candidate, blocked_to)
    return candidate


def minutes_lost(outage_start: datetime, outage_end: datetime, lessons: Iterable[Lesson]) -> float:
    """Lesson minutes that fall inside an outage [outage_start, outage_end)."""
    total = timedelta(0)
    for lesson in lessons:
        overlap = min(outage_end, lesson.end) - max(outage_start, lesson.start)
        if overlap > timedelta(0):
            total += overlap
    return total.total_seconds() / 60


def minutes_lost_once(
    outage_start: datetime,
    outage_end: datetime,
    lessons: Iterable[Lesson],
    covered: Iterable[tuple[datetime, datetime]] = (),
) -> float:
    """Lesson minutes inside the outage [outage_start, outage_end) not inside any `covered` span.

    `covered` are the spans of the kit's earlier incidents (opened before this one): a lost
    lesson minute belongs to the earliest open incident covering it, so that over a kit's
    overlapping incidents each minute is counted once and their sum is the lesson time inside
    their union.
    """
    spans = sorted((max(a, outage_start), min(b, outage_end)) for a, b in covered)
    total = timedelta(0)
    for lesson in lessons:
        start, end = max(outage_start, lesson.start), min(outage_end, lesson.end)
        if end <= start:
            continue
        total += end - start
        cursor = start  # take away what the covered spans hold of [start, end), each part once
        for span_start, span_end in spans:
            a, b = max(span_start, cursor), min(span_end, end)
            if b > a:
                total -= b - a
                cursor = b
    return total.total_seconds() / 60
