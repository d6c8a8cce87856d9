"""Not competing with a lesson: the token bucket's cap, lesson gating, the sync pausing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.content.pacing import TokenBucket, lesson_on
from policy.lessons import Lesson
from protocol.content import ContentStatus, SyncState
from protocol.models import LessonMode
from tests.agent.content.lab import lab

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_token_bucket_holds_the_average_rate_after_its_burst() -> None:
    bucket = TokenBucket(1000, burst=500, now=0.0)
    assert bucket.wait(500, 0.0) == 0.0  # the burst
    assert bucket.wait(1000, 0.0) == pytest.approx(1.0)  # then 1000 bytes take a second
    assert bucket.wait(250, 1.5) == pytest.approx(0.0)  # 0.5 s later: 500 tokens back, 250 used
    total, clock = 0.0, 2.0
    for _ in range(100):  # 100 kB at 1 kB/s: about 100 s, whatever the pieces
        clock += bucket.wait(1000, clock)
        total += 1000
    assert total / (clock - 2.0) == pytest.approx(1000, rel=0.02)


def test_no_cap_never_waits() -> None:
    bucket = TokenBucket(0, now=0.0)
    assert bucket.wait(10**9, 0.0) == 0.0


@pytest.mark.parametrize(
    ("start_min", "minutes", "mode", "on"),
    [
        (-10, 45, LessonMode.ONLINE, True),  # running
        (0, 45, LessonMode.ONLINE, True),  # starts now
        (-45, 45, LessonMode.ONLINE, False),  # just over
        (5, 45, LessonMode.ONLINE, False),  # not yet
        (-10, 45, LessonMode.HOME_VISIT, False),  # a home visit needs no network
    ],
)
def test_lesson_gating_follows_the_schedule(
    start_min: int, minutes: int, mode: LessonMode, on: bool
) -> None:
    start = NOW + timedelta(minutes=start_min)
    lessons = [Lesson(start, start + timedelta(minutes=minutes), mode)]
    assert (lesson_on(NOW, lessons) is not None) is on


def test_no_download_during_an_online_lesson(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    lesson = Lesson(now - timedelta(minutes=5), now + timedelta(minutes=40))
    with lab(tmp_path) as kit:
        blob = kit.blob(os.urandom(200_000))
        schedule = [lesson]  # the schedule the kit holds
        sync = kit.sync(lessons=lambda: schedule)
        sync.on_pointer(kit.publish(kit.manifest(1, [blob])))
        sent = kit.served.sent
        assert sync.run_once().state is SyncState.WAITING_LESSON
        assert kit.served.sent - sent < 10_000, "only the manifest moved"
        status = ContentStatus.model_validate(kit.events[-1].data)
        assert status.state is SyncState.WAITING_LESSON
        assert status.bytes_to_go == 200_000
        events = len(kit.events)
        assert sync.run_once().state is SyncState.WAITING_LESSON
        assert len(kit.events) == events, "said once, not at every look"
        schedule.clear()  # the lesson is over
        assert sync.run_once().state is SyncState.SYNCED
