"""Peripherals from udev (umockdev recordings, hotplug events) and kit profiles checked on them.

The udev tests run the agent's code in a subprocess under umockdev, which fakes /sys, /dev and
udev's netlink socket for that process only: `umockdev-run -d <recording>` for the inventory, and
`umockdev-wrapper` plus Debian's python3-gi (UMockdev.Testbed) to plug and unplug devices while a
HotplugMonitor listens.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.collectors import peripherals as udev
from agent.errors import ProfileError
from agent.profiles import (
    PROFILES_DIR,
    Profile,
    check,
    evaluate,
    load_profile,
    setting_matches,
)
from protocol.inventory import DeviceKind, Peripheral, Peripherals, UsbDevice

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
DEBIAN_GI = "/usr/lib/python3/dist-packages"
SHIPPED_PROFILES = {"base", "low-vision", "hearing", "motor", "blind"}


@pytest.fixture(scope="module")
def umockdev() -> None:
    """umockdev's tools and GI bindings, which `make test` installs."""
    missing = [tool for tool in ("umockdev-run", "umockdev-wrapper") if shutil.which(tool) is None]
    abi = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    if not list(Path(DEBIAN_GI, "gi").glob(f"_gi.{abi}-*.so")):
        missing.append(f"python3-gi built for this Python ({abi})")
    if not list(Path("/usr/lib").glob("*/girepository-1.0/UMockdev-1.0.typelib")):
        missing.append("gir1.2-umockdev-1.0")
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make test`, or "
            "apt-get install umockdev python3-gi gir1.2-umockdev-1.0"
        )


# --- inventory from recordings ----------------------------------------------------------------

INVENTORY = (
    "from agent.collectors.peripherals import inventory; print(inventory().model_dump_json())"
)


def _inventory_of(recording: str) -> Peripherals:
    python = [sys.executable, "-W", "error", "-c", INVENTORY]
    out = subprocess.run(
        ["umockdev-run", "-d", str(DATA / recording), "--", *python],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return Peripherals.model_validate_json(out.stdout)


def _only(peripherals: Peripherals, kind: DeviceKind) -> Peripheral:
    found = [d for d in peripherals.devices if d.kind is kind]
    assert len(found) == 1, peripherals.devices
    return found[0]


@pytest.mark.usefixtures("umockdev")
def test_a_webcam_is_a_camera_with_its_ids_and_serial_and_its_metadata_node_is_not() -> None:
    kit = _inventory_of("webcam.umockdev")
    assert kit.usb == [
        UsbDevice(
            vendor_id="046d",
            product_id="082d",
            vendor="Logitech, Inc.",  # no manufacturer string: udev's hwdb name
            product="HD Pro Webcam C920",
            serial="2B8C4A5F",
            device_class="ef",
            interface_classes=["0e"],
            sys_path="/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1",
        )
    ]  # the root hub usb1 is the computer's, not a peripheral
    camera = _only(kit, DeviceKind.CAMERA)  # video1 is the metadata node: not a second camera
    assert camera.name == "HD Pro Webcam C920"
    assert camera.devnode == "/dev/video0"
    assert (camera.vendor_id, camera.product_id, camera.serial) == ("046d", "082d", "2B8C4A5F")
    assert [d.kind for d in kit.devices] == [DeviceKind.CAMERA]


@pytest.mark.usefixtures("umockdev")
def test_a_usb_headset_is_a_microphone_and_speakers_and_its_volume_keys_are_not_a_keyboard() -> (
    None
):
    kit = _inventory_of("usb-headset.umockdev")
    microphone = _only(kit, DeviceKind.AUDIO_CAPTURE)
    speakers = _only(kit, DeviceKind.AUDIO_PLAYBACK)
    assert microphone.devnode == "/dev/snd/pcmC1D0c"
    assert speakers.devnode == "/dev/snd/pcmC1D0p"
    for device in (microphone, speakers):
        assert device.name == "Jabra EVOLVE 20 MS"
        assert (device.vendor_id, device.product_id) == ("0b0e", "0300")
        assert device.serial == "0C7BB5A4C1D5"
    assert not [d for d in kit.devices if d.kind is DeviceKind.INPUT]
    (usb,) = kit.usb
    assert (usb.vendor, usb.product, usb.interface_classes) == (
        "GN Netcom A/S",
        "Jabra EVOLVE 20 MS",
        ["01", "03"],  # audio, HID
    )


@pytest.mark.usefixtures("umockdev")
def test_a_braille_display_is_found_by_its_usb_ids() -> None:
    kit = _inventory_of("braille.umockdev")
    braille = _only(kit, DeviceKind.BRAILLE)
    assert braille.name == "Freedom Scientific Focus 40 Blue"
    assert (braille.vendor_id, braille.product_id) == ("0f4e", "0114")
    assert braille.serial == "FS5G40-1907-0317"
    assert braille.devnode == "/dev/bus/usb/001/005"
    assert [u.serial for u in kit.usb] == ["FS5G40-1907-0317"]


@pytest.mark.usefixtures("umockdev")
def test_a_half_present_device_never_gets_the_root_hubs_ids(tmp_path: Path) -> None:
    # While a device arrives or goes, its USB device may be missing from sysfs; libudev then
    # walks up to the root hub, whose ids and serial must not end up on the microphone.
    blocks = (DATA / "usb-headset.umockdev").read_text(encoding="utf-8").split("\n\n")
    usb_device = "P: /devices/pci0000:00/0000:00:14.0/usb1/1-2\n"
    kept = [b for b in blocks if not b.startswith(usb_device)]
    assert len(kept) == len(blocks) - 1
    (tmp_path / "half.umockdev").write_text("\n\n".join(kept), encoding="utf-8")
    kit = _inventory_of(str(tmp_path / "half.umockdev"))
    microphone = _only(kit, DeviceKind.AUDIO_CAPTURE)
    assert (microphone.vendor_id, microphone.serial) == (None, None)
    assert microphone.name == "Jabra EVOLVE 20 MS"  # the sound card's own name
    assert kit.usb == []


BRLTTY_CLAIMED = """\
P: /devices/pci0000:00/0000:00:14.0/usb1/1-5
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: BRLTTY_BRAILLE_DRIVER=ht
A: idVendor=1fe4
A: idProduct=008b
A: product=Basic Braille 160
A: manufacturer=Handy Tech

P: /devices/pci0000:00/0000:00:14.0/usb1/1-6
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: BRLTTY_BRAILLE_DRIVER=bm
A: idVendor=1a86
A: idProduct=7523
A: product=USB Serial
"""


@pytest.mark.usefixtures("umockdev")
def test_brltty_claims_a_braille_display_but_not_an_arduinos_serial_chip(tmp_path: Path) -> None:
    (tmp_path / "brltty.umockdev").write_text(BRLTTY_CLAIMED, encoding="utf-8")
    kit = _inventory_of(str(tmp_path / "brltty.umockdev"))
    assert [(u.vendor_id, u.product_id) for u in kit.usb] == [("1fe4", "008b"), ("1a86", "7523")]
    braille = _only(kit, DeviceKind.BRAILLE)
    assert (braille.name, braille.product_id) == ("Handy Tech Basic Braille 160", "008b")


def test_no_udev_is_a_clear_error_the_snapshot_can_report(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libudev() -> None:
        raise ImportError("No library named udev")

    monkeypatch.setattr("pyudev.Context", no_libudev)
    with pytest.raises(udev.PeripheralsError, match="udev is not available"):
        udev.inventory()
    with pytest.raises(udev.PeripheralsError):
        udev.HotplugMonitor(lambda action, item: None).start()


# --- hotplug --------------------------------------------------------------------------------

# Runs under umockdev-wrapper with the venv's Python. Debian's python3-gi (built for CPython 3.11,
# like the venv) is put on sys.path only to import gi, then taken off again.
HOTPLUG_SCRIPT = r'''
import json, logging, queue, sys, time, warnings
from pathlib import Path

ROOT, DATA, DEBIAN_GI = sys.argv[1:4]
sys.path.insert(0, ROOT)
sys.path.append(DEBIAN_GI)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)  # PyGObject 3.42's importer on CPython 3.11
    import gi
    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
sys.path.remove(DEBIAN_GI)

from agent.collectors.peripherals import HotplugMonitor, inventory
from agent.profiles import check, load_profile
from protocol.inventory import UsbDevice

testbed = UMockdev.Testbed.new()
root = Path(testbed.get_root_dir())
blind = load_profile("blind")


def verdict():
    result = check(blind, inventory(), which=lambda b: "/usr/bin/" + b,
                   package_installed=lambda p: True, gsetting=lambda s, k: "true")
    return {"complete": result.complete, "missing": result.missing}


def blocks(recording):
    text = (Path(DATA) / recording).read_text()
    return [b for b in text.split("\n\n") if b.strip()]


def path_of(block):
    return "/sys" + block.splitlines()[0].removeprefix("P: ")


def plug(recording):
    """Add the recording's devices that are not there yet (the controller is shared)."""
    new = [b for b in blocks(recording) if not (root / path_of(b).lstrip("/")).exists()]
    testbed.add_from_string("\n\n".join(new) + "\n")  # umockdev sends an "add" for each


def unplug(recording, usb_path):
    """Remove events deepest first, as the kernel sends them, then the devices go."""
    paths = [path_of(b) for b in blocks(recording) if path_of(b).startswith(usb_path)]
    for path in sorted(paths, key=lambda p: -p.count("/")):
        testbed.uevent(path, "remove")
    testbed.remove_device(usb_path)


events = queue.Queue()
monitor = HotplugMonitor(lambda action, item: events.put((time.monotonic(), action, item)))
raising_calls = []


def raising(action, item):
    raising_calls.append(action)
    raise RuntimeError("a broken callback")


class Count(logging.Handler):
    records = 0

    def emit(self, record):
        Count.records += 1


logging.getLogger("agent.collectors.peripherals").addHandler(Count(level=logging.ERROR))
logging.getLogger("agent.collectors.peripherals").propagate = False

# A laptop's own keyboard and touchpad, there from the start (umockdev's add_device API).
i8042 = testbed.add_device("platform", "i8042", None, [], [])
for n, (name, role) in enumerate(
    [("AT Translated Set 2 keyboard", "KEYBOARD"), ("SynPS/2 Synaptics TouchPad", "TOUCHPAD")]
):
    serio = testbed.add_device("serio", f"serio{n}", i8042, [], [])
    node = testbed.add_device("input", f"input{n + 3}", serio, ["name", name], ["ID_INPUT", "1"])
    testbed.add_device("input", f"event{n + 3}", node, [],
                       ["DEVNAME", f"/dev/input/event{n + 3}", "ID_INPUT", "1",
                        f"ID_INPUT_{role}", "1"])

monitor.start()
other = HotplugMonitor(raising)
other.start()

# The agent's own view, as `kitkeeper-agent run` has it: hotplug becomes events, and the profile
# verdict is checked again (with this machine's real software lookups).
from agent.config import AgentSettings
from agent.kit import KitView

kit_events = []
kit = KitView(AgentSettings(profile="blind", connectivity_interval=0), [], kit_events.append)
kit.check_profile(kit.peripherals())
kit.start()


def step(what, action, expected):
    start = time.monotonic()
    what()
    seen, latency, deadline = [], None, start + 3
    while time.monotonic() < deadline:
        try:
            at, act, item = events.get(timeout=0.05)
        except queue.Empty:
            if latency is not None and time.monotonic() > at + 0.3:
                break  # everything expected arrived, and nothing more for 0.3 s
            continue
        kind = "usb" if isinstance(item, UsbDevice) else item.kind.value
        seen.append([act, kind, item.sys_path, item.vendor_id, item.serial])
        if latency is None and {(a, k) for a, k, *_ in seen} >= {(action, k) for k in expected}:
            latency = at - start
    return {"latency": latency, "seen": seen, "verdict": verdict()}


USB1 = "/sys/devices/pci0000:00/0000:00:14.0/usb1/"
report = {"before": verdict(), "steps": {}}
plan = [
    ("attach webcam", lambda: plug("webcam.umockdev"), "add", ["usb", "camera"]),
    ("attach headset", lambda: plug("usb-headset.umockdev"), "add",
     ["usb", "audio_capture", "audio_playback"]),
    ("attach braille", lambda: plug("braille.umockdev"), "add", ["usb", "braille"]),
    ("detach braille", lambda: unplug("braille.umockdev", USB1 + "1-3"), "remove",
     ["usb", "braille"]),
    ("detach headset", lambda: unplug("usb-headset.umockdev", USB1 + "1-2"), "remove",
     ["usb", "audio_capture", "audio_playback"]),
    ("detach webcam", lambda: unplug("webcam.umockdev", USB1 + "1-1"), "remove",
     ["usb", "camera"]),
]
for name, what, action, expected in plan:
    report["steps"][name] = step(what, action, expected)
    time.sleep(0.8)  # a person plugs one thing at a time: the agent rechecks its profile between
monitor.stop()
other.stop()
time.sleep(0.5)
kit.stop()
report["kit_events"] = [
    {"kind": e.kind, "severity": e.severity.value, "device": e.data.get("kind"),
     "missing": e.data.get("missing")}
    for e in kit_events
]
report["raising"] = {"calls": len(raising_calls), "errors": other.errors,
                     "logged": Count.records, "alive_to_the_end": raising_calls[-1:] == ["remove"]}
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def hotplug(umockdev: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Plug and unplug the three recordings one by one while HotplugMonitors listen."""
    script = tmp_path_factory.mktemp("hotplug") / "hotplug.py"
    script.write_text(HOTPLUG_SCRIPT, encoding="utf-8")
    arguments = [str(script), str(ROOT), str(DATA), DEBIAN_GI]
    out = subprocess.run(
        ["umockdev-wrapper", sys.executable, "-W", "error", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


@pytest.mark.parametrize(
    ("step", "action", "expected"),
    [
        ("attach webcam", "add", {"usb", "camera"}),
        ("attach headset", "add", {"usb", "audio_capture", "audio_playback"}),
        ("attach braille", "add", {"usb", "braille"}),
        ("detach braille", "remove", {"usb", "braille"}),
        ("detach headset", "remove", {"usb", "audio_capture", "audio_playback"}),
        ("detach webcam", "remove", {"usb", "camera"}),
    ],
)
def test_plugging_and_unplugging_is_reported_within_a_second(
    hotplug: dict[str, Any], step: str, action: str, expected: set[str]
) -> None:
    result = hotplug["steps"][step]
    assert result["latency"] is not None, f"{step}: never saw all of {expected}: {result['seen']}"
    assert result["latency"] < 1.0
    # exactly these: no camera for the metadata node, no keyboard for the headset's volume keys
    assert sorted((a, k) for a, k, *_ in result["seen"]) == sorted((action, k) for k in expected)


@pytest.mark.parametrize(
    ("device", "vendor_id", "serial"),
    [
        ("webcam", "046d", "2B8C4A5F"),
        ("headset", "0b0e", "0C7BB5A4C1D5"),
        ("braille", "0f4e", "FS5G40-1907-0317"),
    ],
)
def test_an_arrival_carries_the_usb_ids_and_its_removal_names_the_same_device(
    hotplug: dict[str, Any], device: str, vendor_id: str, serial: str
) -> None:
    added = hotplug["steps"][f"attach {device}"]["seen"]
    removed = hotplug["steps"][f"detach {device}"]["seen"]
    assert {(vendor, sn) for _, _, _, vendor, sn in added} == {(vendor_id, serial)}
    assert {(k, path) for _, k, path, *_ in added} == {(k, path) for _, k, path, *_ in removed}


def test_the_blind_profile_is_complete_only_while_the_braille_display_is_plugged_in(
    hotplug: dict[str, Any],
) -> None:
    steps = hotplug["steps"]
    everything_but_braille = ["braille display"]
    assert hotplug["before"]["missing"] == [
        "camera",
        "microphone",
        "speakers or headset",
        "braille display",
    ]
    assert steps["attach webcam"]["verdict"]["missing"] == [
        "microphone",
        "speakers or headset",
        "braille display",
    ]
    assert steps["attach headset"]["verdict"] == {
        "complete": False,
        "missing": everything_but_braille,
    }
    assert steps["attach braille"]["verdict"] == {"complete": True, "missing": []}
    assert steps["detach braille"]["verdict"] == {
        "complete": False,
        "missing": everything_but_braille,
    }
    assert steps["detach webcam"]["verdict"]["missing"][0] == "camera"


def test_a_callback_that_raises_is_logged_and_the_monitor_keeps_going(
    hotplug: dict[str, Any],
) -> None:
    raising = hotplug["raising"]
    events = sum(len(s["seen"]) for s in hotplug["steps"].values())
    assert raising["calls"] == events  # every event still reached it, up to the last removal
    assert raising["errors"] == events
    assert raising["logged"] == events
    assert raising["alive_to_the_end"]


# --- profiles: loading ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED_PROFILES))
def test_every_shipped_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    labels = [r.label for r in profile.requirements()]
    assert {"camera", "microphone", "speakers or headset"} <= set(labels)
    assert len(labels) == len(set(labels))


def test_the_shipped_profiles_are_the_documented_ones() -> None:
    assert {p.stem for p in PROFILES_DIR.glob("*.yaml")} == SHIPPED_PROFILES
    readme = (PROFILES_DIR / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}.yaml`" in readme for name in SHIPPED_PROFILES)


def test_each_impairment_gets_what_it_needs() -> None:
    blind = load_profile("blind")
    assert [p.kind for p in blind.peripherals if p.label == "braille display"] == [
        DeviceKind.BRAILLE
    ]
    assert {"orca"} <= {b for s in blind.software for b in s.binaries}
    motor = load_profile("motor")
    trackball = next(p for p in motor.peripherals if p.label == "trackball or big-key keyboard")
    assert "046d:c408" in (trackball.any_of or [])
    assert {s.key for s in motor.accessibility} >= {"stickykeys-enable"}
    low_vision = load_profile("low-vision")
    assert {s.key: s.expected for s in low_vision.accessibility}["text-scaling-factor"] == ">=1.25"
    hearing = load_profile("hearing")
    assert {s.key for s in hearing.accessibility} == {"visual-bell"}


GOOD = "name: broken\ndescription: a test profile\n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD + "peripherals:\n  - {label: cam, kind: webcam}\n", "peripherals.0.kind"),
        (
            GOOD + "peripherals:\n  - {label: x, kind: braille, vendor_product: '0f4e-0114'}\n",
            "peripherals.0.vendor_product",
        ),
        (GOOD + "software:\n  - {label: orca, binary: [orca]}\n", "software.0.binary"),
        (GOOD + "software:\n  - {label: orca}\n", "list at least one of binaries or packages"),
        (
            GOOD + "accessibility:\n  - {label: zoom, schema: a.b, key: k, expected: '>=x'}\n",
            "accessibility.0.expected",
        ),
        (GOOD + "accessibility:\n  - {label: zoom, key: k, expected: true}\n", "schema"),
        (GOOD + "colour: blue\n", "colour"),
        (
            GOOD + "peripherals:\n  - {label: cam, kind: camera}\n  - {label: cam, kind: usb}\n",
            "repeated: cam",
        ),
        ("name: other\ndescription: x\n", "name: 'other' must match the file name 'broken'"),
        (GOOD + "peripherals: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (GOOD + "extends: broken\n", "extends: a cycle (broken -> broken)"),
        (GOOD + "extends: nowhere\n", "extends: "),
        (GOOD + "extends: nowhere\n", "nowhere.yaml: no such profile (known: broken)"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile("broken", tmp_path)
    message = str(caught.value)
    assert field in message
    assert message.startswith(str(tmp_path / "broken.yaml"))


@pytest.mark.parametrize("name", ["../etc/passwd", "Blind", ""])
def test_a_profile_name_cannot_leave_the_directory(name: str) -> None:
    with pytest.raises(ProfileError, match="not a profile name"):
        load_profile(name)


def test_a_profile_inherits_and_can_replace_a_requirement(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        "name: parent\ndescription: p\nperipherals:\n"
        "  - {label: camera, kind: camera}\n  - {label: microphone, kind: audio_capture}\n",
        encoding="utf-8",
    )
    (tmp_path / "child.yaml").write_text(
        "name: child\ndescription: c\nextends: parent\nperipherals:\n"
        "  - {label: microphone, kind: audio_capture, name_contains: [headset]}\n"
        "  - {label: braille display, kind: braille}\n",
        encoding="utf-8",
    )
    child = load_profile("child", tmp_path)
    assert child.extends == "parent"
    assert [(p.label, p.name_contains) for p in child.peripherals] == [
        ("camera", None),
        ("microphone", ["headset"]),
        ("braille display", None),
    ]


# --- profiles: checking (pure) ----------------------------------------------------------------

KIT = Peripherals(
    usb=[UsbDevice(vendor_id="0f4e", product_id="0114", product="Focus 40 Blue")],
    devices=[
        Peripheral(
            kind=DeviceKind.CAMERA, name="HD Pro Webcam C920", vendor_id="046d", product_id="082d"
        ),
        Peripheral(kind=DeviceKind.AUDIO_CAPTURE, name="Jabra EVOLVE 20 MS"),
        Peripheral(kind=DeviceKind.INPUT, name="AT Translated Set 2 keyboard (keyboard)"),
        Peripheral(
            kind=DeviceKind.INPUT,
            name="Logitech USB Trackball (mouse)",
            vendor_id="046d",
            product_id="c408",
        ),
        Peripheral(
            kind=DeviceKind.BRAILLE, name="Focus 40 Blue", vendor_id="0f4e", product_id="0114"
        ),
    ],
)
BINARIES = {"orca", "chromium"}
PACKAGES: dict[str, bool | None] = {"brltty": True, "fwupd": False, "python3-brlapi": None}
SETTINGS = {
    ("a11y", "screen-reader-enabled"): "true",
    ("a11y", "stickykeys-enable"): "false",
    ("interface", "text-scaling-factor"): "1.5",
    ("interface", "cursor-size"): "24",
    ("wm", "visual-bell-type"): "'frame-flash'",
    ("a11y", "mag-factor"): "double 2.0",
}


def _outcome(section: str, requirement: dict[str, Any]) -> str:
    profile = Profile.model_validate(
        {"name": "t", "description": "one requirement", section: [requirement]}
    )
    report = evaluate(
        profile,
        KIT,
        which=lambda b: f"/usr/bin/{b}" if b in BINARIES else None,
        package_installed=PACKAGES.get,
        gsetting=lambda schema, key: SETTINGS.get((schema, key)),
    )
    outcomes = {
        "met": report.met,
        "missing": report.missing,
        "unverifiable": report.unverifiable,
        "optional": report.optional_missing,
    }
    (found,) = [name for name, labels in outcomes.items() if labels]
    return found


@pytest.mark.parametrize(
    ("requirement", "outcome"),
    [
        ({"kind": "camera"}, "met"),
        ({"kind": "audio_playback"}, "missing"),
        ({"kind": "audio_playback", "required": False}, "optional"),
        ({"kind": "camera", "vendor_product": "046D:082D"}, "met"),
        ({"kind": "camera", "vendor_product": "046d:0825"}, "missing"),
        ({"kind": "input", "any_of": ["047d:1020", "046d:c408"]}, "met"),
        ({"kind": "input", "any_of": ["047d:1020", "047d:2048"]}, "missing"),
        ({"kind": "input", "name_contains": ["Keyboard"]}, "met"),
        ({"kind": "input", "name_contains": ["touchpad", "tablet"]}, "missing"),
        ({"kind": "input", "any_of": ["047d:1020"], "name_contains": ["trackball"]}, "met"),
        ({"kind": "camera", "name_contains": ["keyboard"]}, "missing"),
        ({"kind": "braille"}, "met"),
        ({"kind": "usb", "vendor_product": "0f4e:0114"}, "met"),
        ({"kind": "usb", "name_contains": ["webcam"]}, "missing"),
    ],
)
def test_a_peripheral_requirement(requirement: dict[str, Any], outcome: str) -> None:
    assert _outcome("peripherals", {"label": "it", **requirement}) == outcome


@pytest.mark.parametrize(
    ("requirement", "outcome"),
    [
        ({"binaries": ["orca"]}, "met"),
        ({"binaries": ["firefox-esr", "chromium"]}, "met"),
        ({"binaries": ["firefox-esr"]}, "missing"),
        ({"packages": ["brltty"]}, "met"),
        ({"binaries": ["brltty"], "packages": ["brltty"]}, "met"),
        ({"packages": ["fwupd"]}, "missing"),
        ({"packages": ["fwupd"], "required": False}, "optional"),
        ({"packages": ["python3-brlapi"]}, "unverifiable"),  # dpkg-query could not answer
        ({"binaries": ["brlapi"], "packages": ["python3-brlapi"]}, "missing"),  # which answers
    ],
)
def test_a_software_requirement(requirement: dict[str, Any], outcome: str) -> None:
    assert _outcome("software", {"label": "it", **requirement}) == outcome


@pytest.mark.parametrize(
    ("schema", "key", "expected", "outcome"),
    [
        ("a11y", "screen-reader-enabled", True, "met"),
        ("a11y", "screen-reader-enabled", False, "missing"),
        ("a11y", "stickykeys-enable", True, "missing"),
        ("interface", "text-scaling-factor", ">=1.25", "met"),
        ("interface", "text-scaling-factor", ">2", "missing"),
        ("interface", "text-scaling-factor", 1.5, "met"),
        ("interface", "cursor-size", ">=48", "missing"),
        ("interface", "cursor-size", 24, "met"),
        ("wm", "visual-bell-type", "frame-flash", "met"),
        ("wm", "visual-bell-type", "fullscreen-flash", "missing"),
        ("a11y", "mag-factor", "==2", "met"),
        ("a11y", "no-such-key", True, "unverifiable"),  # no gsettings, schema or key
    ],
)
def test_an_accessibility_requirement(schema: str, key: str, expected: Any, outcome: str) -> None:
    requirement = {"label": "it", "schema": schema, "key": key, "expected": expected}
    assert _outcome("accessibility", requirement) == outcome


@pytest.mark.parametrize(
    ("expected", "printed", "matches"),
    [
        (True, "true", True),
        (True, "'true'", False),  # a string is not a boolean
        (5, "uint32 5", True),
        (">=1.25", "1.25", True),
        ("<1", "true", False),  # a comparison needs a number
        ("HighContrast", "'HighContrast'", True),
        ("['orca']", "['orca']", True),
    ],
)
def test_a_gsettings_value_as_printed(expected: Any, printed: str, matches: bool) -> None:
    assert setting_matches(expected, printed) is matches


def _lookups(*, braille_driver: bool = True) -> dict[str, Callable[..., Any]]:
    return {
        "which": lambda b: None if b == "brltty" and not braille_driver else f"/usr/bin/{b}",
        "package_installed": lambda p: not (p == "brltty" and not braille_driver),
        "gsetting": lambda schema, key: "true",
    }


def test_the_check_lists_what_is_missing_in_words_in_profile_order() -> None:
    blind = load_profile("blind")
    playback = Peripheral(kind=DeviceKind.AUDIO_PLAYBACK, name="Speakers")
    full = KIT.model_copy(update={"devices": [*KIT.devices, playback]})
    assert check(blind, full, **_lookups()).model_dump() == {
        "profile": "blind",
        "complete": True,
        "missing": [],
    }
    without = full.model_copy(
        update={"devices": [d for d in full.devices if d.kind is not DeviceKind.BRAILLE]}
    )
    result = check(blind, without, **_lookups(braille_driver=False))
    assert not result.complete
    assert result.missing == ["braille display", "braille driver (brltty)"]


def test_the_agent_turns_hotplug_into_events_and_rechecks_its_profile(
    hotplug: dict[str, Any],
) -> None:
    events = hotplug["kit_events"]
    attached = {e["device"] for e in events if e["kind"] == "device_attached"}
    detached = {e["device"]: e["severity"] for e in events if e["kind"] == "device_detached"}
    assert {"camera", "audio_capture", "audio_playback", "braille"} <= attached
    assert detached["camera"] == "warning", "unplugging the camera can cost a lesson"
    assert detached["braille"] == "warning"
    verdicts = [e["missing"] for e in events if e["kind"].startswith("profile_")]
    braille_needed = ["braille display" in missing for missing in verdicts]
    assert braille_needed[0], "missing before the display is plugged in"
    assert False in braille_needed, "no longer missing while it is plugged in"
    assert braille_needed[-1], "missing again once it is unplugged"
