"""Pupils and guardians leaving the school, and coming back: archived, never deleted.

An archived person keeps their row, their contracts (which name them by reference) and their
history in the audit log; lists hide them unless asked (`people.visible_pupils`). A person with
an open contract (`lifecycle.OPEN_STATES`: draft, signed, active, return due) cannot be archived:
the contract is returned or terminated first. An archived pupil gets no new guardian and no new
contract, an archived guardian no new contract (`check_current`). A guardian of an archived pupil
is shown as archived with them and is restored with the pupil.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans import lifecycle
from controller.loans.people_changes import find_guardian, find_pupil
from controller.loans.people_errors import PeopleRefusedError
from controller.loans.people_schemas import LeavingReason
from controller.loans.tables import Guardian, LoanContract, Pupil
from controller.platform import audit


def _open_contract(
    session: Session, *, pupil_ref: str | None = None, guardian_ref: str | None = None
) -> str | None:
    """The number of an open contract of this pupil or guardian, if there is one."""
    query = select(LoanContract.number).where(LoanContract.state.in_(lifecycle.OPEN_STATES))
    if pupil_ref is not None:
        query = query.where(LoanContract.pupil_ref == pupil_ref)
    if guardian_ref is not None:
        query = query.where(LoanContract.guardian_ref == guardian_ref)
    return session.scalar(query.order_by(LoanContract.number).limit(1))


def leaving_refusal(
    session: Session, person: Pupil | Guardian, *, entity: str
) -> PeopleRefusedError | None:
    """Why `person` (a "pupil" or "guardian") cannot be archived now, or None if they can."""
    if person.archived_at is not None:
        return PeopleRefusedError(
            f"{entity}.already_archived", 409, ref=person.ref, left_on=person.left_on
        )
    refs: dict[str, Any] = {f"{entity}_ref": person.ref}
    number = _open_contract(session, **refs)
    if number is not None:
        return PeopleRefusedError(f"{entity}.open_contract", 409, ref=person.ref, number=number)
    return None


def _leave(
    session: Session,
    person: Pupil | Guardian,
    *,
    entity: str,
    reason: LeavingReason,
    left_on: date,
    actor: str,
    now: datetime,
) -> None:
    refusal = leaving_refusal(session, person, entity=entity)
    if refusal is not None:
        raise refusal
    person.archived_at, person.updated_at = now, now
    person.archive_reason, person.left_on = reason.value, left_on
    after = {"archived": True, "reason": reason.value, "left_on": left_on.isoformat()}
    before = {"archived": False}
    _audit(
        session,
        person,
        action=f"{entity}_archived",
        before=before,
        after=after,
        actor=actor,
        now=now,
    )


def _come_back(
    session: Session, person: Pupil | Guardian, *, entity: str, actor: str, now: datetime
) -> None:
    if person.archived_at is None:
        raise PeopleRefusedError(f"{entity}.not_archived", 409, ref=person.ref)
    before = {
        "archived": True,
        "reason": person.archive_reason,
        "left_on": person.left_on.isoformat() if person.left_on else None,
    }
    person.archived_at = person.archive_reason = person.left_on = None
    person.updated_at = now
    after = {"archived": False}
    _audit(
        session,
        person,
        action=f"{entity}_restored",
        before=before,
        after=after,
        actor=actor,
        now=now,
    )


def _audit(
    session: Session,
    person: Pupil | Guardian,
    *,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    actor: str,
    now: datetime,
) -> None:
    entity = "pupil" if isinstance(person, Pupil) else "guardian"
    audit.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=person.ref,
        now=now,
        before=before,
        after=after,
    )


def archive_pupil(
    session: Session,
    *,
    ref: str,
    reason: LeavingReason,
    left_on: date,
    actor: str,
    now: datetime,
) -> Pupil:
    """Record that a pupil left the school (409 when archived already or under an open contract)."""
    pupil = find_pupil(session, ref)
    _leave(session, pupil, entity="pupil", reason=reason, left_on=left_on, actor=actor, now=now)
    return pupil


def restore_pupil(session: Session, *, ref: str, actor: str, now: datetime) -> Pupil:
    """Bring an archived pupil back (409 when not archived); their guardians come back with them."""
    pupil = find_pupil(session, ref)
    _come_back(session, pupil, entity="pupil", actor=actor, now=now)
    return pupil


def archive_guardian(
    session: Session,
    *,
    ref: str,
    reason: LeavingReason,
    left_on: date,
    actor: str,
    now: datetime,
) -> Guardian:
    """Record that a guardian no longer signs for their pupil (409 under an open contract)."""
    guardian = find_guardian(session, ref)
    _leave(
        session, guardian, entity="guardian", reason=reason, left_on=left_on, actor=actor, now=now
    )
    return guardian


def restore_guardian(session: Session, *, ref: str, actor: str, now: datetime) -> Guardian:
    """Bring an archived guardian back (409 when not archived or their pupil is archived)."""
    guardian = find_guardian(session, ref)
    pupil = session.get(Pupil, guardian.pupil_id)
    if pupil is not None and pupil.archived_at is not None and guardian.archived_at is not None:
        raise PeopleRefusedError("guardian.pupil_archived", 409, ref=pupil.ref)
    _come_back(session, guardian, entity="guardian", actor=actor, now=now)
    return guardian


def check_current(session: Session, *, pupil_ref: str, guardian_ref: str) -> None:
    """Refuse (409, saying to restore) a new contract for an archived pupil or guardian.

    Unknown references pass: the contract's own checks say so.
    """
    pupil = session.scalar(select(Pupil).where(Pupil.ref == pupil_ref))
    if pupil is not None and pupil.archived_at is not None:
        raise PeopleRefusedError("pupil.archived", 409, ref=pupil_ref)
    guardian = session.scalar(select(Guardian).where(Guardian.ref == guardian_ref))
    if guardian is not None and guardian.archived_at is not None:
        raise PeopleRefusedError("guardian.archived", 409, ref=guardian_ref)


def history(session: Session, *, entity: str, ref: str) -> list[dict[str, Any]]:
    """A pupil's or guardian's changes from the audit log, newest first (personal values hidden).

    The log never held personal values (`people_changes.HIDDEN`), so each entry is shown whole.
    """
    return [
        {
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "fields": sorted(set(entry.before or {}) | set(entry.after or {})),
            "before": entry.before or {},
            "after": entry.after or {},
        }
        for entry in audit.entries(session, entity=entity, entity_id=ref, limit=1000)
    ]
