"""The kit's own part of the ladder (agent/selfheal.py), with real ansible-runner runs.

Local rules heal at once (offline: nothing here talks to a controller), a disruptive playbook
waits for the end of a lesson, the schedule survives a restart, and the pre-lesson check fixes
what it can, checks again and reports.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import firmware_guard
from agent.bundles import BundleStore
from agent.collectors import SystemCollector
from agent.config import AgentSettings
from agent.kit import KitView
from agent.playbooks import Runner
from agent.selfheal import SelfHeal
from agent.service import SeenCommands
from controller.remediation import bundles as controller_bundles
from protocol.bundle import pack
from protocol.commands import EventKind, PrelessonCheck
from protocol.inventory import (
    Connectivity,
    DeviceKind,
    EndpointProbe,
    Peripheral,
    Peripherals,
    Readiness,
    Verdict,
)
from protocol.models import Disk, Event, LessonWindow, Schedule, Telemetry

pytestmark = pytest.mark.processes

NOW = datetime.now(UTC).replace(microsecond=0)


def _playbook(playbook_id: str, tasks: str, *, disruptive: bool = False) -> bytes:
    flag = "true" if disruptive else "false"
    return f"""
- name: {playbook_id}
  hosts: localhost
  gather_facts: false
  vars:
    kitkeeper: {{id: {playbook_id}, disruptive: {flag}, timeout: 60, description: test}}
  tasks:
{tasks}""".encode()


def _touch(name: str) -> str:
    return f"""
    - name: put {name} back
      ansible.builtin.copy:
        dest: "{{{{ kk_root }}}}/{name}"
        content: "ok\\n"
"""


RULES = b"""
rules:
  - id: disk-full
    when: [{fact: disk.used_percent.max, op: ">", value: 90}]
    clear: [{fact: disk.used_percent.max, op: "<", value: 85}]
    ladder:
      - {action: self_heal, playbook: disk-cleanup, deadline: 10m}
  - id: dns-broken
    when: [{fact: net.link_up, op: "==", value: false}]
    ladder:
      - {action: self_heal, playbook: network-reset, deadline: 10m}
"""
FILES = {
    "playbooks/disk-cleanup.yml": _playbook("disk-cleanup", _touch("cleaned")),
    "playbooks/network-reset.yml": _playbook("network-reset", _touch("network"), disruptive=True),
    "playbooks/audio-reset.yml": _playbook("audio-reset", _touch("microphone")),
    "rules.yaml": RULES,
}


class Kit:
    """A state directory with an accepted bundle, a runner, and a snapshot made from files."""

    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "state"
        self.root = tmp / "root"
        self.state.mkdir()
        self.root.mkdir()
        key = Ed25519PrivateKey.generate()
        (self.state / "bundle-signing.pub").write_bytes(controller_bundles.public_key_pem(key))
        self.store = BundleStore(self.state)
        data = pack(FILES, version=1, created_at=NOW)
        self.store.install(data, key.sign(data))
        self.events: list[Event] = []
        self.runner = Runner(
            self.state,
            self.store,
            self.events.append,
            playbook_vars={"kk_root": str(self.root), "kk_live": False},
        )
        self.base = SystemCollector().collect(30.0)
        self.disk_percent = 50.0
        self.link_up = True
        self.microphone_fixable = True
        self.selfheal = self.make()

    def make(self) -> SelfHeal:
        return SelfHeal(
            state_dir=self.state,
            bundles=self.store,
            runner=self.runner,
            publish_event=self.events.append,
            snapshot=self.snapshot,
        )

    def snapshot(self) -> Telemetry:
        """The kit as its files say: a microphone once audio-reset has put it back."""
        devices = [Peripheral(kind=DeviceKind.CAMERA, name="cam")]
        devices.append(Peripheral(kind=DeviceKind.AUDIO_PLAYBACK, name="speakers"))
        if (self.root / "microphone").exists() and self.microphone_fixable:
            devices.append(Peripheral(kind=DeviceKind.AUDIO_CAPTURE, name="mic"))
        verdict = Verdict.READY if self.link_up else Verdict.NOT_READY
        connectivity = Connectivity(
            link_up=self.link_up,
            dns_ok=self.link_up,
            endpoints=[
                EndpointProbe(
                    name="webinar",
                    host="webinar.example.kz",
                    port=443,
                    sent=10,
                    received=10,
                    rtt_ms=20.0,
                    jitter_ms=1.0,
                    loss_percent=0.0,
                )
            ],
            readiness=Readiness(verdict=verdict),
        )
        disk = Disk(
            mountpoint="/",
            device="/dev/sda1",
            fstype="ext4",
            total_bytes=100 * 2**30,
            used_bytes=int(self.disk_percent * 2**30),
            free_bytes=int((100 - self.disk_percent) * 2**30),
            used_percent=self.disk_percent,
        )
        return self.base.model_copy(
            update={
                "peripherals": Peripherals(devices=devices),
                "disks": [disk],
                "connectivity": connectivity,
            }
        )

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = Kit(tmp_path)
    made.selfheal.start()
    yield made
    made.selfheal.stop()
    made.runner.close()


def _schedule(*lessons: tuple[timedelta, int, str]) -> Schedule:
    return Schedule(
        generated_at=NOW,
        horizon_end=NOW + timedelta(days=14),
        lessons=[
            LessonWindow(
                start=NOW + offset,
                end=NOW + offset + timedelta(minutes=minutes),
                mode=mode,
                subject="maths",
                server="webinar.example.kz:443",
            )
            for offset, minutes, mode in lessons
        ],
    )


def _wait(kit: Kit, kind: str, count: int = 1) -> list[Event]:
    kit.selfheal.stop()  # the queue drains before the worker ends
    found = [e for e in kit.events if e.kind == kind]
    assert len(found) >= count, kit.kinds()
    return found


def test_a_rule_heals_the_kit_at_once_and_reports_it(kit: Kit) -> None:
    kit.disk_percent = 95.0
    kit.selfheal.after_snapshot(kit.snapshot(), NOW)
    healed = _wait(kit, EventKind.SELF_HEAL)
    assert healed[0].data["rule_id"] == "disk-full"
    assert healed[0].data["ok"] is True
    assert (kit.root / "cleaned").exists(), "the signed playbook ran"
    assert EventKind.REMEDIATION_RESULT in kit.kinds()


def test_a_disruptive_self_heal_waits_for_the_end_of_the_lesson(kit: Kit) -> None:
    kit.selfheal.on_schedule(_schedule((timedelta(minutes=-10), 40, "online")))
    kit.link_up = False
    facts_down = kit.snapshot()
    kit.selfheal.after_snapshot(facts_down, NOW)
    kit.selfheal.after_snapshot(facts_down, NOW + timedelta(minutes=5))
    allowed, why = kit.selfheal.may_disrupt("network-reset", NOW)
    assert not allowed
    assert "a lesson runs until" in why
    assert kit.selfheal.may_disrupt("disk-cleanup", NOW)[0], "not disruptive: any time"
    kit.selfheal.after_snapshot(facts_down, NOW + timedelta(minutes=31))  # the lesson is over
    healed = _wait(kit, EventKind.SELF_HEAL)
    assert [e.data["playbook"] for e in healed] == ["network-reset"]
    assert (kit.root / "network").exists()


def test_the_schedule_is_kept_on_disk_for_the_firmware_hooks_and_a_restart(kit: Kit) -> None:
    kit.selfheal.on_schedule(_schedule((timedelta(hours=2), 45, "online")))
    again = kit.make()
    assert [lesson.start for lesson in again.lessons()] == [NOW + timedelta(hours=2)]
    windows = firmware_guard.load_windows(kit.state)
    assert windows[0].start == NOW + timedelta(hours=2)
    allowed, why = firmware_guard.may_update(
        now=NOW + timedelta(hours=1, minutes=50),
        lessons=windows,
        battery_percent=None,
        plugged=None,
    )
    assert not allowed
    assert "lesson" in why


def test_before_an_online_lesson_the_kit_fixes_what_it_can_and_reports(kit: Kit) -> None:
    kit.selfheal.on_schedule(
        _schedule((timedelta(minutes=20), 40, "online"), (timedelta(hours=3), 40, "home_visit"))
    )
    assert kit.selfheal.prelesson_due(NOW) is not None
    kit.selfheal.after_snapshot(kit.snapshot(), NOW)
    reports = _wait(kit, EventKind.PRELESSON_CHECK)
    check = PrelessonCheck.model_validate(reports[0].data)
    assert check.remediated == ["audio-reset"]
    assert "microphone" not in check.failures, "fixed before the lesson"
    assert check.ok, check.failures
    assert reports[0].severity == "info"
    assert check.lesson_start == NOW + timedelta(minutes=20)
    # Checked once: not again for the same lesson, even after a restart.
    again = kit.make()
    assert again.prelesson_due(NOW + timedelta(minutes=5)) is None


def test_what_cannot_be_fixed_is_reported_as_not_ready(kit: Kit) -> None:
    kit.selfheal.on_schedule(_schedule((timedelta(minutes=10), 40, "online")))
    kit.microphone_fixable = False  # audio-reset runs, but the microphone stays away
    kit.selfheal.after_snapshot(kit.snapshot(), NOW)
    reports = _wait(kit, EventKind.PRELESSON_CHECK)
    check = PrelessonCheck.model_validate(reports[0].data)
    assert not check.ok
    assert check.failures == ["microphone"]
    assert check.remediated == ["audio-reset"]
    assert reports[0].severity == "critical"


def test_a_command_delivered_twice_is_run_once_even_across_a_restart(tmp_path: Path) -> None:
    seen = SeenCommands(tmp_path / "commands-seen.json")
    assert seen.first_time("c1")
    assert not seen.first_time("c1")
    assert SeenCommands(tmp_path / "commands-seen.json").first_time("c1") is False
    assert seen.first_time("c2")


def test_a_failed_check_is_repeated_until_the_lesson_and_stops_once_it_passes(kit: Kit) -> None:
    kit.selfheal.on_schedule(_schedule((timedelta(minutes=10), 40, "online")))
    kit.microphone_fixable = False
    kit.selfheal.after_snapshot(kit.snapshot(), NOW)
    _wait(kit, EventKind.PRELESSON_CHECK)
    assert kit.selfheal.prelesson_due(NOW + timedelta(minutes=1)) is None, "not every snapshot"
    assert kit.selfheal.prelesson_due(datetime.now(UTC) + timedelta(minutes=6)) is not None
    assert kit.selfheal.prelesson_due(NOW + timedelta(minutes=55)) is None, "the lesson is over"


def test_the_pre_lesson_check_probes_the_lessons_own_server(kit: Kit) -> None:
    probed: list[str | None] = []

    def fresh(server: str | None) -> Telemetry:
        probed.append(server)
        return kit.snapshot()

    kit.selfheal.stop()
    kit.selfheal = SelfHeal(
        state_dir=kit.state,
        bundles=kit.store,
        runner=kit.runner,
        publish_event=kit.events.append,
        snapshot=kit.snapshot,
        fresh_snapshot=fresh,
    )
    kit.selfheal.start()
    kit.selfheal.on_schedule(_schedule((timedelta(minutes=20), 40, "online")))
    kit.selfheal.after_snapshot(kit.snapshot(), NOW)
    _wait(kit, EventKind.PRELESSON_CHECK)
    assert probed[0] == "webinar.example.kz:443"


def test_a_probe_measures_the_server_it_is_given(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    events: list[Event] = []
    view = KitView(AgentSettings(connectivity_interval=0, state_dir=tmp_path), [], events.append)
    try:
        result = view.probe(count=3, webinar=f"127.0.0.1:{port}")
    finally:
        listener.close()
    assert isinstance(result, Connectivity)
    webinar = next(p for p in result.endpoints if p.name == "webinar")
    assert (webinar.host, webinar.port, webinar.received) == ("127.0.0.1", port, 3)
    assert view.probe(count=1, webinar="not a server").endpoints == []
