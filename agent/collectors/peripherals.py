"""The pyudev facade: USB devices, cameras, microphones, speakers, input devices, braille displays.

`inventory()` lists what is plugged in now; `HotplugMonitor` reports what is plugged in or pulled
out while the agent runs. This is the only module that imports pyudev.

What counts (the rest of udev is ignored):

- USB: every `usb_device` except root hubs (`usbN`), with its ids, names, serial and classes;
- cameras: `video4linux` nodes that capture (`ID_V4L_CAPABILITIES` has `:capture:`), not the
  metadata nodes a UVC camera also registers;
- audio: `sound` PCM nodes, `pcmC<card>D<device>c` (capture, a microphone) and `...p` (playback);
  the inventory keeps the first node of each direction per card, hotplug reports every node;
- input: `input` event nodes that udev tags as a keyboard, mouse, trackball, touchpad,
  touchscreen, tablet, joystick or pointing stick; the roles end the name, as in
  `"Logitech USB Trackball (mouse, trackball)"`, so a profile can ask for one by name.
  Virtual devices (`/devices/virtual`, e.g. brltty's own uinput keyboard) are left out;
- braille displays: USB devices whose vendor:product is a known braille display
  (`BRAILLE_DISPLAYS`), or that brltty's udev rules claimed (`BRLTTY_BRAILLE_DRIVER`), except the
  generic USB-serial bridges brltty also claims (`GENERIC_SERIAL_BRIDGES`: a CH340 is far more
  often an Arduino than a braille display).

Vendor, product and serial of a camera, audio or input device come from its USB parent. If udev
cannot be read at all, `inventory` raises `PeripheralsError` (or `PermissionError`); the snapshot
code turns either into `Unavailable`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any, Final

import pyudev  # type: ignore[import-untyped]  # pyudev ships no type information

from agent.errors import AgentError
from protocol.inventory import DeviceKind, Peripheral, Peripherals, UsbDevice

_LOGGER = logging.getLogger(__name__)

Change = Peripheral | UsbDevice
OnChange = Callable[[str, Change], None]

# vendor:product -> model, from brltty's list of USB braille displays (brltty 6.5), without the
# generic chips in GENERIC_SERIAL_BRIDGES.
BRAILLE_DISPLAYS: Final[Mapping[str, str]] = {
    "0f4e:0100": "Freedom Scientific Focus 1",
    "0f4e:0111": "Freedom Scientific PAC Mate",
    "0f4e:0112": "Freedom Scientific Focus 2",
    "0f4e:0114": "Freedom Scientific Focus 3+ / Focus Blue",
    "1c71:c004": "HumanWare BrailleNote Apex",
    "1c71:c005": "HumanWare Brailliant BI 32/40, B 80",
    "1c71:c006": "HumanWare Brailliant (HID)",
    "1c71:c00a": "HumanWare BrailleNote Touch",
    "1c71:c021": "HumanWare Brailliant BI 14",
    "1c71:c111": "APH Mantis Q40 (HID)",
    "1c71:c114": "APH Mantis Q40",
    "1c71:c121": "HumanWare BrailleOne (HID)",
    "1c71:c124": "HumanWare BrailleOne",
    "1c71:c131": "HumanWare Brailliant BI 40X",
    "1c71:c141": "HumanWare Brailliant BI 20X",
    "045e:930a": "HIMS Braille Sense",
    "045e:930b": "HIMS Braille Edge / QBrailleXL",
    "0403:f208": "Papenmeier braille display",
    "0403:fe70": "Baum Vario 40",
    "0403:fe71": "Baum PocketVario",
    "0403:fe72": "Baum SuperVario 40",
    "0904:2000": "Baum VarioPro 40",
    "0904:2001": "Baum EcoVario 24",
    "0904:2002": "Baum EcoVario 40",
    "0904:3000": "Baum Refreshabraille 18",
    "0904:3001": "Baum Refreshabraille 18 / Orbit",
    "0904:4005": "Baum Pronto! V3 40",
    "0904:4008": "Baum Pronto! V4 40",
    "0904:6001": "Baum SuperVario2 40",
    "0904:6006": "Baum Brailliant2 40",
    "0904:6101": "Baum VarioUltra 20",
    "0904:6102": "Baum VarioUltra 40",
    "0483:a1d3": "Orbit Reader 20",
    "0483:a366": "Orbit Reader 40",
    "1fe4:0054": "Handy Tech Active Braille",
    "1fe4:0055": "Handy Tech Connect Braille 40",
    "1fe4:0061": "Handy Tech Actilino",
    "1fe4:0064": "Handy Tech Active Star 40",
    "1fe4:0074": "Handy Tech Braille Star 40",
    "1fe4:0084": "Handy Tech Basic Braille 40",
    "06b0:0001": "Alva Satellite",
    "0798:0640": "Optelec ALVA BC640",
    "0798:0680": "Optelec ALVA BC680",
    "0452:0100": "Metec braille display",
    "1148:0301": "BrailleMemo Smart",
}

# USB-serial chips that brltty's udev rules claim for some displays but that sit in many other
# things (Arduinos, GPS receivers, programmers): never a braille display on their own.
GENERIC_SERIAL_BRIDGES: Final[frozenset[str]] = frozenset(
    {"0403:6001", "10c4:ea60", "10c4:ea80", "1a86:7523", "067b:2303", "16c0:05e1"}
)

# udev input properties -> the role named in the peripheral's name, in this order.
INPUT_ROLES: Final[Mapping[str, str]] = {
    "ID_INPUT_KEYBOARD": "keyboard",
    "ID_INPUT_MOUSE": "mouse",
    "ID_INPUT_TRACKBALL": "trackball",
    "ID_INPUT_TOUCHPAD": "touchpad",
    "ID_INPUT_TOUCHSCREEN": "touchscreen",
    "ID_INPUT_TABLET": "tablet",
    "ID_INPUT_JOYSTICK": "joystick",
    "ID_INPUT_POINTINGSTICK": "pointingstick",
}

_HEX_ID = re.compile(r"^[0-9a-f]{1,4}$")
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_USB_DEVICE_NAME = re.compile(r"^\d+-\d+(?:\.\d+)*$")  # 1-2, 3-1.4.2; not usb1, not 1-2:1.0
_PCM = re.compile(r"^pcmC(\d+)D(\d+)([cp])$")
_DIGITS = re.compile(r"(\d+)")
_POLL_S = 0.2  # how long the hotplug thread waits before it looks at its stop flag again


class PeripheralsError(AgentError):
    """udev cannot be read here (no libudev, no netlink); the snapshot reports it as unavailable."""


# --- reading one udev device ---------------------------------------------------------------


def _prop(device: Any, key: str) -> str | None:
    try:
        value = device.properties.get(key)
    except (KeyError, OSError, UnicodeDecodeError):
        return None
    if value is None:
        return None
    return str(value).strip() or None


def _attr(device: Any, key: str) -> str | None:
    try:
        value = device.attributes.get(key)
    except (KeyError, OSError, UnicodeDecodeError):  # a device that is going away
        return None
    if value is None:
        return None
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()
    return text or None


def _unescape(text: str | None) -> str | None:
    """Undo udev's `\\x20` escapes in `*_ENC` properties."""
    if not text:
        return None
    out = bytearray()
    pos = 0
    for match in _HEX_ESCAPE.finditer(text):
        out += text[pos : match.start()].encode()
        out.append(int(match.group(1), 16))
        pos = match.end()
    out += text[pos:].encode()
    return out.decode("utf-8", "replace").strip() or None


def _hex_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.lower().removeprefix("0x")
    return value.zfill(4) if _HEX_ID.match(value) else None


def _usb_parent(device: Any) -> Any | None:
    """The USB device this one belongs to: the deepest `1-2.3` in its path, if that is in sysfs.

    While a device comes or goes, part of its sysfs tree may be missing and libudev would then
    walk up to the root hub; the path check keeps the root hub's ids off the peripheral.
    """
    if device.device_type == "usb_device":
        return device
    names = [p for p in PurePosixPath(device.sys_path or "").parts if _USB_DEVICE_NAME.match(p)]
    if not names:
        return None  # not on USB (PCI sound, PS/2 keyboard, Bluetooth, ...)
    try:
        parent = device.find_parent("usb", "usb_device")
    except (OSError, ValueError, LookupError):  # the device is already gone
        return None
    if parent is None or parent.sys_name != names[-1]:
        return None
    return parent


def _parent(device: Any) -> Any | None:
    try:
        return device.parent
    except (OSError, ValueError, LookupError):
        return None


def _ids(device: Any, usb: Any | None) -> tuple[str | None, str | None]:
    """Vendor and product id: the USB parent's sysfs attributes, else what udev recorded."""
    for source in (usb, device):
        if source is None:
            continue
        vendor = _hex_id(_attr(source, "idVendor") or _prop(source, "ID_VENDOR_ID"))
        product = _hex_id(_attr(source, "idProduct") or _prop(source, "ID_MODEL_ID"))
        if vendor and product:
            return vendor, product
        parts = (_prop(source, "PRODUCT") or "").split("/")  # the kernel's "46d/82d/11"
        if len(parts) == 3 and (vendor := _hex_id(parts[0])) and (product := _hex_id(parts[1])):
            return vendor, product
    return None, None


def _serial(device: Any, usb: Any | None) -> str | None:
    for source in (usb, device):
        if source is not None and (serial := _prop(source, "ID_SERIAL_SHORT")):
            return serial
    return _attr(usb, "serial") if usb is not None else None


def _vendor_name(usb: Any) -> str | None:
    return (
        _attr(usb, "manufacturer")
        or _prop(usb, "ID_VENDOR_FROM_DATABASE")
        or _unescape(_prop(usb, "ID_VENDOR_ENC"))
    )


def _product_name(usb: Any) -> str | None:
    return (
        _attr(usb, "product")
        or _prop(usb, "ID_MODEL_FROM_DATABASE")
        or _unescape(_prop(usb, "ID_MODEL_ENC"))
    )


def _peripheral(kind: DeviceKind, name: str, device: Any, usb: Any | None) -> Peripheral:
    vendor_id, product_id = _ids(device, usb)
    return Peripheral(
        kind=kind,
        name=name,
        devnode=device.device_node,
        vendor_id=vendor_id,
        product_id=product_id,
        serial=_serial(device, usb),
        sys_path=device.sys_path,
    )


# --- what each subsystem contributes --------------------------------------------------------


def _usb_device(device: Any, interface_classes: list[str] | None = None) -> list[Change]:
    if device.device_type != "usb_device" or device.sys_name.startswith("usb"):
        return []  # interfaces, and root hubs (the computer's own controllers)
    vendor_id, product_id = _ids(device, device)
    if vendor_id is None or product_id is None:
        _LOGGER.debug("USB device without ids skipped: %s", device.sys_path)
        return []
    device_class = _hex_id(_attr(device, "bDeviceClass"))
    if device_class is None and (kind := (_prop(device, "TYPE") or "").split("/")[0]).isdigit():
        device_class = f"{int(kind):02x}"
    if interface_classes is None:
        interface_classes = _interface_classes_from_udev(device)
    usb = UsbDevice(
        vendor_id=vendor_id,
        product_id=product_id,
        vendor=_vendor_name(device),
        product=_product_name(device),
        serial=_serial(device, device),
        device_class=device_class[-2:] if device_class else None,
        interface_classes=interface_classes,
        sys_path=device.sys_path,
    )
    items: list[Change] = [usb]
    if _is_braille(device, f"{vendor_id}:{product_id}"):
        items.append(_peripheral(DeviceKind.BRAILLE, _braille_name(usb), device, device))
    return items


def _interface_classes_from_udev(device: Any) -> list[str]:
    """Classes of the device's own interfaces; udev's `ID_USB_INTERFACES` when there are none."""
    classes: list[str] = []
    try:
        children = [c for c in device.children if c.device_type == "usb_interface"]
    except (OSError, ValueError, LookupError):
        children = []
    for child in sorted(children, key=lambda c: _natural(c.sys_path)):
        parent = _parent(child)
        cls = _hex_id(_attr(child, "bInterfaceClass"))
        if parent is not None and parent.sys_path == device.sys_path and cls:
            classes.append(cls[-2:])
    return list(dict.fromkeys(classes)) or _interface_classes_from_prop(device)


def _interface_classes_from_prop(device: Any) -> list[str]:
    # ":0e0100:0e0200:" = class, subclass and protocol of each interface
    classes = [c[:2] for c in (_prop(device, "ID_USB_INTERFACES") or "").split(":") if c]
    return list(dict.fromkeys(classes))


def _is_braille(device: Any, vendor_product: str) -> bool:
    if vendor_product in BRAILLE_DISPLAYS:
        return True
    if vendor_product in GENERIC_SERIAL_BRIDGES:
        return False
    try:
        keys = list(device.properties)
    except (KeyError, OSError):
        return False
    return any(
        k.startswith(("BRLTTY_BRAILLE_DRIVER", "ID_BRLTTY_")) and _prop(device, k) for k in keys
    )


def _braille_name(usb: UsbDevice) -> str:
    known = BRAILLE_DISPLAYS.get(f"{usb.vendor_id}:{usb.product_id}")
    if usb.product is None:
        return known or "braille display"
    if usb.vendor and usb.vendor.split()[0].lower() not in usb.product.lower():
        return f"{usb.vendor} {usb.product}"
    return usb.product


def _camera(device: Any) -> list[Change]:
    if ":capture:" not in (_prop(device, "ID_V4L_CAPABILITIES") or ""):
        return []  # metadata nodes, output-only nodes, radio tuners
    usb = _usb_parent(device)
    name = (
        _prop(device, "ID_V4L_PRODUCT")
        or _attr(device, "name")
        or (_product_name(usb) if usb is not None else None)
        or device.sys_name
    )
    return [_peripheral(DeviceKind.CAMERA, name, device, usb)]


def _pcm(device: Any) -> list[Change]:
    match = _PCM.match(device.sys_name or "")
    if match is None:
        return []  # the card itself, controlC*, timers, MIDI, hwdep
    kind = DeviceKind.AUDIO_CAPTURE if match.group(3) == "c" else DeviceKind.AUDIO_PLAYBACK
    usb = _usb_parent(device)
    card = _parent(device)
    is_card = card is not None and card.subsystem == "sound" and card.sys_name.startswith("card")
    name = (
        (_product_name(usb) if usb is not None else None)
        or (_card_name(card) if is_card else None)
        or f"sound card {match.group(1)}"
    )
    return [_peripheral(kind, name, device, usb)]


def _card_name(card: Any) -> str | None:
    return (
        _prop(card, "ID_MODEL_FROM_DATABASE")
        or _unescape(_prop(card, "ID_MODEL_ENC"))
        or _attr(card, "id")
    )


def _input(device: Any) -> list[Change]:
    if not (device.sys_name or "").startswith("event") or device.device_node is None:
        return []  # inputN (the event node's parent), mice, js
    if "/devices/virtual/" in (device.sys_path or ""):
        return []  # uinput keyboards of brltty, ydotool, remote desktops: not hardware
    roles = [role for key, role in INPUT_ROLES.items() if _prop(device, key) == "1"]
    if not roles:
        return []  # power buttons, lid switches, a headset's volume keys
    usb = _usb_parent(device)
    parent = _parent(device)
    if parent is not None and parent.subsystem != "input":
        parent = None  # the inputN device is already gone
    kernel_name = None
    if parent is not None:
        kernel_name = _attr(parent, "name") or (_prop(parent, "NAME") or "").strip('"')
    base = (
        kernel_name
        or (_product_name(usb) if usb is not None else None)
        or _unescape(_prop(device, "ID_MODEL_ENC"))
        or device.sys_name
    )
    return [_peripheral(DeviceKind.INPUT, f"{base} ({', '.join(roles)})", device, usb)]


# Dispatch by subsystem: what a udev device of that subsystem means to the kit.
_DESCRIBE: Final[Mapping[str, Callable[[Any], list[Change]]]] = {
    "usb": _usb_device,
    "video4linux": _camera,
    "sound": _pcm,
    "input": _input,
}


def describe(device: Any) -> list[Change]:
    """What one udev device means to the kit: nothing, a USB device, a peripheral, or both."""
    handler = _DESCRIBE.get(device.subsystem or "")
    return handler(device) if handler is not None else []


# --- inventory ------------------------------------------------------------------------------


def _natural(path: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(path)]


def _context() -> Any:
    try:
        return pyudev.Context()
    except ImportError as exc:  # pyudev raises ImportError when libudev cannot be loaded
        raise PeripheralsError(f"udev is not available: {exc}") from exc


def _list(context: Any, subsystem: str) -> list[Any]:
    try:
        devices = list(context.list_devices(subsystem=subsystem))
    except PermissionError:
        raise
    except OSError as exc:
        raise PeripheralsError(f"cannot list {subsystem} devices: {exc}") from exc
    return sorted(devices, key=lambda d: _natural(d.sys_path))


def inventory(context: Any | None = None) -> Peripherals:
    """Everything plugged into the kit now.

    Raises:
        PeripheralsError: udev cannot be read on this machine.
        PermissionError: sysfs refused a read.
    """
    context = context if context is not None else _context()
    usb_devices = _list(context, "usb")
    interfaces: dict[str, list[str]] = {}
    for device in usb_devices:
        cls = _hex_id(_attr(device, "bInterfaceClass"))
        if device.device_type == "usb_interface" and cls:
            parent = str(PurePosixPath(device.sys_path).parent)
            interfaces.setdefault(parent, []).append(cls[-2:])
    usb: list[UsbDevice] = []
    devices: list[Peripheral] = []
    for device in usb_devices:
        classes = list(dict.fromkeys(interfaces.get(device.sys_path, [])))
        _collect(_usb_device(device, classes or _interface_classes_from_prop(device)), usb, devices)
    audio_seen: set[tuple[str, DeviceKind]] = set()
    for subsystem, handler in _DESCRIBE.items():
        if subsystem == "usb":
            continue
        for device in _list(context, subsystem):
            items = handler(device)
            if subsystem == "sound":
                items = [i for i in items if _first_of_card(i, audio_seen)]
            _collect(items, usb, devices)
    return Peripherals(usb=usb, devices=devices)


def _first_of_card(item: Change, seen: set[tuple[str, DeviceKind]]) -> bool:
    if not isinstance(item, Peripheral) or item.sys_path is None:
        return True
    key = (str(PurePosixPath(item.sys_path).parent), item.kind)
    if key in seen:
        return False
    seen.add(key)
    return True


def _collect(items: Iterable[Change], usb: list[UsbDevice], devices: list[Peripheral]) -> None:
    for item in items:
        if isinstance(item, UsbDevice):
            usb.append(item)
        else:
            devices.append(item)


# --- hotplug --------------------------------------------------------------------------------


class HotplugMonitor:
    """Reports plugged-in and pulled-out peripherals to a callback, from its own thread.

    `on_change(action, item)` gets `"add"` or `"remove"` and a `UsbDevice` or a `Peripheral`
    (a braille display gives both). On removal the item carries what the event carried: its
    `sys_path` always, its ids when udev had them. A callback that raises is logged and counted
    in `errors`; the thread goes on. Use a context of its own: libudev is not thread-safe.
    """

    def __init__(self, on_change: OnChange, context: Any | None = None) -> None:
        self._on_change = on_change
        self._context = context
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> None:
        """Listen to udev; events that happen after this returns are reported.

        Raises:
            PeripheralsError: udev's netlink socket cannot be opened.
        """
        if self._thread is not None:
            return
        context = self._context if self._context is not None else _context()
        try:
            monitor = pyudev.Monitor.from_netlink(context)
            for subsystem in _DESCRIBE:
                monitor.filter_by(subsystem=subsystem)
            monitor.start()
        except OSError as exc:
            raise PeripheralsError(f"cannot listen to udev: {exc}") from exc
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(monitor,), name="kitkeeper-hotplug", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; returns once the thread has ended."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=5 * _POLL_S + 1)

    def _run(self, monitor: Any) -> None:
        while not self._stop.is_set():
            try:
                device = monitor.poll(timeout=_POLL_S)
            except OSError as exc:  # e.g. ENOBUFS after a burst: later events still come
                self.errors += 1
                _LOGGER.warning("udev monitor: %s", exc)
                self._stop.wait(_POLL_S)  # a persistent error must not spin
                continue
            if device is not None:
                self._handle(device)

    def _handle(self, device: Any) -> None:
        action = device.action
        if action not in ("add", "remove"):
            return
        try:
            items = describe(device)
        except Exception:  # one odd device never stops hotplug
            self.errors += 1
            _LOGGER.exception("cannot describe udev %s event for %s", action, device.sys_path)
            return
        for item in items:
            try:
                self._on_change(action, item)
            except Exception:  # the boundary: log, count, carry on
                self.errors += 1
                _LOGGER.exception("hotplug callback failed on %s of %s", action, item.sys_path)
