"""When a ticket is due, and where that came from: the pupil's next lesson by default.

A ticket opened without a due (by the ladder, from a help request, by hand) is due by the start of
the next lesson of the pupil the kit is lent to (a lesson running now counts: it is already late);
with no lesson known it gets the default time (`DEFAULT_SLA`). A due a person gave is kept as it
is. When the kit's schedule changes, the due that came from a lesson (or the default) is worked
out again from the new schedule, as of the time the ticket was opened.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.schedules import service as schedules
from controller.tickets.errors import TicketsError
from policy.ladder import due_by as lesson_due

_LOGGER = logging.getLogger(__name__)

DEFAULT_SLA: Final = timedelta(days=2)
"""How long a ticket may take when the pupil has no lesson known."""
LOOK_AHEAD: Final = timedelta(days=14)
"""How far ahead the next lesson is looked for."""
UNREADABLE: Final = (ValueError, KeyError, ControllerError)
"""What a stored schedule that cannot be read raises (a stored version no longer valid, a zone not
known): the ticket is then due by the default time. A database error is not among them: it
propagates, so the caller's transaction (aborted on PostgreSQL) is not carried on as if fine."""


class DueSource(StrEnum):
    """Where a ticket's `due_by` came from."""

    LESSON = "lesson"
    GIVEN = "given"
    SLA = "sla"


FOLLOWS_SCHEDULE: Final = frozenset({DueSource.LESSON.value, DueSource.SLA.value})
"""Dues worked out by the controller, which move when the kit's schedule changes."""


def aware_utc(value: datetime) -> datetime:
    """A given due in UTC (TicketsError 422 when it has no zone)."""
    if value.utcoffset() is None:
        raise TicketsError("error.due_without_zone", 422)
    return value.astimezone(UTC)


def next_lesson_start(session: Session, kit_id: str, at: datetime) -> datetime | None:
    """The start of the kit's pupil's lesson running at `at` or next after it (None: none known)."""
    try:
        pupil_ref = schedules.pupil_for_kit(session, kit_id)
        if pupil_ref is None:
            return None
        lessons = schedules.lessons_for_pupil(session, pupil_ref, at, at + LOOK_AHEAD)
    except UNREADABLE:  # an unreadable schedule must not stop a ticket from opening
        _LOGGER.exception("cannot read the lessons of kit %s", kit_id)
        return None
    return lesson_due(at, lessons)


def from_lessons(session: Session, kit_id: str, at: datetime) -> tuple[datetime, DueSource]:
    """The due of a ticket opened at `at` with none given: the next lesson, else the default."""
    start = next_lesson_start(session, kit_id, at)
    if start is not None:
        return start, DueSource.LESSON
    return at + DEFAULT_SLA, DueSource.SLA


def decide(
    session: Session,
    *,
    kit_id: str,
    given: datetime | None,
    lesson: datetime | None,
    now: datetime,
) -> tuple[datetime, DueSource]:
    """A new ticket's due: one a person gave, else the ladder's lesson, else from the schedule."""
    if given is not None:
        return aware_utc(given), DueSource.GIVEN
    if lesson is not None:
        return aware_utc(lesson), DueSource.LESSON
    return from_lessons(session, kit_id, now)
