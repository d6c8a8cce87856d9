"""A contract's components against what the kit's agent reports plugged in: missing and foreign.

- missing: a serial the contract lists that no reported device carries, watched or not, USB or
  peripheral. Pass only the serials the agent can see: a laptop's own serial, a printer on Wi-Fi or
  a sticker serial that differs from the USB descriptor would always be "missing".
- foreign: a device that could stand in for a lent component and reports a serial the contract
  does not list: a likely swap (a webcam or headset exchanged for another), which the school needs
  to hear about because the contract and the acts name serials.

Which devices are watched for "foreign", and why:

- peripherals of the kinds the lessons depend on and kits are adapted with: camera, audio capture,
  audio playback and braille (`WATCHED_KINDS`); input devices come in through their USB class;
- USB devices whose device class or any interface class is audio (01), HID (03) or video (0e)
  (`WATCHED_USB_CLASSES`): webcams, headsets and microphones, and the adapted keyboards,
  trackballs, switch interfaces and many braille displays, which are HID. Most devices put their
  class on the interfaces (bDeviceClass 00 or ef), so both are read. Mass storage, hubs, printers
  and network adapters are not watched: a family's flash drive is not a finding.

Devices without a serial (blank counts as none) are ignored for "foreign": most cheap mice,
keyboards and many built-in devices have none, and nothing would tell a lent one from another of
the same model. The reverse caveat: a built-in camera that does report a serial is foreign until
its serial is in the contract (or in `expected_serials`).

Serials are compared without surrounding spaces and without regard to case (USB descriptors and
stickers differ in case); a finding shows the serial as the contract or the device spells it.
Findings come sorted: every missing one by serial, then every foreign one by serial.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from protocol.inventory import DeviceKind, Peripherals

WATCHED_KINDS: Final = frozenset(
    {DeviceKind.CAMERA, DeviceKind.AUDIO_CAPTURE, DeviceKind.AUDIO_PLAYBACK, DeviceKind.BRAILLE}
)
"""Peripheral kinds whose unknown serials are reported as foreign."""

USB_CLASS_NAMES: Final = {"01": "audio", "03": "HID", "0e": "video"}
"""The USB classes watched by default, with the names a finding uses."""

WATCHED_USB_CLASSES: Final = frozenset(USB_CLASS_NAMES)
"""USB device or interface classes (2 lower-case hex digits) whose unknown serials are foreign."""


@dataclass(frozen=True)
class Finding:
    """A difference between the contract and the kit, with a sentence for a technician."""

    kind: Literal["missing", "foreign"]
    serial: str
    detail: str


def _key(serial: str | None) -> str:
    """The form serials are compared in; empty for no serial."""
    return (serial or "").strip().casefold()


def _usb_class(code: str) -> str:
    """A class code as 2 lower-case hex digits ("0E", "0xe" and "e" are all "0e")."""
    text = code.strip().lower().removeprefix("0x")
    return text.zfill(2)


def _reported(
    reported: Peripherals,
    watched_kinds: Collection[DeviceKind],
    watched_usb_classes: frozenset[str],
) -> Iterator[tuple[str, str, str | None]]:
    """Each device serial with its key and, for a watched device, how to describe it."""
    for device in reported.devices:
        if _key(device.serial):
            watched = device.kind in watched_kinds
            description = f"{device.kind.value} '{device.name}'" if watched else None
            yield _key(device.serial), (device.serial or "").strip(), description
    for usb in reported.usb:
        if not _key(usb.serial):
            continue
        classes = [_usb_class(c) for c in (usb.device_class, *usb.interface_classes) if c]
        watched_classes = [c for c in dict.fromkeys(classes) if c in watched_usb_classes]
        description = None
        if watched_classes:
            names = "/".join(USB_CLASS_NAMES.get(c, f"class {c}") for c in watched_classes)
            product = " ".join(p for p in (usb.vendor, usb.product) if p) or "unnamed"
            description = f"USB {names} device '{product}' ({usb.vendor_id}:{usb.product_id})"
        yield _key(usb.serial), (usb.serial or "").strip(), description


def reconcile(
    expected_serials: Collection[str],
    reported: Peripherals,
    *,
    watched_kinds: Collection[DeviceKind] = WATCHED_KINDS,
    watched_usb_classes: Collection[str] = WATCHED_USB_CLASSES,
) -> list[Finding]:
    """List the contract's serials the kit does not report, then watched devices not in it."""
    classes = frozenset(_usb_class(c) for c in watched_usb_classes)
    present: set[str] = set()
    foreign: dict[str, tuple[str, str]] = {}
    expected = {_key(serial): serial.strip() for serial in sorted(expected_serials, reverse=True)}
    expected.pop("", None)
    for key, serial, description in _reported(reported, watched_kinds, classes):
        present.add(key)
        if description is not None and key not in expected:
            foreign.setdefault(key, (serial, description))
    missing = [serial for key, serial in sorted(expected.items()) if key not in present]
    findings = [
        Finding(
            "missing",
            serial,
            f"the contract lists {serial}, but the kit reports no device with this serial: "
            "unplugged, broken or swapped",
        )
        for serial in missing
    ]
    findings.extend(
        Finding("foreign", serial, f"{description} reports serial {serial}, not in the contract")
        for _, (serial, description) in sorted(foreign.items())
    )
    return findings
