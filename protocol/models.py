"""Versioned message models: the envelope and the bodies carried on each agent topic.

Everything read from the wire is lenient (unknown fields are ignored) so that a newer agent can
talk to an older controller; everything required is checked. A part of the snapshot that could not
be collected is an `Unavailable` with the reason, never a missing key or a crash.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

from protocol.base import Unavailable as Unavailable  # re-exported: part of the snapshot
from protocol.base import WireModel as WireModel
from protocol.inventory import (
    AgentProcess,
    BatteryHealth,
    Connectivity,
    DiskHealth,
    FirmwareDevice,
    Peripherals,
    ProfileCheck,
    Sensors,
    ServiceState,
)
from protocol.limits import EPOCH_PATTERN, KIT_ID_PATTERN, MAX_SEQ, SCHEMA_VERSION


class Cpu(WireModel):
    """Processor load."""

    percent: float = Field(ge=0, le=100)
    count: int | None = Field(default=None, ge=1)
    load_1m: NonNegativeFloat | None = None
    load_5m: NonNegativeFloat | None = None
    load_15m: NonNegativeFloat | None = None


class Memory(WireModel):
    """Physical memory."""

    total_bytes: NonNegativeInt
    available_bytes: NonNegativeInt
    used_percent: float = Field(ge=0, le=100)


class Swap(WireModel):
    """Swap space."""

    total_bytes: NonNegativeInt
    used_bytes: NonNegativeInt
    used_percent: float = Field(ge=0, le=100)


class Disk(WireModel):
    """One mounted file system."""

    mountpoint: str
    device: str
    fstype: str
    total_bytes: NonNegativeInt
    used_bytes: NonNegativeInt
    free_bytes: NonNegativeInt
    used_percent: float = Field(ge=0, le=100)


class Battery(WireModel):
    """The battery, where the kit has one."""

    percent: float = Field(ge=0, le=100)
    plugged: bool | None = None
    secs_left: int | None = Field(default=None, ge=0)


class NetInterface(WireModel):
    """One network interface."""

    name: str
    is_up: bool
    speed_mbps: NonNegativeInt | None = None
    mtu: NonNegativeInt | None = None
    addresses: list[str] = Field(default_factory=list)
    bytes_sent: NonNegativeInt = 0
    bytes_recv: NonNegativeInt = 0
    errors_in: NonNegativeInt = 0
    errors_out: NonNegativeInt = 0


class Telemetry(WireModel):
    """The periodic health snapshot (`kits/{id}/telemetry`)."""

    hostname: str = Field(max_length=255)
    os: str = Field(max_length=255)
    agent_version: str = Field(max_length=64)
    interval_s: float = Field(gt=0, le=86400)
    uptime_s: NonNegativeFloat
    boot_time: AwareDatetime
    cpu: Cpu | Unavailable
    memory: Memory | Unavailable
    swap: Swap | Unavailable
    disks: list[Disk] | Unavailable
    battery: Battery | Unavailable
    network: list[NetInterface] | Unavailable
    # Added by the inventory collectors (protocol/inventory.py); absent from older agents.
    battery_health: BatteryHealth | Unavailable | None = None
    disk_health: list[DiskHealth] | Unavailable | None = None
    sensors: Sensors | Unavailable | None = None
    services: list[ServiceState] | Unavailable | None = None
    agent_process: AgentProcess | Unavailable | None = None
    peripherals: Peripherals | Unavailable | None = None
    connectivity: Connectivity | Unavailable | None = None
    profile: ProfileCheck | Unavailable | None = None
    firmware: list[FirmwareDevice] | Unavailable | None = None


class Severity(StrEnum):
    """How much an event matters to a person."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Event(WireModel):
    """Something that happened on the kit (`kits/{id}/events`): hotplug, alert, gap, result, ..."""

    kind: str = Field(min_length=1, max_length=64)
    severity: Severity = Severity.INFO
    message: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


class Status(WireModel):
    """Retained presence (`kits/{id}/status`); `offline` is also the Last Will."""

    state: Literal["online", "offline"]
    reason: str | None = Field(default=None, max_length=200)
    agent_version: str | None = Field(default=None, max_length=64)
    interval_s: float | None = Field(default=None, gt=0, le=86400)
    bundle_version: int | None = Field(
        default=None, ge=0, description="the newest signed playbook bundle the kit accepted"
    )


class Ack(WireModel):
    """The controller's commit watermark (`kits/{id}/ack`, retained)."""

    watermark: int = Field(
        ge=0, le=MAX_SEQ, description="every message of this kit with seq <= watermark is committed"
    )
    epoch: str | None = Field(
        default=None,
        pattern=EPOCH_PATTERN,
        description="the outbox life the watermark counts in; an agent ignores another's",
    )


class GapData(WireModel):
    """What a `gap` event's `data` says: the span of messages the kit dropped."""

    dropped: int = Field(ge=1, le=MAX_SEQ)
    first_seq: int = Field(ge=1, le=MAX_SEQ)
    last_seq: int = Field(ge=1, le=MAX_SEQ)
    reason: str = ""


class Command(WireModel):
    """Something the controller asks the agent to do (`kits/{id}/cmd`); `msg_id` is its id."""

    kind: str = Field(min_length=1, max_length=64)
    expires_at: AwareDatetime | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class LessonMode(StrEnum):
    """How a lesson is given (DOMAIN.md): all of them need the kit."""

    ONLINE = "online"
    HOME_VISIT = "home_visit"
    SELF_STUDY = "self_study"


class LessonWindow(WireModel):
    """One upcoming lesson as the kit sees it (UTC; no teacher or pupil names)."""

    start: AwareDatetime
    end: AwareDatetime
    mode: LessonMode = LessonMode.ONLINE
    subject: str = Field(default="", max_length=200)
    server: str | None = Field(
        default=None, max_length=255, description="host:port of an online lesson's server"
    )


class Schedule(WireModel):
    """The pupil's upcoming lessons (`kits/{id}/schedule`, retained), so the kit decides offline."""

    generated_at: AwareDatetime
    horizon_end: AwareDatetime = Field(description="lessons are listed up to this time")
    timezone: str = Field(default="Asia/Almaty", max_length=64)
    guard_minutes: int = Field(default=15, ge=0, le=240)
    prelesson_minutes: int = Field(
        default=30, ge=1, le=240, description="how long before an online lesson the kit checks"
    )
    lessons: list[LessonWindow] = Field(default_factory=list, max_length=1000)


class Envelope(WireModel):
    """What every message is wrapped in (DESIGN.md). `body` is typed by the subclasses below."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, alias="schema")
    kit_id: str = Field(pattern=KIT_ID_PATTERN)
    msg_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=MAX_SEQ)
    ts: AwareDatetime
    epoch: str | None = Field(
        default=None,
        pattern=EPOCH_PATTERN,
        description="the life of the kit's outbox that numbered this message (data only)",
    )
    body: Any

    def to_bytes(self) -> bytes:
        """Serialise for the wire (JSON, with the `schema` field name)."""
        return self.model_dump_json(by_alias=True).encode()


class TelemetryMessage(Envelope):
    """An envelope carrying a telemetry snapshot."""

    body: Telemetry


class EventMessage(Envelope):
    """An envelope carrying an event."""

    body: Event


class StatusMessage(Envelope):
    """An envelope carrying presence: state, not history, so its `seq` is not acknowledged."""

    body: Status


class AckMessage(Envelope):
    """An envelope carrying the ack watermark (controller messages use seq 0)."""

    body: Ack


class CommandMessage(Envelope):
    """An envelope carrying a command."""

    body: Command


class ScheduleMessage(Envelope):
    """An envelope carrying the pupil's upcoming lessons (controller messages use seq 0)."""

    body: Schedule


def new_msg_id() -> str:
    """A fresh unique message id."""
    return uuid.uuid4().hex


def envelope_kwargs(
    kit_id: str, seq: int, ts: datetime, epoch: str | None = None
) -> dict[str, Any]:
    """The envelope fields for a new message (a fresh msg_id)."""
    return {"kit_id": kit_id, "msg_id": new_msg_id(), "seq": seq, "ts": ts, "epoch": epoch}
