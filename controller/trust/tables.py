"""Trust's tables: enrolment tokens, kit certificates, staff users and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.fleet.tables import Kit as Kit  # the table its keys refer to
from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK


class EnrollToken(Base):
    """A one-time enrolment token; only the SHA-256 of its secret is kept."""

    __tablename__ = "enroll_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Certificate(Base):
    """A kit certificate the CA issued (the public part only; the key never leaves the kit)."""

    __tablename__ = "certificates"
    __table_args__ = (
        # renewals in the last day (the limit), a kit's live certificates (superseding)
        Index("ix_certificates_kit_issued", "kit_id", "issued_via", "issued_at"),
    )

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    kit_id: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    issued_at: Mapped[datetime]
    issued_via: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class User(Base):
    """A member of staff: admin, technician or teacher."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
