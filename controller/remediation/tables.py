"""Incidents on the ladder, their history, remediation commands, rule states, diagnostics.

Beside them what the remediator remembers per kit: the bundle it has (`KitBundle`), how far the
rules have read its snapshots (`RulesCursor`) and the schedule last published to it
(`PublishedSchedule`), each in its own table since migration 0013; and how much of each daily
quota it has used (`KitQuota`, migration 0018).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.fleet.tables import Kit as Kit  # the table its keys refer to
from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


class Incident(Base):
    """One fault on one kit, from the rule firing until the fault is gone."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_kit_open", "kit_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    rule_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    costs_lessons: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(Integer, default=0)
    step_action: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    step_started: Mapped[datetime]
    deadline: Mapped[datetime]
    not_before: Mapped[datetime | None]
    wake_at: Mapped[datetime | None] = mapped_column(index=True)
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(500))
    lesson_minutes_lost: Mapped[float] = mapped_column(Float, default=0.0)
    ladder: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    """The rule's ladder as it was when the incident opened (rules may change meanwhile)."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped by every write: a pass and a technician acting at once cannot both win."""

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own attribute


class IncidentEntry(Base):
    """One line of an incident's history: opened, self-heal, run, deferred, result, ticket, ..."""

    __tablename__ = "incident_history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class RemediationCommand(Base):
    """A playbook run asked of a kit: by the ladder or by a technician, now or in a free window."""

    __tablename__ = "remediation_commands"

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("incidents.id"))
    step: Mapped[int | None] = mapped_column(Integer)
    playbook: Mapped[str] = mapped_column(String(64))
    disruptive: Mapped[bool] = mapped_column(Boolean, default=False)
    check: Mapped[bool] = mapped_column(Boolean, default=False)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    not_before: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), index=True)
    """scheduled, sent, succeeded, failed (timeout, refused, busy included), expired."""
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    extra_vars: Mapped[dict[str, Any] | None]
    """The variables the run sets, checked against the playbook's declaration (migration 0015)."""


class RuleState(Base):
    """What one rule remembers about one kit (durations, hysteresis, throttling)."""

    __tablename__ = "rule_states"

    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pending_since: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    last_fired: Mapped[datetime | None]
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)


class RemediationCursor(Base):
    """How far the remediator has read: events (by id), telemetry (by kit's latest time)."""

    __tablename__ = "remediation_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime | None]


class KitBundle(Base):
    """Which signed playbook bundle a kit has accepted, and which was last sent to it."""

    __tablename__ = "kit_bundles"

    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), primary_key=True)
    accepted: Mapped[int | None] = mapped_column(Integer)
    sent: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None]
    refused_reason: Mapped[str | None] = mapped_column(String(500))


class RulesCursor(Base):
    """How far the rules have read one kit: the arrival of the newest snapshot they evaluated."""

    __tablename__ = "rules_cursors"

    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), primary_key=True)
    evaluated_at: Mapped[datetime]


class PublishedSchedule(Base):
    """What was last published as a kit's retained schedule (republished when it changes)."""

    __tablename__ = "published_schedules"

    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    """A hash of the schedule's lessons and settings (not of when it was generated)."""


class Diagnostics(Base):
    """A diagnostics bundle a kit uploaded: logs and a snapshot, gzip-compressed JSON."""

    __tablename__ = "diagnostics"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), index=True)
    command_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    size: Mapped[int] = mapped_column(Integer, default=0)
    """The upload's size once unpacked (measured by the controller, not what the kit says)."""
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None]
    """After this no upload is taken against the request (None: requested_at + the window)."""
    refused_reason: Mapped[str | None] = mapped_column(String(200))
    """Why the upload sent against this request was refused (the request is used up)."""


class KitQuota(Base):
    """How many events of one kind that make rows or work a kit had taken today (UTC)."""

    __tablename__ = "kit_quotas"

    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    """The UTC day the counts are of (ISO date); a new day starts them again."""
    used: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
