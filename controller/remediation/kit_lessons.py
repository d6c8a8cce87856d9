"""The lessons of the pupil a kit is lent to, as the ladder weighs them (unreadable: a lesson)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controller.schedules import service as schedules
from policy.lessons import Lesson

_LOGGER = logging.getLogger(__name__)

UNKNOWN_SCHEDULE = timedelta(hours=1)
"""How long a kit whose schedule cannot be read is treated as in a lesson."""


def kit_lessons(
    session: Session,
    kit_id: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> list[Lesson]:
    """The lessons of the pupil the kit is lent to, in [start, end).

    A schedule that cannot be read is not "no lessons": given `now`, the next hour counts
    as a lesson, so nothing disruptive starts on a guess (counting minutes lost, it is none).
    """
    try:
        pupil_ref = schedules.pupil_for_kit(session, kit_id)
        if pupil_ref is None:
            return []
        return schedules.lessons_for_pupil(session, pupil_ref, start, end)
    except Exception:
        _LOGGER.exception("cannot read the lessons of kit %s", kit_id)
        if now is None:
            return []
        return [Lesson(now, now + UNKNOWN_SCHEDULE, subject="unknown: schedule unreadable")]
