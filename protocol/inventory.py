"""Snapshot parts added by the inventory collectors: hardware health, peripherals, connectivity.

Every part is optional on the wire (an older agent does not send it) and, where sent, is either the
data or an `Unavailable` with the reason (no smartctl, no sensors, permission denied, ...).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, NonNegativeFloat, NonNegativeInt

from protocol.base import WireModel


class DiskHealth(WireModel):
    """SMART health of one physical disk (from `smartctl --json`)."""

    device: str
    model: str | None = None
    serial: str | None = None
    passed: bool | None = Field(default=None, description="SMART overall self-assessment")
    temperature_c: float | None = None
    power_on_hours: NonNegativeInt | None = None
    percentage_used: float | None = Field(default=None, description="NVMe wear, 0-100+")
    reallocated_sectors: NonNegativeInt | None = None


class Temperature(WireModel):
    """One temperature sensor."""

    label: str
    current_c: float
    high_c: float | None = None
    critical_c: float | None = None


class Fan(WireModel):
    """One fan."""

    label: str
    rpm: NonNegativeInt


class Sensors(WireModel):
    """Temperatures and fans, where the hardware exposes them."""

    temperatures: list[Temperature] = Field(default_factory=list)
    fans: list[Fan] = Field(default_factory=list)


class BatteryHealth(WireModel):
    """What the battery says about its own wear (sysfs power_supply)."""

    wear_percent: float | None = Field(default=None, description="100 - full/design capacity")
    cycle_count: NonNegativeInt | None = None
    energy_full_wh: NonNegativeFloat | None = None
    energy_full_design_wh: NonNegativeFloat | None = None
    status: str | None = None


class ServiceState(WireModel):
    """One system service the kit depends on."""

    role: str = Field(description="agent, network, audio or time")
    name: str = Field(description="the unit or process that fills the role")
    active: bool
    detail: str = ""


class AgentProcess(WireModel):
    """The agent's own footprint."""

    cpu_percent: NonNegativeFloat
    rss_bytes: NonNegativeInt
    threads: NonNegativeInt


class UsbDevice(WireModel):
    """One USB device."""

    vendor_id: str = Field(description="4 hex digits")
    product_id: str = Field(description="4 hex digits")
    vendor: str | None = None
    product: str | None = None
    serial: str | None = None
    device_class: str | None = Field(default=None, description="bDeviceClass, 2 hex digits")
    interface_classes: list[str] = Field(default_factory=list)
    sys_path: str | None = None


class DeviceKind(StrEnum):
    """What a peripheral is for, as the profiles name it."""

    CAMERA = "camera"
    AUDIO_CAPTURE = "audio_capture"
    AUDIO_PLAYBACK = "audio_playback"
    INPUT = "input"
    BRAILLE = "braille"
    USB = "usb"


class Peripheral(WireModel):
    """A camera, audio device, input device or braille display."""

    kind: DeviceKind
    name: str
    devnode: str | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    serial: str | None = None
    sys_path: str | None = None


class Peripherals(WireModel):
    """Everything plugged into the kit."""

    usb: list[UsbDevice] = Field(default_factory=list)
    devices: list[Peripheral] = Field(default_factory=list)


class Verdict(StrEnum):
    """Whether the kit can hold a webinar now."""

    READY = "ready"
    DEGRADED = "degraded"
    NOT_READY = "not_ready"


class EndpointProbe(WireModel):
    """A short series of probes to one endpoint."""

    name: str = Field(description="controller, broker, webinar, ...")
    host: str
    port: int
    sent: NonNegativeInt
    received: NonNegativeInt
    rtt_ms: NonNegativeFloat | None = Field(default=None, description="median round trip")
    jitter_ms: NonNegativeFloat | None = Field(default=None, description="mean |delta| of RTTs")
    loss_percent: float = Field(ge=0, le=100)
    error: str | None = None


class Readiness(WireModel):
    """The webinar readiness verdict and why."""

    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)


class Connectivity(WireModel):
    """Link, route, name resolution and the probes to each endpoint."""

    link_up: bool
    default_route: str | None = Field(default=None, description="the gateway, if any")
    dns_ok: bool | None = None
    dns_ms: NonNegativeFloat | None = None
    endpoints: list[EndpointProbe] = Field(default_factory=list)
    throughput_mbps: NonNegativeFloat | None = None
    readiness: Readiness


class ProfileCheck(WireModel):
    """The kit against its profile (images/profiles/<name>.yaml)."""

    profile: str
    complete: bool
    missing: list[str] = Field(default_factory=list, description="human-readable requirements")


class FirmwareDevice(WireModel):
    """One device fwupd knows."""

    name: str
    version: str | None = None
    vendor: str | None = None
    update_available: bool | None = None
