"""The loans' tables: pupils, guardians, components and loan contracts (personal data encrypted)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.fleet.tables import Kit as Kit  # the table its keys refer to
from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


class Pupil(Base):
    """A home-schooled pupil; name, IIN, program and basis (health data) encrypted.

    The program, the basis and the end of temporary home-schooling (which tells the basis) are
    padded before encryption (`FieldCipher.encrypt_padded`): their tokens are all one length.
    `temporary_until_enc` holds the ISO date, or the empty text when there is none.
    """

    __tablename__ = "pupils"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[str] = mapped_column(Text)
    iin_enc: Mapped[str] = mapped_column(Text)
    iin_index: Mapped[str] = mapped_column(String(64), unique=True)
    grade: Mapped[int] = mapped_column(Integer)
    program_enc: Mapped[str] = mapped_column(Text)
    basis_enc: Mapped[str] = mapped_column(Text)
    temporary_until_enc: Mapped[str] = mapped_column(Text)
    school: Mapped[str] = mapped_column(String(255))
    teacher: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]  # left the school (`people_changes.archive`)
    archive_reason: Mapped[str | None] = mapped_column(String(32))
    left_on: Mapped[date | None] = mapped_column(Date)
    promoted_into: Mapped[str | None] = mapped_column(String(9))  # "2026-2027" (`promote`)


class Guardian(Base):
    """A parent or legal representative; name, phone, address and IIN encrypted."""

    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    pupil_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("pupils.id"))
    relation: Mapped[str] = mapped_column(String(32))
    name_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    address_enc: Mapped[str] = mapped_column(Text)
    iin_enc: Mapped[str] = mapped_column(Text)
    iin_index: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    archive_reason: Mapped[str | None] = mapped_column(String(32))
    left_on: Mapped[date | None] = mapped_column(Date)


class Component(Base):
    """A serial-numbered item: in a kit, or spare stock when `kit_id` is empty."""

    __tablename__ = "components"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    condition: Mapped[str] = mapped_column(String(64))
    kit_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    created_at: Mapped[datetime]


class LoanContract(Base):
    """A contract of free temporary use: its state and what was signed, handed over, returned.

    Who signed (the guardian, the school, each act's `signed_by_enc`) is encrypted.
    """

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    school: Mapped[str] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(128))
    guardian_ref: Mapped[str] = mapped_column(String(64))
    pupil_ref: Mapped[str] = mapped_column(String(64))
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    state: Mapped[str] = mapped_column(String(16))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    terms_version: Mapped[str] = mapped_column(String(32))
    components: Mapped[list[dict[str, str]]] = mapped_column(JSONDoc)
    signed_by_guardian_enc: Mapped[str | None] = mapped_column(Text)
    signed_by_school_enc: Mapped[str | None] = mapped_column(Text)
    training_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    handover: Mapped[dict[str, Any] | None]
    return_act: Mapped[dict[str, Any] | None]
    termination_reason: Mapped[str | None] = mapped_column(String(500))
    annexes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime]


class ContractDocument(Base):
    """A document a party signed, frozen: the PDF as rendered then, encrypted, and its sha256.

    `kind` is contract, handover, return or annex (`annex` its number; 0 for the others).
    """

    __tablename__ = "contract_documents"
    __table_args__ = (
        UniqueConstraint(
            "contract_number", "kind", "annex", "lang", name="uq_contract_documents_one"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    contract_number: Mapped[str] = mapped_column(
        String(64), ForeignKey("contracts.number"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    annex: Mapped[int] = mapped_column(Integer, default=0)
    lang: Mapped[str] = mapped_column(String(2))
    sha256: Mapped[str] = mapped_column(String(64))
    pdf_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
