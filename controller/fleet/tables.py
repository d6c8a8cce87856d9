"""The fleet's tables: kits (latest state), telemetry and events (history, idempotent on msg_id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


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


class TelemetryHourly(Base):
    """One kit's snapshots of one hour, folded when the raw rows pass their retention."""

    __tablename__ = "telemetry_hourly"
    __table_args__ = (
        UniqueConstraint("kit_id", "hour", name="uq_telemetry_hourly_kit_hour"),
        Index("ix_telemetry_hourly_hour", "hour"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    hour: Mapped[datetime]
    samples: Mapped[int]
    cpu_avg: Mapped[float | None] = mapped_column(Float)
    cpu_max: Mapped[float | None] = mapped_column(Float)
    memory_avg: Mapped[float | None] = mapped_column(Float)
    memory_max: Mapped[float | None] = mapped_column(Float)
    disk_used_max: Mapped[float | None] = mapped_column(Float)
    battery_min: Mapped[float | None] = mapped_column(Float)
