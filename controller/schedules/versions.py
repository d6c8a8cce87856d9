"""The stored versions of pupils' schedules: add one, approve the newest, read them.

Nothing is overwritten: each save adds a version (a draft) and approving marks the newest version
approved. The newest version is the *current* one, shown to staff; the newest approved version is
the one *in force*: the pupil's lessons and the kit's schedule come from it, so a draft being
agreed never takes lessons away from a kit. Each save and approval is audited. These functions
work in the caller's transaction: `controller.schedules.service` commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.loans import queries as loans
from controller.platform import audit
from controller.schedules import model, validation
from controller.schedules.errors import ScheduleError, ScheduleNotFoundError
from controller.schedules.tables import ScheduleVersion

_LOGGER = logging.getLogger(__name__)

Source = Literal["api", "csv", "ics"]


@dataclass(frozen=True)
class StoredSchedule:
    """One stored version of a pupil's schedule."""

    pupil_ref: str
    version: int
    schedule: model.PupilSchedule
    source: str
    saved_by: str
    saved_at: datetime
    in_force_version: int | None
    """The newest approved version (this one, an older one, or none)."""


def require_pupil(session: Session, pupil_ref: str) -> None:
    """Refuse an unknown pupil (ScheduleNotFoundError)."""
    if not loans.pupil_exists(session, pupil_ref):
        raise ScheduleNotFoundError.translated("refused.no_pupil", pupil=pupil_ref)


def _newest(session: Session, pupil_ref: str, *, approved: bool = False) -> ScheduleVersion | None:
    query = select(ScheduleVersion).where(ScheduleVersion.pupil_ref == pupil_ref)
    if approved:
        query = query.where(ScheduleVersion.status == model.ScheduleStatus.APPROVED.value)
    return session.scalar(query.order_by(ScheduleVersion.version.desc()).limit(1))


def _in_force_version(session: Session, pupil_ref: str) -> int | None:
    return session.scalar(
        select(func.max(ScheduleVersion.version)).where(
            ScheduleVersion.pupil_ref == pupil_ref,
            ScheduleVersion.status == model.ScheduleStatus.APPROVED.value,
        )
    )


def _stored(row: ScheduleVersion, in_force_version: int | None) -> StoredSchedule:
    content = model.ScheduleContent.model_validate(row.document)
    schedule = model.PupilSchedule.model_validate(
        {
            **content.model_dump(),
            "pupil_ref": row.pupil_ref,
            "status": row.status,
            "approved_by": row.approved_by,
            "approved_at": row.approved_at,
        }
    )
    return StoredSchedule(
        pupil_ref=row.pupil_ref,
        version=row.version,
        schedule=schedule,
        source=row.source,
        saved_by=row.saved_by,
        saved_at=row.saved_at,
        in_force_version=in_force_version,
    )


def counts(schedule: model.ScheduleContent) -> dict[str, int]:
    """How many terms, slots, holidays, cancellations, moves and extras: for a summary or audit."""
    return {
        name: len(getattr(schedule, name))
        for name in ("terms", "slots", "holidays", "cancellations", "moves", "extras")
    }


def add(
    session: Session,
    *,
    pupil_ref: str,
    schedule: model.ScheduleContent,
    actor: str,
    now: datetime,
    source: Source = "api",
) -> StoredSchedule:
    """Store a new version (a draft) of the pupil's schedule, checked whole; audited.

    Raises ScheduleNotFoundError for an unknown pupil and ScheduleInvalidError for a schedule
    that contradicts itself. The version in force does not change.
    """
    if isinstance(schedule, model.PupilSchedule) and schedule.pupil_ref != pupil_ref:
        raise ScheduleError.translated(
            "refused.other_pupil", other=schedule.pupil_ref, pupil=pupil_ref
        )
    require_pupil(session, pupil_ref)
    content = schedule.content()
    validation.check(content)
    previous = _newest(session, pupil_ref)
    row = ScheduleVersion(
        pupil_ref=pupil_ref,
        version=(previous.version + 1) if previous is not None else 1,
        status=model.ScheduleStatus.DRAFT.value,
        timezone=content.timezone,
        document=content.model_dump(mode="json"),
        source=source,
        saved_by=actor,
        saved_at=now,
        drawn_up_by=content.drawn_up_by,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ScheduleError.translated("refused.changed_meanwhile", pupil=pupil_ref) from exc
    audit.record(
        session,
        actor=actor,
        action="schedule_saved",
        entity="schedule",
        entity_id=pupil_ref,
        now=now,
        before=None
        if previous is None
        else {"version": previous.version, "status": previous.status},
        after={
            "version": row.version,
            "status": row.status,
            "source": source,
            "timezone": content.timezone,
            **counts(content),
        },
    )
    _LOGGER.info("schedule of %s saved as version %d (%s)", pupil_ref, row.version, source)
    return _stored(row, _in_force_version(session, pupil_ref))


def approve(
    session: Session,
    *,
    pupil_ref: str,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
) -> StoredSchedule:
    """Mark the current version approved (by the director, `approved_by`; default the actor).

    Raises ScheduleNotFoundError when there is no schedule, ScheduleError (409) when the current
    version is approved already.
    """
    require_pupil(session, pupil_ref)
    row = _newest(session, pupil_ref)
    if row is None:
        raise ScheduleNotFoundError.translated("refused.nothing_to_approve", pupil=pupil_ref)
    if row.status == model.ScheduleStatus.APPROVED.value:
        raise ScheduleError.translated(
            "refused.already_approved", version=row.version, pupil=pupil_ref
        )
    before = _stored(row, _in_force_version(session, pupil_ref))
    validation.check(before.schedule)
    by = (approved_by or actor).strip()[:200] or actor
    after = model.approved(before.schedule, by=by, at=now)
    row.status = after.status.value
    row.approved_by = after.approved_by
    row.approved_at = after.approved_at
    row.approval_recorded_by = actor
    audit.record(
        session,
        actor=actor,
        action="schedule_approved",
        entity="schedule",
        entity_id=pupil_ref,
        now=now,
        before={"version": row.version, "status": before.schedule.status.value},
        after={"version": row.version, "status": row.status, "approved_by": by},
    )
    _LOGGER.info("schedule of %s approved (version %d)", pupil_ref, row.version)
    return _stored(row, row.version)


def get(session: Session, pupil_ref: str, *, version: int | None = None) -> StoredSchedule | None:
    """The pupil's current schedule (the newest version, draft or approved), or `version`."""
    if version is None:
        row = _newest(session, pupil_ref)
    else:
        row = session.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.pupil_ref == pupil_ref, ScheduleVersion.version == version
            )
        )
    return _stored(row, _in_force_version(session, pupil_ref)) if row is not None else None


def in_force(session: Session, pupil_ref: str) -> StoredSchedule | None:
    """The pupil's schedule in force (the newest approved version), if any."""
    row = _newest(session, pupil_ref, approved=True)
    return _stored(row, row.version) if row is not None else None
