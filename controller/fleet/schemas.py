"""The fleet's API shapes: the controller's health, kits, their telemetry and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    """Liveness and the state of the controller's two dependencies."""

    status: str = Field(
        description="ok, or degraded when the database or broker is unreachable or the "
        "revocation list is about to expire"
    )
    database: str
    mqtt: str
    version: str
    crl: str = Field(
        default="not used",
        description="ok; else why the revocation list the broker checks is a problem (it "
        "expires within 7 days, or has expired); 'not used' without TLS",
    )


class KitSummary(BaseModel):
    """One kit in the fleet list."""

    model_config = ConfigDict(from_attributes=True)

    kit_id: str
    lifecycle: str = Field(description="active, in_repair, or lost / retired / returned (revoked)")
    status: str = Field(
        default="in_stock",
        description="inventory status: in_stock, loaned, in_repair, retired or lost",
    )
    online: bool
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    hostname: str | None
    agent_version: str | None
    interval_s: float | None
    last_seq: int = Field(description="highest message sequence number stored for this kit")
    acked_seq: int = Field(description="every message up to this seq is stored (the kit's ack)")
    latest_ts: datetime | None = Field(description="when the latest snapshot was taken on the kit")
    cpu_percent: float | None
    memory_percent: float | None
    disk_used_percent: float | None = Field(description="fullest mounted disk")
    battery_percent: float | None
    profile: str | None = Field(
        default=None, description="the kit's profile: base, low-vision, hearing, motor, blind"
    )
    readiness: str | None = Field(
        description="webinar readiness from the latest probe: ready, degraded or not_ready"
    )
    profile_missing: list[str] | None = Field(
        description="what the kit lacks for its profile (empty: complete; null: not checked)"
    )


class KitList(BaseModel):
    """The fleet."""

    count: int
    online: int
    items: list[KitSummary]


class HistoryPoint(BaseModel):
    """Key figures of one past snapshot."""

    seq: int
    ts: datetime
    cpu_percent: float | None
    memory_percent: float | None
    disk_used_percent: float | None
    battery_percent: float | None


class EventOut(BaseModel):
    """One event from a kit."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    msg_id: str
    ts: datetime
    received_at: datetime
    kind: str
    severity: str
    message: str
    body: dict[str, Any]


class KitDetail(KitSummary):
    """One kit: its latest snapshot, recent history and events."""

    latest: dict[str, Any] | None = Field(description="the latest telemetry snapshot, as sent")
    history: list[HistoryPoint]
    events: list[EventOut]


class TelemetryItem(BaseModel):
    """One stored snapshot, as the kit sent it."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    msg_id: str
    ts: datetime
    received_at: datetime
    body: dict[str, Any]


class TelemetryPage(BaseModel):
    """A page of stored snapshots in seq order; ask again with `after_seq=next_after_seq`."""

    kit_id: str
    items: list[TelemetryItem]
    next_after_seq: int | None = Field(
        description="pass as after_seq for the next page; null at end"
    )


class EventPage(BaseModel):
    """A page of stored events in seq order; ask again with `after_seq=next_after_seq`."""

    kit_id: str
    items: list[EventOut]
    next_after_seq: int | None
