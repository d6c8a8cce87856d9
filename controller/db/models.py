"""The tables: kits (latest state), telemetry and events (history, idempotent on msg_id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from controller.db.types import BigIntPK, JSONDoc, UTCDateTime


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSONDoc}


class Kit(Base):
    """One kit as last heard from."""

    __tablename__ = "kits"

    kit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status_changed_at: Mapped[datetime | None]
    agent_version: Mapped[str | None] = mapped_column(String(64))
    interval_s: Mapped[float | None] = mapped_column(Float)
    hostname: Mapped[str | None] = mapped_column(String(255))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    latest_ts: Mapped[datetime | None]
    latest: Mapped[dict[str, Any] | None]
    cpu_percent: Mapped[float | None] = mapped_column(Float)
    memory_percent: Mapped[float | None] = mapped_column(Float)
    disk_used_percent: Mapped[float | None] = mapped_column(Float)
    battery_percent: Mapped[float | None] = mapped_column(Float)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    epoch: Mapped[str | None] = mapped_column(String(32))
    readiness: Mapped[str | None] = mapped_column(String(16))
    profile: Mapped[str | None] = mapped_column(String(64))
    profile_missing: Mapped[list[str] | None] = mapped_column(JSONDoc)
    lifecycle: Mapped[str] = mapped_column(String(16), default="active", server_default="active")


class Telemetry(Base):
    """One stored snapshot."""

    __tablename__ = "telemetry"
    __table_args__ = (
        UniqueConstraint("kit_id", "msg_id", name="uq_telemetry_kit_msg"),
        Index("ix_telemetry_kit_seq", "kit_id", "seq"),
        Index("ix_telemetry_kit_epoch_seq", "kit_id", "epoch", "seq"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    msg_id: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class Event(Base):
    """One stored event."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("kit_id", "msg_id", name="uq_events_kit_msg"),
        Index("ix_events_kit_seq", "kit_id", "seq"),
        Index("ix_events_kit_epoch_seq", "kit_id", "epoch", "seq"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    msg_id: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(2000))
    body: Mapped[dict[str, Any]]


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


class AuditEntry(Base):
    """Who changed what, when, from what to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class Pupil(Base):
    """A home-schooled pupil; name and IIN encrypted."""

    __tablename__ = "pupils"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[str] = mapped_column(Text)
    iin_enc: Mapped[str] = mapped_column(Text)
    iin_index: Mapped[str] = mapped_column(String(64), unique=True)
    grade: Mapped[int] = mapped_column(Integer)
    program: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(16))
    temporary_until: Mapped[date | None] = mapped_column(Date)
    school: Mapped[str] = mapped_column(String(255))
    teacher: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


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
    """A contract of free temporary use: its state and what was signed, handed over, returned."""

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
    signed_by_guardian: Mapped[str | None] = mapped_column(String(200))
    signed_by_school: Mapped[str | None] = mapped_column(String(200))
    training_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    handover: Mapped[dict[str, Any] | None]
    return_act: Mapped[dict[str, Any] | None]
    termination_reason: Mapped[str | None] = mapped_column(String(500))
    annexes: Mapped[list[dict[str, str]]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime]
