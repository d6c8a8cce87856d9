"""The use cases of people's records the API calls: each change one transaction, committed here.

Corrections (`people_changes`), leaving and coming back (`people_archive`), history and the new
school year's promotion (`people_promotion`); each answer is the person as the member of staff
asking may see them (`people.pupil_view`, `people.guardian_view`). Administrators change; a
teacher reads the history of their own pupils and of their guardians, as they see those pupils.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from controller.loans import people, people_archive, people_changes, people_promotion
from controller.loans.people import Archived
from controller.loans.people_errors import PeopleRefusedError
from controller.loans.people_schemas import ArchiveRequest, PromoteRequest
from controller.loans.schemas import GuardianUpdate, PupilUpdate
from controller.loans.tables import Guardian, Pupil
from controller.platform.crypto import FieldCipher
from controller.platform.localtime import DEFAULT_ZONE
from controller.trust.tables import User


def _guardian_view(
    session: Session, guardian: Guardian, cipher: FieldCipher, user: User
) -> dict[str, Any]:
    pupil = session.get(Pupil, guardian.pupil_id)
    ref = pupil.ref if pupil is not None else ""
    return people.guardian_view(guardian, ref, cipher, user.role)


def list_pupils(
    session: Session, *, cipher: FieldCipher, user: User, archived: Archived = "false"
) -> list[dict[str, Any]]:
    """Pupils this member of staff may see: at school (default), archived, or all."""
    return [
        people.pupil_view(p, cipher, user.role)
        for p in people.visible_pupils(session, user, archived)
    ]


def list_guardians(
    session: Session,
    *,
    cipher: FieldCipher,
    user: User,
    pupil_ref: str | None = None,
    archived: Archived = "false",
) -> list[dict[str, Any]]:
    """Guardians of the pupils this member of staff may see: current (default), archived, all."""
    return [
        people.guardian_view(guardian, ref, cipher, user.role)
        for guardian, ref in people.visible_guardians(session, user, pupil_ref, archived)
    ]


def update_pupil(
    session: Session,
    *,
    ref: str,
    change: PupilUpdate,
    cipher: FieldCipher,
    user: User,
    now: datetime,
) -> dict[str, Any]:
    """Correct a pupil (administrators); nothing changed: nothing written."""
    pupil = people_changes.update_pupil(
        session, ref=ref, change=change, cipher=cipher, actor=user.username, now=now
    )
    session.commit()
    return people.pupil_view(pupil, cipher, user.role)


def update_guardian(
    session: Session,
    *,
    ref: str,
    change: GuardianUpdate,
    cipher: FieldCipher,
    user: User,
    now: datetime,
) -> dict[str, Any]:
    """Correct a parent or representative (administrators)."""
    guardian = people_changes.update_guardian(
        session, ref=ref, change=change, cipher=cipher, actor=user.username, now=now
    )
    session.commit()
    return _guardian_view(session, guardian, cipher, user)


Entity = Literal["pupil", "guardian"]


def _view(
    session: Session, person: Pupil | Guardian, cipher: FieldCipher, user: User
) -> dict[str, Any]:
    if isinstance(person, Pupil):
        return people.pupil_view(person, cipher, user.role)
    return _guardian_view(session, person, cipher, user)


def archive(
    session: Session,
    *,
    entity: Entity,
    ref: str,
    request: ArchiveRequest,
    cipher: FieldCipher,
    user: User,
    now: datetime,
) -> dict[str, Any]:
    """A pupil leaves the school, or a guardian no longer signs (refused under an open contract).

    The day they left is today when the request does not say.
    """
    leave = people_archive.archive_pupil if entity == "pupil" else people_archive.archive_guardian
    person = leave(
        session,
        ref=ref,
        reason=request.reason,
        left_on=request.left_on or now.date(),
        actor=user.username,
        now=now,
    )
    session.commit()
    return _view(session, person, cipher, user)


def restore(
    session: Session, *, entity: Entity, ref: str, cipher: FieldCipher, user: User, now: datetime
) -> dict[str, Any]:
    """An archived pupil comes back (with their guardians), or an archived guardian."""
    back = people_archive.restore_pupil if entity == "pupil" else people_archive.restore_guardian
    person = back(session, ref=ref, actor=user.username, now=now)
    session.commit()
    return _view(session, person, cipher, user)


def pupil_history(session: Session, *, ref: str, user: User) -> list[dict[str, Any]]:
    """Who changed what of a pupil and when: for administrators, and the pupil's own teacher."""
    people.visible_pupil(session, user, ref)  # 404 for a pupil this user may not see
    return people_archive.history(session, entity="pupil", ref=ref)


def guardian_history(session: Session, *, ref: str, user: User) -> list[dict[str, Any]]:
    """Who changed what of a guardian and when: as their pupil may be seen."""
    visible = {g.ref for g, _ref in people.visible_guardians(session, user, archived="all")}
    if ref not in visible:
        raise PeopleRefusedError("guardian.not_visible", 404, ref=ref)
    return people_archive.history(session, entity="guardian", ref=ref)


def promote(
    session: Session,
    *,
    request: PromoteRequest,
    actor: str,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> dict[str, Any]:
    """Move the pupils up a grade for the new school year, the day taken at the school (`zone`);
    a dry run changes nothing. For the API (`actor`: the user name) and the command line."""
    report = people_promotion.promote(
        session,
        school=request.school,
        dry_run=request.dry_run,
        force=request.force,
        actor=actor,
        now=now,
        zone=zone,
    )
    if request.dry_run:
        session.rollback()
    else:
        session.commit()
    return report
