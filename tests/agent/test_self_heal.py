"""The whole ladder with real processes: a fault on a kit, the rule, a signed playbook run by
ansible-runner on the agent, the result at the controller, and the incident closed (or a
replacement ticket when the playbook cannot fix it).

- A disk filled in a test directory: a small tmpfs the agent reports (KITKEEPER_DISK_PATHS)
  filled with downloaded package files; the kit's own rule heals it with disk-cleanup.
- A camera unplugged through umockdev: the agent runs under umockdev-wrapper with a recorded
  webcam; unplugging it fires camera-missing, the controller sends camera-reload, which finds no
  camera and fails, and a replacement ticket due by the pupil's next lesson appears.

Playbooks act only on a directory root (kk_root) with kk_live=false: never on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.controller.records import CONTRACT, lend
from tests.support import Agent, Broker, Controller, one_off_lesson, provision_kit, wait_for

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
DEBIAN_GI = "/usr/lib/python3/dist-packages"
KIT = CONTRACT["kit_id"]

DISK_RULES = """
rules:
  - id: disk-full
    description: The data disk is almost full.
    when: [{fact: disk.used_percent.max, op: ">", value: 90}]
    clear: [{fact: disk.used_percent.max, op: "<", value: 85}]
    ladder:
      - {action: self_heal, playbook: disk-cleanup, deadline: 5m}
      - {action: technician, deadline: 1d}
"""

CAMERA_RULES = """
rules:
  - id: camera-missing
    description: No camera is seen.
    severity: critical
    when: [{fact: peripherals.camera, op: "<", value: 1}]
    clear: [{fact: peripherals.camera, op: ">=", value: 1}]
    costs_lessons: true
    ladder:
      - {action: remote, playbook: camera-reload, deadline: 5m}
      - {action: replacement, deadline: 3d}
"""


@pytest.fixture
def ladder(tmp_path: Path, broker: Broker) -> Iterator[Callable[[str], Controller]]:
    """Start a controller with these rules (stopped at the end, whatever happens)."""
    started: list[Controller] = []

    def start(rules: str) -> Controller:
        path = tmp_path / "rules.yaml"
        path.write_text(rules, encoding="utf-8")
        controller = Controller(
            tmp_path, broker, KITKEEPER_RULES_PATH=str(path), KITKEEPER_REMEDIATION_INTERVAL="0.3"
        )
        started.append(controller)
        return controller.start()

    yield start
    for controller in started:
        controller.stop()


def _incident(controller: Controller, rule: str) -> dict[str, Any] | None:
    status, items = controller.get(f"/api/v1/incidents?state=all&kit_id={KIT}", "technician")
    assert status == 200, items
    for item in items:
        if item["rule_id"] == rule:
            detail: dict[str, Any] = controller.get(f"/api/v1/incidents/{item['id']}", "admin")[1]
            return detail
    return None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a disk the test can fill without touching this machine's."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (make test runs as root in CI)")
    mount = tmp_path / "kit-root"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs: {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_heals_itself_with_the_signed_playbook_and_the_incident_closes(
    tmp_path: Path, broker: Broker, small_disk: Path, ladder: Callable[[str], Controller]
) -> None:
    controller = ladder(DISK_RULES)
    archives = small_disk / "var" / "cache" / "apt" / "archives"
    archives.mkdir(parents=True)
    for n in range(15):  # 15 MiB of 16: over 90 %
        (archives / f"package-{n}.deb").write_bytes(os.urandom(2**20))
    keep = small_disk / "home" / "pupil" / "homework.odt"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"the pupil's work")
    agent = Agent(
        tmp_path,
        broker,
        KIT,
        interval=1.0,
        KITKEEPER_DISK_PATHS=json.dumps([str(small_disk)]),
        KITKEEPER_PLAYBOOK_VARS=json.dumps({"kk_root": str(small_disk), "kk_live": False}),
    ).start()
    try:
        incident = wait_for(
            lambda: (
                (i := _incident(controller, "disk-full"))
                and i["resolved_at"]
                and any(h["kind"] == "result" for h in i["history"])
                and i
            ),
            90,
            "the disk-full incident opened, healed and closed",
        )
        kinds = [h["kind"] for h in incident["history"]]
        assert kinds[0] == "opened"
        assert "resolved" in kinds
        healed = [h for h in incident["history"] if h["kind"] == "result"]
        assert healed, incident["history"]
        assert "disk-cleanup: successful" in healed[0]["message"]
        assert not list(archives.glob("*.deb")), "the package files are gone"
        assert keep.read_bytes() == b"the pupil's work", "nobody's work is touched"
        # What ran was the controller's signed bundle, accepted by the kit.
        status, bundle = controller.get(f"/api/v1/kits/{KIT}/bundle", "technician")
        assert status == 200
        assert bundle["accepted"] == bundle["current"] >= 1
        events = controller.get(f"/api/v1/kits/{KIT}/events?limit=1000", "technician")[1]
        results = [e for e in events["items"] if e["kind"] == "remediation_result"]
        assert results, "the run's result reached the controller"
        data = results[-1]["body"]["data"]
        assert data["playbook"] == "disk-cleanup"
        assert data["ok"] is True
        assert data["changed"], "the result names the tasks that changed something"

        # A technician asks the kit for diagnostics: logs, a snapshot and its last runs.
        status, asked = controller.post(
            f"/api/v1/kits/{KIT}/diagnostics", {"log_lines": 50}, "technician"
        )
        assert status == 202, asked
        status, _ = controller.post(f"/api/v1/kits/{KIT}/diagnostics", {}, "teacher")
        assert status == 403
        upload = wait_for(
            lambda: (
                (r := controller.get(f"/api/v1/diagnostics/{asked['id']}", "technician"))[0] == 200
                and r[1]
            ),
            60,
            "the diagnostics upload",
        )
        content = upload["content"]
        assert content["bundle_version"] == bundle["current"]
        assert content["telemetry"]["hostname"]
        assert any(r["result"].get("playbook") == "disk-cleanup" for r in content["runs"])
        assert upload["size"] > 0

        # The parent asks for help from the kit: a help-request ticket reaches the technicians.
        asked_for_help = subprocess.run(
            [
                str(Path(sys.executable).parent / "kitkeeper-agent"),
                "help",
                "Құлаққап дыбыс шығармайды",
                "--lang",
                "kk",
                "--state-dir",
                str(agent.state_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert asked_for_help.returncode == 0, asked_for_help.stderr
        assert "техникалық маманына" in asked_for_help.stdout
        ticket = wait_for(
            lambda: [
                t
                for t in controller.get(f"/api/v1/tickets?kit_id={KIT}", "technician")[1]
                if t["kind"] == "help_request"
            ],
            30,
            "the help-request ticket",
        )[0]
        assert "Құлаққап" in controller.get(f"/api/v1/tickets/{ticket['id']}", "admin")[1]["detail"]
        assert not list((agent.state_dir / "requests").glob("*.json")), "sent, then removed"
    finally:
        agent.stop()


# Runs the agent in-process under umockdev-wrapper, with a recorded webcam that the test
# unplugs by creating the file `unplug` in the state directory.
CAMERA_AGENT = r"""
import os, sys, threading, time, warnings
from pathlib import Path

ROOT, DATA, DEBIAN_GI, STATE, PORT = sys.argv[1:6]
sys.path.insert(0, ROOT)
sys.path.append(DEBIAN_GI)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    import gi
    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
sys.path.remove(DEBIAN_GI)

testbed = UMockdev.Testbed.new()
testbed.add_from_string((Path(DATA) / "webcam.umockdev").read_text())
root = testbed.get_root_dir()

import logging
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
from agent.config import AgentSettings
from agent.service import Agent

settings = AgentSettings(
    state_dir=Path(STATE), mqtt_host="127.0.0.1", mqtt_port=int(PORT), interval=1.0,
    ack_timeout=5, reconnect_max_delay=2,
    playbook_vars={"kk_root": root, "kk_live": False},
)
agent = Agent(settings)
stop = threading.Event()
runner = threading.Thread(target=agent.run, args=(stop,))
runner.start()
state = Path(STATE)
while not (state / "unplug").exists():
    time.sleep(0.1)
block = (Path(DATA) / "webcam.umockdev").read_text().split("\n\n")
paths = ["/sys" + b.splitlines()[0].removeprefix("P: ") for b in block if b.strip()]
usb = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"  # the webcam's port, not the controller
for path in sorted((p for p in paths if p.startswith(usb)), key=lambda p: -p.count("/")):
    testbed.uevent(path, "remove")  # deepest first, as the kernel sends them
    testbed.remove_device(path)  # and its /dev node goes with it
print("unplugged", usb, "dev now:", sorted(os.listdir(root + "/dev")), flush=True)
while not (state / "stop").exists():
    time.sleep(0.1)
stop.set()
runner.join(timeout=30)
"""


def test_an_unplugged_camera_the_playbook_cannot_bring_back_gets_a_replacement_ticket(
    tmp_path: Path, broker: Broker, ladder: Callable[[str], Controller]
) -> None:
    if shutil.which("umockdev-wrapper") is None:
        pytest.fail("umockdev is not installed: run `make test`, which installs it")
    controller = ladder(CAMERA_RULES)
    lend(controller, guardian="Айгүл")
    start = datetime.now(UTC) + timedelta(hours=3)
    schedule = one_off_lesson(
        start, 40, subject="Reading", mode="online", server="webinar.example.kz:443"
    )
    status, body = controller.put(
        f"/api/v1/pupils/{CONTRACT['pupil_ref']}/schedule", schedule, "admin"
    )
    assert status == 200, body
    status, body = controller.post(
        f"/api/v1/pupils/{CONTRACT['pupil_ref']}/schedule/approve", {}, "admin"
    )
    assert status == 200, body
    state = tmp_path / "camera-kit"
    provision_kit(broker.pki, state, KIT)
    script = tmp_path / "camera_agent.py"
    script.write_text(CAMERA_AGENT, encoding="utf-8")
    log = (tmp_path / "camera-agent.log").open("w")
    proc = subprocess.Popen(
        [
            "umockdev-wrapper",
            sys.executable,
            str(script),
            str(ROOT),
            str(DATA),
            DEBIAN_GI,
            str(state),
            str(broker.port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    try:
        # The kit reports its camera and gets the signed bundle first.
        def camera_seen() -> bool:
            status, kit = controller.get(f"/api/v1/kits/{KIT}", "technician")
            if status != 200 or not kit.get("latest"):
                return False
            devices = kit["latest"].get("peripherals", {}).get("devices", [])
            return any(d["kind"] == "camera" for d in devices)

        wait_for(camera_seen, 60, "the kit reporting its webcam")
        wait_for(
            lambda: controller.get(f"/api/v1/kits/{KIT}/bundle", "admin")[1]["accepted"],
            60,
            "the bundle accepted",
        )
        assert _incident(controller, "camera-missing") is None
        (state / "unplug").touch()
        incident = wait_for(
            lambda: (
                (i := _incident(controller, "camera-missing"))
                and i["step_action"] == "replacement"
                and i
            ),
            120,
            "camera-missing climbing to a replacement",
        )
        run = incident["commands"][0]
        assert run["playbook"] == "camera-reload"
        assert run["disruptive"] is True
        assert run["state"] == "failed"
        assert run["result"]["status"] == "failed"
        assert "No camera" in run["result"]["tail"]
        ticket = incident["tickets"][0]
        assert ticket["kind"] == "replacement"
        assert datetime.fromisoformat(ticket["due_by"]) == start.replace(second=0, microsecond=0)
        status, full = controller.get(f"/api/v1/tickets/{ticket['id']}", "technician")
        assert status == 200
        assert full["contract_number"] == CONTRACT["number"]
    finally:
        (state / "stop").touch()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
