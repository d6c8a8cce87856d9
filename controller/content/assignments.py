"""Assignments: a teacher sets resources as a task for their pupils; the journal's fields.

One request for several pupils stores one assignment per pupil (sharing a `batch`): each pupil's
task is then cancelled, listed and synced on its own, as the electronic journal keeps it per
pupil. Teachers see and assign only for their own pupils (another pupil is "no such pupil"),
admins for all. A task names catalogue resources that exist and are not archived, and has a due
date, a lesson, or both; a lesson is the start of one of the pupil's lessons in their approved
schedule. Every change is audited and committed here; the manifests' publisher is then woken.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from controller.content import catalogue
from controller.content.assignment_errors import (
    AssignmentError,
    AssignmentInvalidError,
    AssignmentNotFoundError,
)
from controller.content.assignment_schemas import AssignmentCreate, AssignmentPublic
from controller.content.assignment_tables import Assignment
from controller.content.manifests import RECENT_DUE
from controller.loans import people
from controller.loans import queries as loans
from controller.platform import audit
from controller.schedules import service as schedules
from controller.trust.staff import Role
from controller.trust.tables import User

_LOGGER = logging.getLogger(__name__)

Wake = Callable[[list[str]], None]
"""Asks the content publisher to look at these kits' manifests now."""
MAX_LISTED = 500
"""The most assignments one list answers (newest first)."""


def public(row: Assignment) -> AssignmentPublic:
    """An assignment as the API shows it."""
    return AssignmentPublic(
        id=row.id,
        task_id=row.task_id,
        batch=row.batch,
        pupil_ref=row.pupil_ref,
        type=row.type,
        difficulty=row.difficulty,
        text=row.text,
        subject=row.subject,
        lesson_start=row.lesson_start,
        due_at=row.due_at,
        resources=list(row.resources),
        created_at=row.created_at,
        created_by=row.created_by,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
    )


def is_active(row: Assignment, now: datetime) -> bool:
    """Not cancelled, and due or held for a lesson from a day ago on."""
    since = now - RECENT_DUE
    return row.cancelled_at is None and any(
        moment is not None and moment >= since for moment in (row.due_at, row.lesson_start)
    )


def _require_pupil(session: Session, user: User, pupil_ref: str) -> None:
    if not loans.may_see_pupil(session, user, pupil_ref):
        raise AssignmentNotFoundError.translated("refused.no_pupil", pupil=pupil_ref)


def _lesson_subject(session: Session, pupil_ref: str, start: datetime) -> str:
    """The subject of the pupil's approved lesson starting at `start`; refused when none does."""
    for lesson in schedules.lessons_for_pupil(session, pupil_ref, start, start + RECENT_DUE):
        if lesson.start == start:
            return lesson.subject
    raise AssignmentInvalidError.translated(
        "refused.no_lesson", pupil=pupil_ref, start=start.isoformat()
    )


def _check(session: Session, data: AssignmentCreate, now: datetime) -> list[str]:
    """The task's resources (each once, in order), refused when unknown; the dates checked."""
    if data.lesson_start is None and data.due_at is None:
        raise AssignmentInvalidError.translated("refused.no_date")
    if data.due_at is not None and data.due_at < now:
        raise AssignmentInvalidError.translated("refused.due_past", due=data.due_at.isoformat())
    resources = list(dict.fromkeys(data.resources))
    unknown = sorted(set(resources) - catalogue.existing_resources(session, resources))
    if unknown:
        raise AssignmentInvalidError.translated(
            "refused.unknown_resources", resources=", ".join(unknown)
        )
    return resources


def create(
    session: Session, *, data: AssignmentCreate, user: User, now: datetime, wake: Wake | None
) -> list[AssignmentPublic]:
    """Set the task for each pupil (one assignment each, one batch), audited and committed."""
    pupils = list(dict.fromkeys(data.pupils))
    for pupil_ref in pupils:
        _require_pupil(session, user, pupil_ref)
    resources = _check(session, data, now)
    default_subject = ""
    entries, _ = catalogue.manifest_entries(session, resources[:1])
    if entries:
        default_subject = entries[0].subject
    batch = secrets.token_hex(8)
    rows = []
    for pupil_ref in pupils:
        subject = default_subject
        if data.lesson_start is not None:
            subject = _lesson_subject(session, pupil_ref, data.lesson_start) or subject
        rows.append(
            Assignment(
                batch=batch,
                pupil_ref=pupil_ref,
                type=data.type.value,
                difficulty=data.difficulty.value,
                text=data.text.strip(),
                subject=subject,
                lesson_start=data.lesson_start,
                due_at=data.due_at,
                resources=resources,
                created_at=now,
                created_by=user.username,
            )
        )
    session.add_all(rows)
    session.flush()
    for row in rows:
        _audit(session, user, "assignment.create", row, now, after=_summary(row))
    _commit(session, wake, pupils)
    return [public(row) for row in rows]


def _summary(row: Assignment) -> dict[str, Any]:
    return public(row).model_dump(mode="json", exclude={"created_at", "created_by"})


def _audit(
    session: Session,
    user: User,
    action: str,
    row: Assignment,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=user.username,
        action=action,
        entity="assignment",
        entity_id=str(row.id),
        now=now,
        before=before,
        after=after,
    )


def _commit(session: Session, wake: Wake | None, pupils: Iterable[str]) -> None:
    kit_ids = sorted({k for p in pupils for k in schedules.kits_for_pupil(session, p)})
    session.commit()
    if wake is not None and kit_ids:
        try:
            wake(kit_ids)
        except Exception:
            _LOGGER.exception("waking the content publisher failed")


def _visible(session: Session, user: User, assignment_id: int) -> Assignment:
    row = session.get(Assignment, assignment_id)
    if row is None or not loans.may_see_pupil(session, user, row.pupil_ref):
        raise AssignmentNotFoundError.translated("refused.no_assignment", id=assignment_id)
    return row


def get(session: Session, *, user: User, assignment_id: int) -> AssignmentPublic:
    """One assignment of a pupil this member of staff may see."""
    return public(_visible(session, user, assignment_id))


def listed(
    session: Session, *, user: User, pupil_ref: str | None, active: bool | None, now: datetime
) -> list[AssignmentPublic]:
    """The assignments of one pupil or of every pupil `user` may see, newest first; `active`:
    only those still on the kits (True) or only the others (False)."""
    query = select(Assignment).order_by(Assignment.id.desc())
    if pupil_ref is not None:
        _require_pupil(session, user, pupil_ref)
        query = query.where(Assignment.pupil_ref == pupil_ref)
    elif user.role == Role.TEACHER:
        refs = [p.ref for p in people.visible_pupils(session, user, "all")]
        query = query.where(Assignment.pupil_ref.in_(refs))
    if active is not None:
        since = now - RECENT_DUE
        current = and_(
            Assignment.cancelled_at.is_(None),
            or_(  # each side NULL-safe, so that NOT of it is true for the others
                and_(Assignment.due_at.is_not(None), Assignment.due_at >= since),
                and_(Assignment.lesson_start.is_not(None), Assignment.lesson_start >= since),
            ),
        )
        query = query.where(current if active else not_(current))
    rows: Sequence[Assignment] = session.scalars(query.limit(MAX_LISTED)).all()
    return [public(r) for r in rows]


def cancel(
    session: Session, *, user: User, assignment_id: int, now: datetime, wake: Wake | None
) -> AssignmentPublic:
    """Cancel an assignment (it leaves the pupil's kits with their next manifest); audited."""
    row = _visible(session, user, assignment_id)
    if row.cancelled_at is not None:
        raise AssignmentError.translated("refused.cancelled", id=assignment_id)
    before = _summary(row)
    row.cancelled_at, row.cancelled_by = now, user.username
    _audit(session, user, "assignment.cancel", row, now, before=before, after=_summary(row))
    _commit(session, wake, [row.pupil_ref])
    return public(row)


def for_pupil(session: Session, pupil_ref: str) -> list[Assignment]:
    """The pupil's assignments that are not cancelled (the manifests pick the current ones)."""
    return list(
        session.scalars(
            select(Assignment)
            .where(Assignment.pupil_ref == pupil_ref, Assignment.cancelled_at.is_(None))
            .order_by(Assignment.id)
        )
    )
