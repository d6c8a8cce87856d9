"""Which kits a pupil has, the pupil's lessons, and what each kit gets of them.

The pupil's kit is found through its contract: a contract in state `signed`, `active` or
`return_due` names the pupil and the kit. The kit gets only start, end, mode, subject and server
of each lesson in force in `[now, now + horizon)` (a lesson running now included), never a
teacher's or the pupil's name. Read-only: nothing here changes the database.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.loans import queries as loans
from controller.schedules import expansion, versions
from policy.lessons import Lesson
from protocol.models import LessonWindow, Schedule

MAX_WINDOWS: Final = 1000
"""The most lessons one schedule message carries (protocol.models.Schedule)."""
LOOKAHEAD_STEP: Final = timedelta(days=31)


def occurrences_for_pupil(
    session: Session, pupil_ref: str, start: datetime, end: datetime, *, draft: bool = False
) -> list[expansion.Occurrence]:
    """The lessons in force (or, with `draft`, of the current version) overlapping [start, end)."""
    stored = versions.get(session, pupil_ref) if draft else versions.in_force(session, pupil_ref)
    return expansion.occurrences(stored.schedule, start, end) if stored is not None else []


def lessons_for_pupil(
    session: Session, pupil_ref: str, start: datetime, end: datetime, *, draft: bool = False
) -> list[Lesson]:
    """The pupil's lessons in force overlapping [start, end), in UTC (none without approval)."""
    return [o.lesson() for o in occurrences_for_pupil(session, pupil_ref, start, end, draft=draft)]


def kits_for_pupil(session: Session, pupil_ref: str) -> list[str]:
    """The kits lent to the pupil under a signed, active or return-due contract."""
    return loans.kits_lent_to(session, pupil_ref)


def pupil_for_kit(session: Session, kit_id: str) -> str | None:
    """The pupil the kit is lent to under a signed, active or return-due contract, if any."""
    return loans.pupil_with_kit(session, kit_id)


def _kit_schedule_in_force(session: Session, kit_id: str) -> versions.StoredSchedule | None:
    pupil_ref = pupil_for_kit(session, kit_id)
    return versions.in_force(session, pupil_ref) if pupil_ref is not None else None


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware")


def kit_schedule(
    session: Session,
    *,
    kit_id: str,
    now: datetime,
    horizon: timedelta = timedelta(days=14),
    guard_minutes: int = 15,
    prelesson_minutes: int = 30,
) -> Schedule | None:
    """What `kits/{kit_id}/schedule` carries: the lessons in force in [now, now + horizon).

    The pupil is found through the kit's contract (signed, active or return due); only start,
    end, mode, subject and server go out, never a teacher's or the pupil's name. None when the
    kit has no pupil or the pupil no approved schedule. A lesson running at `now` is included.
    """
    _require_aware(now)
    stored = _kit_schedule_in_force(session, kit_id)
    if stored is None:
        return None
    horizon_end = now + horizon
    lessons = expansion.expand(stored.schedule, now, horizon_end)
    if len(lessons) > MAX_WINDOWS:
        horizon_end = lessons[MAX_WINDOWS].start  # everything before it is listed
        lessons = lessons[:MAX_WINDOWS]
    return Schedule(
        generated_at=now,
        horizon_end=horizon_end,
        timezone=stored.schedule.timezone,
        guard_minutes=guard_minutes,
        prelesson_minutes=prelesson_minutes,
        lessons=[
            LessonWindow(
                start=lesson.start,
                end=lesson.end,
                mode=lesson.mode,
                subject=lesson.subject,
                server=lesson.server,
            )
            for lesson in lessons
        ],
    )


def configured_kit_schedule(
    session: Session, *, kit_id: str, now: datetime, settings: ControllerSettings
) -> Schedule | None:
    """`kit_schedule` with the controller's horizon, guard and pre-lesson check: what is sent."""
    return kit_schedule(
        session,
        kit_id=kit_id,
        now=now,
        horizon=timedelta(days=settings.schedule_horizon_days),
        guard_minutes=settings.guard_minutes,
        prelesson_minutes=settings.prelesson_minutes,
    )


def next_lesson_for_kit(session: Session, *, kit_id: str, now: datetime) -> Lesson | None:
    """The first lesson in force that starts after `now` for the kit's pupil, however far off."""
    _require_aware(now)
    stored = _kit_schedule_in_force(session, kit_id)
    last = expansion.last_day(stored.schedule) if stored is not None else None
    if stored is None or last is None:
        return None
    end_of_schedule = datetime.combine(
        last + timedelta(days=1), time(), tzinfo=ZoneInfo(stored.schedule.timezone)
    )
    start = now
    while start < end_of_schedule:
        stop = start + LOOKAHEAD_STEP
        for lesson in expansion.expand(stored.schedule, start, stop):
            if lesson.start > now:
                return lesson
        start = stop
    return None
