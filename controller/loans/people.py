"""Pupils and their parents or legal representatives, with personal data encrypted at rest.

Names, IINs, phones and addresses are stored as ciphertext
(`controller.platform.crypto.FieldCipher`); an IIN is also stored as a keyed hash, so that a person
can be found by IIN without decrypting every row. A pupil's program and basis are health data (why
the child learns at home): encrypted too, padded so that their tokens do not tell them apart by
length, with the end of temporary home-schooling (which tells the basis). What each role may see
of a person is decided here, once (`pupil_view`, `guardian_view`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.loans import signatures
from controller.loans.people_changes import HIDDEN as HIDDEN
from controller.loans.people_changes import check_pupil_iin, check_teacher
from controller.loans.people_errors import PeopleRefusedError
from controller.loans.schemas import REF as REF
from controller.loans.schemas import GuardianCreate, PupilCreate
from controller.loans.tables import Guardian, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.trust.staff import Role
from controller.trust.tables import User


def cipher(settings: ControllerSettings) -> FieldCipher:
    """The cipher of personal data, from configuration; a clear error when it is not set up."""
    if not settings.pii_keys or settings.pii_index_key is None:
        raise ConfigError(
            "personal data keys are not configured: set KITKEEPER_PII_KEYS (a JSON list) and "
            "KITKEEPER_PII_INDEX_KEY; `kitkeeper-controller keys generate` makes a key"
        )
    return FieldCipher(
        [k.get_secret_value() for k in settings.pii_keys],
        index_key=settings.pii_index_key.get_secret_value(),
    )


def create_pupil(
    session: Session, *, data: PupilCreate, cipher: FieldCipher, actor: str, now: datetime
) -> Pupil:
    """Store a pupil; refuses a reference or IIN already known, a teacher that is none.

    The IIN of an archived pupil is refused with that pupil's reference: restore them instead.
    """
    index = cipher.blind_index(data.iin)
    if session.scalar(select(Pupil.id).where(Pupil.ref == data.ref)) is not None:
        raise PeopleRefusedError("pupil.exists", 409, ref=data.ref)
    check_pupil_iin(session, index)
    if data.teacher is not None:
        check_teacher(session, data.teacher)
    pupil = Pupil(
        ref=data.ref,
        name_enc=cipher.encrypt(data.name),
        iin_enc=cipher.encrypt(data.iin),
        iin_index=index,
        grade=data.grade,
        program_enc=cipher.encrypt_padded(data.program.value),
        basis_enc=cipher.encrypt_padded(data.basis.value),
        temporary_until_enc=cipher.encrypt_padded(
            "" if data.temporary_until is None else data.temporary_until.isoformat()
        ),
        school=data.school,
        teacher=data.teacher,
        created_at=now,
    )
    session.add(pupil)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="pupil_created",
        entity="pupil",
        entity_id=data.ref,
        now=now,
        after={
            "name": HIDDEN,
            "iin": HIDDEN,
            "grade": data.grade,
            "program": HIDDEN,
            "school": data.school,
            "teacher": data.teacher,
        },
    )
    return pupil


def create_guardian(
    session: Session, *, data: GuardianCreate, cipher: FieldCipher, actor: str, now: datetime
) -> Guardian:
    """Store a parent or legal representative of a known pupil."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == data.pupil_ref))
    if pupil is None:
        raise PeopleRefusedError("pupil.not_found", 409, ref=data.pupil_ref)
    if pupil.archived_at is not None:
        raise PeopleRefusedError("pupil.archived", 409, ref=pupil.ref)
    if session.scalar(select(Guardian.id).where(Guardian.ref == data.ref)) is not None:
        raise PeopleRefusedError("guardian.exists", 409, ref=data.ref)
    guardian = Guardian(
        ref=data.ref,
        pupil_id=pupil.id,
        relation=data.relation.value,
        name_enc=cipher.encrypt(data.name),
        phone_enc=cipher.encrypt(data.phone),
        address_enc=cipher.encrypt(data.address),
        iin_enc=cipher.encrypt(data.iin),
        iin_index=cipher.blind_index(data.iin),
        created_at=now,
    )
    session.add(guardian)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="guardian_created",
        entity="guardian",
        entity_id=data.ref,
        now=now,
        after={
            "pupil": data.pupil_ref,
            "relation": data.relation.value,
            "name": HIDDEN,
            "phone": HIDDEN,
            "address": HIDDEN,
            "iin": HIDDEN,
        },
    )
    return guardian


Archived = Literal["false", "true", "all"]
"""Which people a list shows: those at school (the default), the archived ones, or all."""


def visible_pupils(session: Session, user: User, archived: Archived = "false") -> list[Pupil]:
    """The pupils this member of staff may see: a teacher, only their own; archived, if asked."""
    query = select(Pupil).order_by(Pupil.ref)
    if user.role == Role.TEACHER:
        query = query.where(Pupil.teacher == user.username)
    if archived != "all":
        query = query.where(
            Pupil.archived_at.is_not(None) if archived == "true" else Pupil.archived_at.is_(None)
        )
    return list(session.scalars(query))


def visible_pupil(session: Session, user: User, ref: str) -> Pupil:
    """One pupil this member of staff may see, archived or not (PeopleError 404 for any other)."""
    pupil = next((p for p in visible_pupils(session, user, "all") if p.ref == ref), None)
    if pupil is None:
        raise PeopleRefusedError("pupil.not_visible", 404, ref=ref)
    return pupil


def visible_guardians(
    session: Session, user: User, pupil_ref: str | None = None, archived: Archived = "false"
) -> list[tuple[Guardian, str]]:
    """Guardians of the pupils this member of staff may see (of one, if given), with its ref.

    A guardian counts as archived when they or their pupil are.
    """
    pupils = {p.id: p for p in visible_pupils(session, user, "all")}
    if pupil_ref is not None:
        pupils = {k: v for k, v in pupils.items() if v.ref == pupil_ref}
    rows = session.scalars(
        select(Guardian).where(Guardian.pupil_id.in_(pupils)).order_by(Guardian.ref)
    )
    out = []
    for guardian in rows:
        gone = guardian.archived_at is not None or pupils[guardian.pupil_id].archived_at is not None
        if archived == "all" or gone == (archived == "true"):
            out.append((guardian, pupils[guardian.pupil_id].ref))
    return out


def find_guardian(session: Session, ref: str) -> Guardian | None:
    """The guardian with this reference, if any."""
    return session.scalar(select(Guardian).where(Guardian.ref == ref))


HEALTH_ROLES: Final = frozenset({Role.ADMIN, Role.TEACHER})
"""Who sees a pupil's program, basis and end of temporary home-schooling (DOMAIN.md): the
administration, which draws up the schedule, and the pupil's own teacher, who marks by the program
(quarter marks only under a correctional one) and keeps the observation diary of a disabled child.
Never a technician: mending a kit needs none of it."""


def pupil_view(pupil: Pupil, cipher: FieldCipher, role: str) -> dict[str, Any]:
    """A pupil as `role` may see them: health data for HEALTH_ROLES, the IIN for administrators."""
    view: dict[str, Any] = {
        "ref": pupil.ref,
        "name": cipher.decrypt(pupil.name_enc),
        "grade": pupil.grade,
        "program": None,
        "basis": None,
        "temporary_until": None,
        "school": pupil.school,
        "teacher": pupil.teacher,
        **_leaving(pupil),
    }
    if role in HEALTH_ROLES:
        until = cipher.decrypt_padded(pupil.temporary_until_enc)
        view["program"] = cipher.decrypt_padded(pupil.program_enc)
        view["basis"] = cipher.decrypt_padded(pupil.basis_enc)
        view["temporary_until"] = date.fromisoformat(until) if until else None
    if role == Role.ADMIN:
        view["iin"] = cipher.decrypt(pupil.iin_enc)
    return view


def guardian_view(
    guardian: Guardian, pupil_ref: str, cipher: FieldCipher, role: str
) -> dict[str, Any]:
    """A guardian as `role` may see them: the phone for all staff; IIN and address for admins."""
    view: dict[str, Any] = {
        "ref": guardian.ref,
        "pupil_ref": pupil_ref,
        "relation": guardian.relation,
        "name": cipher.decrypt(guardian.name_enc),
        "phone": cipher.decrypt(guardian.phone_enc),
        **_leaving(guardian),
    }
    if role == Role.ADMIN:
        view["address"] = cipher.decrypt(guardian.address_enc)
        view["iin"] = cipher.decrypt(guardian.iin_enc)
    return view


def _leaving(person: Pupil | Guardian) -> dict[str, Any]:
    """Whether, when and why a person left the school (archived)."""
    return {
        "archived": person.archived_at is not None,
        "left_on": person.left_on,
        "left_reason": person.archive_reason,
    }


_PUPIL_TOKENS: Final = ("name_enc", "iin_enc", "program_enc", "basis_enc", "temporary_until_enc")
_GUARDIAN_TOKENS: Final = ("name_enc", "phone_enc", "address_enc", "iin_enc")


def rotate(session: Session, *, cipher: FieldCipher, keys: int, actor: str, now: datetime) -> int:
    """Re-encrypt every personal field under the newest of `keys` keys (audited); people rewritten.

    The contracts' signatories are re-encrypted too (`signatures.rotate`); the count is of people.
    """
    count = 0
    for pupil in session.scalars(select(Pupil)):
        for column in _PUPIL_TOKENS:
            setattr(pupil, column, cipher.rotate(getattr(pupil, column)))
        count += 1
    for guardian in session.scalars(select(Guardian)):
        for column in _GUARDIAN_TOKENS:
            setattr(guardian, column, cipher.rotate(getattr(guardian, column)))
        count += 1
    contracts = signatures.rotate(session, cipher)
    audit.record(
        session,
        actor=actor,
        action="keys_rotated",
        entity="pii",
        entity_id="all",
        now=now,
        after={"rows": count, "contracts": contracts, "keys": keys},
    )
    return count
