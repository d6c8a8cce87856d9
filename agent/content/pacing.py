"""Not competing with a lesson (pure parts): a token bucket for the bandwidth cap, lesson gating.

The sync asks `TokenBucket.wait(n)` how long to sleep before taking `n` more bytes, and
`lesson_on(now, lessons)` whether an online lesson is running (then it pauses: `waiting_lesson`).
Neither reads a clock: the caller passes `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policy.lessons import Lesson
from protocol.models import LessonMode


class TokenBucket:
    """At most `rate` bytes/s on average, with bursts up to `burst` bytes (rate 0: no cap)."""

    def __init__(self, rate: float, *, burst: float | None = None, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate / 4, 64 * 1024)
        self._tokens = self.burst
        self._at = now

    def wait(self, n: int, now: float) -> float:
        """Take `n` bytes' worth of tokens at monotonic time `now`; seconds to sleep first."""
        if self.rate <= 0:
            return 0.0
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= n
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate


def lesson_on(now: datetime, lessons: Iterable[Lesson]) -> Lesson | None:
    """The online lesson running at `now`, if any (sync pauses during it)."""
    for lesson in lessons:
        if lesson.mode is LessonMode.ONLINE and lesson.start <= now < lesson.end:
            return lesson
    return None
