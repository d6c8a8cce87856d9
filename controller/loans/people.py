"""Pupils and their parents or legal representatives, with personal data encrypted at rest.

Names, IINs, phones and addresses are stored as ciphertext
(`controller.platform.crypto.FieldCipher`); an IIN is also stored as a keyed hash, so that a person
can be found by IIN without decrypting every row. What each role may see of a person is decided
here, once (`pupil_view`, `guardian_view`).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.errors import ConfigError, ControllerError
from controller.loans.tables import Guardian, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.platform.iin import IinError, parse_iin
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.timebounds import BoundedDate

HIDDEN = "<encrypted>"
"""What the audit log says in place of personal data."""


class PeopleError(ControllerError):
    """A person that cannot be stored as given; the message says why."""


class Program(StrEnum):
    """The education program set by the PMPK (DOMAIN.md)."""

    GENERAL = "general"
    DELAYED_DEVELOPMENT = "delayed_development"
    CORRECTIONAL_1 = "correctional_1"
    CORRECTIONAL_2 = "correctional_2"


class Basis(StrEnum):
    """Why the pupil learns at home."""

    DISABILITY = "disability"
    TEMPORARY = "temporary"


class Relation(StrEnum):
    """Who signs for the pupil."""

    MOTHER = "mother"
    FATHER = "father"
    LEGAL_REPRESENTATIVE = "legal_representative"
    OTHER = "other"


REF = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _iin(value: str) -> str:
    try:
        return parse_iin(value).value
    except IinError as exc:
        raise ValueError(f"IIN: {exc}") from None


class PupilIn(BaseModel):
    """A pupil as an administrator enters one."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(pattern=REF, description="the school's own reference for the pupil")
    name: str = Field(min_length=2, max_length=200)
    iin: str
    grade: int = Field(ge=1, le=11)
    program: Program
    basis: Basis
    temporary_until: BoundedDate | None = None
    school: str = Field(min_length=2, max_length=255)
    teacher: str | None = Field(default=None, description="the teacher's user name")

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: _iin(v)))

    @model_validator(mode="after")
    def _temporary(self) -> PupilIn:
        if self.basis is Basis.TEMPORARY and self.temporary_until is None:
            raise ValueError("temporary home-schooling needs its end date (temporary_until)")
        if self.basis is Basis.TEMPORARY and self.program is not Program.GENERAL:
            raise ValueError("temporarily home-schooled pupils follow the general program")
        return self


def normalise_phone(value: str) -> str:
    """+7 and ten digits, from the ways people write Kazakh numbers."""
    digits = re.sub(r"[\s()\-]", "", value)
    if re.fullmatch(r"8\d{10}", digits):
        digits = "+7" + digits[1:]
    elif re.fullmatch(r"7\d{10}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+7\d{10}", digits):
        raise ValueError("phone: expected +7 and ten digits, e.g. +7 701 234 56 78")
    return digits


class GuardianIn(BaseModel):
    """A parent or legal representative as an administrator enters one."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(pattern=REF)
    pupil_ref: str = Field(pattern=REF)
    relation: Relation
    name: str = Field(min_length=2, max_length=200)
    phone: str
    address: str = Field(min_length=5, max_length=500)
    iin: str

    _check_iin = field_validator("iin")(classmethod(lambda cls, v: _iin(v)))
    _check_phone = field_validator("phone")(classmethod(lambda cls, v: normalise_phone(v)))


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
    session: Session, *, data: PupilIn, cipher: FieldCipher, actor: str, now: datetime
) -> Pupil:
    """Store a pupil; refuses a reference or IIN already known."""
    index = cipher.blind_index(data.iin)
    if session.scalar(select(Pupil.id).where(Pupil.ref == data.ref)) is not None:
        raise PeopleError(f"pupil {data.ref!r} already exists")
    if session.scalar(select(Pupil.id).where(Pupil.iin_index == index)) is not None:
        raise PeopleError("a pupil with this IIN already exists")
    pupil = Pupil(
        ref=data.ref,
        name_enc=cipher.encrypt(data.name),
        iin_enc=cipher.encrypt(data.iin),
        iin_index=index,
        grade=data.grade,
        program=data.program.value,
        basis=data.basis.value,
        temporary_until=data.temporary_until,
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
            "program": data.program.value,
            "school": data.school,
            "teacher": data.teacher,
        },
    )
    return pupil


def create_guardian(
    session: Session, *, data: GuardianIn, cipher: FieldCipher, actor: str, now: datetime
) -> Guardian:
    """Store a parent or legal representative of a known pupil."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == data.pupil_ref))
    if pupil is None:
        raise PeopleError(f"no pupil {data.pupil_ref!r}")
    if session.scalar(select(Guardian.id).where(Guardian.ref == data.ref)) is not None:
        raise PeopleError(f"guardian {data.ref!r} already exists")
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


def visible_pupils(session: Session, user: User) -> list[Pupil]:
    """The pupils this member of staff may see: a teacher, only their own."""
    query = select(Pupil).order_by(Pupil.ref)
    if user.role == Role.TEACHER:
        query = query.where(Pupil.teacher == user.username)
    return list(session.scalars(query))


def pupil_view(pupil: Pupil, cipher: FieldCipher, role: str) -> dict[str, Any]:
    """A pupil as `role` may see them: the IIN only for administrators."""
    view: dict[str, Any] = {
        "ref": pupil.ref,
        "name": cipher.decrypt(pupil.name_enc),
        "grade": pupil.grade,
        "program": pupil.program,
        "basis": pupil.basis,
        "temporary_until": pupil.temporary_until,
        "school": pupil.school,
        "teacher": pupil.teacher,
    }
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
    }
    if role == Role.ADMIN:
        view["address"] = cipher.decrypt(guardian.address_enc)
        view["iin"] = cipher.decrypt(guardian.iin_enc)
    return view


def rotate(session: Session, *, cipher: FieldCipher) -> int:
    """Re-encrypt every personal field under the newest key; returns the rows rewritten."""
    count = 0
    for pupil in session.scalars(select(Pupil)):
        pupil.name_enc = cipher.rotate(pupil.name_enc)
        pupil.iin_enc = cipher.rotate(pupil.iin_enc)
        count += 1
    for guardian in session.scalars(select(Guardian)):
        for column in ("name_enc", "phone_enc", "address_enc", "iin_enc"):
            setattr(guardian, column, cipher.rotate(getattr(guardian, column)))
        count += 1
    return count
