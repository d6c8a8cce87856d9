"""A contract against the kit: lent components that vanished, and devices that took their place."""

from __future__ import annotations

import pytest

from controller.loans.reconcile import Finding, reconcile
from protocol.inventory import DeviceKind, Peripheral, Peripherals, UsbDevice

WEBCAM_USB = UsbDevice(
    vendor_id="046d",
    product_id="082d",
    vendor="Logitech",
    product="HD Pro Webcam C920",
    serial="2145LZ0K7A",
    device_class="ef",
    interface_classes=["0e", "0e", "01", "01"],
)
WEBCAM = Peripheral(kind=DeviceKind.CAMERA, name="HD Pro Webcam C920", serial="2145LZ0K7A")
HEADSET_USB = UsbDevice(
    vendor_id="0b0e",
    product_id="24b8",
    vendor="GN Audio",
    product="Jabra Evolve2 40",
    serial="JB40Q99812",
    device_class="00",
    interface_classes=["01", "01", "03"],
)
BRAILLE = Peripheral(kind=DeviceKind.BRAILLE, name="Focus 40 Blue", serial="FB5G0021KZ")
FLASH_DRIVE = UsbDevice(
    vendor_id="0781",
    product_id="5567",
    product="Cruzer",
    serial="4C53000",
    interface_classes=["08"],
)
CHEAP_MOUSE = UsbDevice(vendor_id="093a", product_id="2510", interface_classes=["03"])
NO_SERIAL_CAMERA = Peripheral(kind=DeviceKind.CAMERA, name="Integrated Camera", serial=None)
TRACKBALL = UsbDevice(
    vendor_id="047d",
    product_id="2041",
    vendor="Kensington",
    product="SlimBlade",
    serial="KT-77",
    device_class="00",
    interface_classes=["03"],
)
SERIAL_KEYBOARD = Peripheral(kind=DeviceKind.INPUT, name="Keyboard", serial="KB-1")

KIT = Peripherals(
    usb=[WEBCAM_USB, HEADSET_USB, FLASH_DRIVE, CHEAP_MOUSE],
    devices=[WEBCAM, BRAILLE, NO_SERIAL_CAMERA],
)
CONTRACT = {"2145LZ0K7A", "JB40Q99812", "FB5G0021KZ"}

SWAPPED_WEBCAM_USB = WEBCAM_USB.model_copy(update={"serial": "9999XX"})
SWAPPED_WEBCAM = WEBCAM.model_copy(update={"serial": "9999XX"})

MISSING_WEBCAM = Finding(
    "missing",
    "2145LZ0K7A",
    "the contract lists 2145LZ0K7A, but the kit reports no device with this serial: "
    "unplugged, broken or swapped",
)

CASES: list[tuple[str, set[str], Peripherals, list[Finding]]] = [
    ("everything in place", CONTRACT, KIT, []),
    ("nothing expected, nothing watched", set(), Peripherals(), []),
    (
        "the webcam is unplugged",
        CONTRACT,
        Peripherals(usb=[HEADSET_USB], devices=[BRAILLE]),
        [MISSING_WEBCAM],
    ),
    (
        "the webcam is swapped: the peripheral's description wins over the USB one",
        CONTRACT,
        Peripherals(usb=[SWAPPED_WEBCAM_USB, HEADSET_USB], devices=[SWAPPED_WEBCAM, BRAILLE]),
        [
            MISSING_WEBCAM,
            Finding(
                "foreign",
                "9999XX",
                "camera 'HD Pro Webcam C920' reports serial 9999XX, not in the contract",
            ),
        ],
    ),
    (
        "a USB device of a watched class on its interfaces",
        CONTRACT,
        Peripherals(usb=[*KIT.usb, SWAPPED_WEBCAM_USB], devices=KIT.devices),
        [
            Finding(
                "foreign",
                "9999XX",
                "USB video/audio device 'Logitech HD Pro Webcam C920' (046d:082d) "
                "reports serial 9999XX, not in the contract",
            )
        ],
    ),
    (
        "a HID device with a serial (an assistive trackball)",
        CONTRACT,
        Peripherals(usb=[*KIT.usb, TRACKBALL], devices=KIT.devices),
        [
            Finding(
                "foreign",
                "KT-77",
                "USB HID device 'Kensington SlimBlade' (047d:2041) "
                "reports serial KT-77, not in the contract",
            )
        ],
    ),
    (
        "the class on the device, in capitals",
        set(),
        Peripherals(
            usb=[UsbDevice(vendor_id="1234", product_id="0001", serial="S1", device_class="0E")]
        ),
        [
            Finding(
                "foreign",
                "S1",
                "USB video device 'unnamed' (1234:0001) reports serial S1, not in the contract",
            )
        ],
    ),
    (
        "a flash drive, a mouse without serial and a camera without serial are ignored",
        set(),
        Peripherals(usb=[FLASH_DRIVE, CHEAP_MOUSE], devices=[NO_SERIAL_CAMERA]),
        [],
    ),
    (
        "a blank serial is no serial",
        set(),
        Peripherals(devices=[WEBCAM.model_copy(update={"serial": "  "})]),
        [],
    ),
    (
        "an input peripheral is not a watched kind",
        set(),
        Peripherals(devices=[SERIAL_KEYBOARD]),
        [],
    ),
    (
        "a contract serial on an unwatched device still counts as present",
        {"4C53000", "KB-1"},
        Peripherals(usb=[FLASH_DRIVE], devices=[SERIAL_KEYBOARD]),
        [],
    ),
    (
        "serials compare without case and surrounding spaces",
        {" 2145lz0k7a ", "jb40q99812", "fb5g0021kz"},
        KIT,
        [],
    ),
    (
        "several missing come sorted, each once",
        {"B-2", "A-1", "a-1", ""},
        Peripherals(),
        [
            Finding(
                "missing",
                "A-1",
                "the contract lists A-1, but the kit reports no device with this serial: "
                "unplugged, broken or swapped",
            ),
            Finding(
                "missing",
                "B-2",
                "the contract lists B-2, but the kit reports no device with this serial: "
                "unplugged, broken or swapped",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("expected", "reported", "findings"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_reconcile(expected: set[str], reported: Peripherals, findings: list[Finding]) -> None:
    assert reconcile(expected, reported) == findings


OPTION_CASES: list[tuple[str, frozenset[DeviceKind], frozenset[str], list[str]]] = [
    (
        "the default classes",
        frozenset({DeviceKind.CAMERA}),
        frozenset({"0e", "01", "03"}),
        ["KT-77"],
    ),
    ("input watched", frozenset({DeviceKind.INPUT}), frozenset(), ["KB-1"]),
    ("nothing watched", frozenset(), frozenset(), []),
    ("mass storage watched, written as 0x8", frozenset(), frozenset({"0x8"}), ["4C53000"]),
]


@pytest.mark.parametrize(
    ("kinds", "classes", "foreign"),
    [case[1:] for case in OPTION_CASES],
    ids=[case[0] for case in OPTION_CASES],
)
def test_what_is_watched_can_be_chosen(
    kinds: frozenset[DeviceKind], classes: frozenset[str], foreign: list[str]
) -> None:
    reported = Peripherals(usb=[FLASH_DRIVE, TRACKBALL], devices=[SERIAL_KEYBOARD])
    findings = reconcile(set(), reported, watched_kinds=kinds, watched_usb_classes=classes)
    assert [f.serial for f in findings if f.kind == "foreign"] == foreign
