"""Corrections to pupils and guardians: only the fields given change, audited field by field.

`update_pupil` and `update_guardian` take a `PupilUpdate` / `GuardianUpdate` (every field
optional): personal fields are re-encrypted, a new IIN is re-indexed (refused when another pupil
holds it), a pupil's teacher is checked (`check_teacher`), and the audit log records before and
after of each changed field: values of personal fields hidden as `HIDDEN`, so it tells WHICH
fields changed without their content. A change that changes nothing writes nothing, not even an
audit entry: `pupil_changes` / `guardian_changes` tell which fields a change would change
(empty: unchanged), and `apply_pupil_update` / `apply_guardian_update` return the row with the
fields changed, for an import's "updated" or "unchanged".
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans.people_errors import PeopleRefusedError
from controller.loans.schemas import Basis, GuardianUpdate, Program, PupilUpdate
from controller.loans.tables import Guardian, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.trust import staff
from controller.trust.staff import Role

HIDDEN: Final = "<encrypted>"
"""What the audit log says in place of personal data (as `people.HIDDEN`)."""

PUPIL_PERSONAL: Final = frozenset({"name", "iin", "program", "basis", "temporary_until"})
"""A pupil's fields whose values the audit log never holds."""
GUARDIAN_PERSONAL: Final = frozenset({"name", "phone", "address", "iin"})
"""A guardian's fields whose values the audit log never holds."""

Changes = dict[str, tuple[Any, Any]]
"""Field name -> (value before, value after), of the fields a change changes."""


def check_teacher(session: Session, username: str) -> None:
    """Refuse (PeopleError 422) unless `username` is an enabled staff account with role teacher."""
    user = staff.staff_account(session, username)
    if user is None:
        raise PeopleRefusedError("teacher.unknown", 422, username=username)
    if user.role != Role.TEACHER:
        raise PeopleRefusedError("teacher.not_teacher", 422, username=username, role=user.role)
    if user.disabled:
        raise PeopleRefusedError("teacher.disabled", 422, username=username)


def find_pupil(session: Session, ref: str) -> Pupil:
    """The pupil with this reference, archived or not (PeopleError 404 when there is none)."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None:
        raise PeopleRefusedError("pupil.not_found", 404, ref=ref)
    return pupil


def find_guardian(session: Session, ref: str) -> Guardian:
    """The guardian with this reference, archived or not (PeopleError 404 when there is none)."""
    guardian = session.scalar(select(Guardian).where(Guardian.ref == ref))
    if guardian is None:
        raise PeopleRefusedError("guardian.not_found", 404, ref=ref)
    return guardian


def check_pupil_iin(session: Session, index: str, *, own_id: int | None = None) -> None:
    """Refuse an IIN (by its blind index) another pupil holds; for an archived one: restore it."""
    other = session.scalar(select(Pupil).where(Pupil.iin_index == index, Pupil.id != (own_id or 0)))
    if other is None:
        return
    if other.archived_at is not None:
        raise PeopleRefusedError("pupil.iin_archived", 409, ref=other.ref)
    raise PeopleRefusedError("pupil.iin_taken", 409, ref=other.ref)


# --- what a change changes ----------------------------------------------------------------------


def _pupil_now(pupil: Pupil, cipher: FieldCipher) -> dict[str, Any]:
    until = cipher.decrypt_padded(pupil.temporary_until_enc)
    return {
        "name": cipher.decrypt(pupil.name_enc),
        "iin": pupil.iin_index,
        "grade": pupil.grade,
        "program": cipher.decrypt_padded(pupil.program_enc),
        "basis": cipher.decrypt_padded(pupil.basis_enc),
        "temporary_until": date.fromisoformat(until) if until else None,
        "school": pupil.school,
        "teacher": pupil.teacher,
    }


def _guardian_now(guardian: Guardian, cipher: FieldCipher) -> dict[str, Any]:
    return {
        "relation": guardian.relation,
        "name": cipher.decrypt(guardian.name_enc),
        "phone": cipher.decrypt(guardian.phone_enc),
        "address": cipher.decrypt(guardian.address_enc),
        "iin": guardian.iin_index,
    }


def _diff(now: dict[str, Any], given: dict[str, Any], cipher: FieldCipher) -> Changes:
    """The given fields whose value differs from now's (an IIN compared by its blind index)."""
    out: Changes = {}
    for field, value in given.items():
        new = value.value if isinstance(value, Enum) else value
        if now[field] != (cipher.blind_index(new) if field == "iin" else new):
            out[field] = (now[field], new)
    return out


def pupil_changes(pupil: Pupil, change: PupilUpdate, cipher: FieldCipher) -> Changes:
    """The fields `change` would change on `pupil` ({} : the change is a no-op)."""
    return _diff(_pupil_now(pupil, cipher), change.model_dump(exclude_unset=True), cipher)


def guardian_changes(guardian: Guardian, change: GuardianUpdate, cipher: FieldCipher) -> Changes:
    """The fields `change` would change on `guardian` ({} : the change is a no-op)."""
    return _diff(_guardian_now(guardian, cipher), change.model_dump(exclude_unset=True), cipher)


def _audited(changes: Changes, personal: frozenset[str], side: int) -> dict[str, Any]:
    """One side (0 before, 1 after) of the changes as the audit log keeps it."""
    out: dict[str, Any] = {}
    for field in sorted(changes):
        value = changes[field][side]
        out[field] = HIDDEN if field in personal else value
    return out


def _record(
    session: Session, *, entity: str, ref: str, changes: Changes, actor: str, now: datetime
) -> None:
    personal = PUPIL_PERSONAL if entity == "pupil" else GUARDIAN_PERSONAL
    audit.record(
        session,
        actor=actor,
        action=f"{entity}_updated",
        entity=entity,
        entity_id=ref,
        now=now,
        before=_audited(changes, personal, 0),
        after=_audited(changes, personal, 1),
    )


# --- applying it --------------------------------------------------------------------------------


def _check_pupil(pupil_now: dict[str, Any], changes: Changes) -> None:
    """Temporary home-schooling keeps its end date and the general program, and only it has an
    end date, as on creation and in the pupils import."""
    after = pupil_now | {field: new for field, (_old, new) in changes.items()}
    touched = {"basis", "temporary_until"} & set(changes)  # a pupil stored so before may stay
    if touched and after["basis"] == Basis.DISABILITY.value and after["temporary_until"]:
        raise PeopleRefusedError("pupil.disability_no_end", 422)
    if after["basis"] == Basis.TEMPORARY.value:
        if after["temporary_until"] is None:
            raise PeopleRefusedError("pupil.temporary_needs_end", 422)
        if after["program"] != Program.GENERAL.value:
            raise PeopleRefusedError("pupil.temporary_general", 422)


def apply_pupil_update(
    session: Session,
    *,
    ref: str,
    change: PupilUpdate,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
) -> tuple[Pupil, list[str]]:
    """Change the given fields of a pupil; (the pupil, the names of the fields changed).

    No field changed: nothing is written and the list is empty. Refusals: PeopleError 404 (no such
    pupil), 409 (an IIN another pupil holds), 422 (a teacher that is no enabled teacher account,
    temporary home-schooling without its end date or off the general program).
    """
    pupil = find_pupil(session, ref)
    before = _pupil_now(pupil, cipher)
    changes = _diff(before, change.model_dump(exclude_unset=True), cipher)
    if not changes:
        return pupil, []
    _check_pupil(before, changes)
    if "teacher" in changes and changes["teacher"][1] is not None:
        check_teacher(session, changes["teacher"][1])
    for field, (_old, new) in changes.items():
        if field == "iin":
            index = cipher.blind_index(new)
            check_pupil_iin(session, index, own_id=pupil.id)
            pupil.iin_index, pupil.iin_enc = index, cipher.encrypt(new)
        elif field == "name":
            pupil.name_enc = cipher.encrypt(new)
        elif field in ("program", "basis"):
            setattr(pupil, f"{field}_enc", cipher.encrypt_padded(new))
        elif field == "temporary_until":
            pupil.temporary_until_enc = cipher.encrypt_padded(new.isoformat() if new else "")
        else:
            setattr(pupil, field, new)
    pupil.updated_at = now
    session.flush()
    json_changes = {f: (_plain(old), _plain(new)) for f, (old, new) in changes.items()}
    _record(session, entity="pupil", ref=ref, changes=json_changes, actor=actor, now=now)
    return pupil, sorted(changes)


def update_pupil(
    session: Session,
    *,
    ref: str,
    change: PupilUpdate,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
) -> Pupil:
    """Change the given fields of a pupil (`apply_pupil_update` without the list of fields)."""
    pupil, _fields = apply_pupil_update(
        session, ref=ref, change=change, cipher=cipher, actor=actor, now=now
    )
    return pupil


def apply_guardian_update(
    session: Session,
    *,
    ref: str,
    change: GuardianUpdate,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
) -> tuple[Guardian, list[str]]:
    """Change the given fields of a guardian; (the guardian, the names of the fields changed).

    No field changed: nothing is written and the list is empty. A guardian's IIN is not unique:
    a parent of two pupils has a row for each (`create_guardian`), so it is only re-indexed.
    """
    guardian = find_guardian(session, ref)
    changes = guardian_changes(guardian, change, cipher)
    if not changes:
        return guardian, []
    for field, (_old, new) in changes.items():
        if field == "iin":
            guardian.iin_index, guardian.iin_enc = cipher.blind_index(new), cipher.encrypt(new)
        elif field == "relation":
            guardian.relation = new
        else:
            setattr(guardian, f"{field}_enc", cipher.encrypt(new))
    guardian.updated_at = now
    session.flush()
    _record(session, entity="guardian", ref=ref, changes=changes, actor=actor, now=now)
    return guardian, sorted(changes)


def update_guardian(
    session: Session,
    *,
    ref: str,
    change: GuardianUpdate,
    cipher: FieldCipher,
    actor: str,
    now: datetime,
) -> Guardian:
    """Change the given fields of a guardian (`apply_guardian_update` without the fields)."""
    guardian, _fields = apply_guardian_update(
        session, ref=ref, change=change, cipher=cipher, actor=actor, now=now
    )
    return guardian


def _plain(value: Any) -> Any:
    """A value as JSON keeps it (a date as its ISO text)."""
    return value.isoformat() if isinstance(value, date) else value
