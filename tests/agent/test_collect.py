"""`collect --once` prints a real snapshot that the protocol accepts; failures become reasons."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from agent.collectors import system
from agent.collectors.system import SystemCollector
from protocol.models import Telemetry, Unavailable

pytestmark = pytest.mark.processes

AGENT = str(Path(sys.executable).parent / "kitkeeper-agent")


def test_collect_once_prints_a_valid_snapshot_of_this_machine() -> None:
    out = subprocess.run([AGENT, "collect", "--once"], capture_output=True, check=True, text=True)
    snapshot = Telemetry.model_validate(json.loads(out.stdout))
    assert snapshot.hostname == socket.gethostname()
    assert not isinstance(snapshot.memory, Unavailable)
    assert snapshot.memory.total_bytes == psutil.virtual_memory().total
    assert not isinstance(snapshot.cpu, Unavailable)
    assert snapshot.cpu.count == psutil.cpu_count()
    assert isinstance(snapshot.disks, list)
    assert snapshot.disks
    assert isinstance(snapshot.network, list)
    assert "lo" in {n.name for n in snapshot.network}
    assert snapshot.uptime_s > 0


def test_collect_once_prints_the_whole_snapshot_a_kit_sends(tmp_path: Path) -> None:
    """Peripherals, the profile check and connectivity are there, not `null` (issue 12, item 14)."""
    out = subprocess.run(
        [AGENT, "collect", "--once", "--state-dir", str(tmp_path), "--mqtt-port", "9"],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    snapshot = Telemetry.model_validate(json.loads(out.stdout))
    assert snapshot.peripherals is not None
    assert snapshot.profile is not None
    assert not isinstance(snapshot.profile, Unavailable)
    assert snapshot.profile.profile == "base"
    assert snapshot.connectivity is not None
    assert not isinstance(snapshot.connectivity, Unavailable)
    broker = [e for e in snapshot.connectivity.endpoints if e.name == "broker"]
    assert broker
    assert broker[0].port == 9
    assert broker[0].sent > 0


def test_collect_fast_skips_only_the_connectivity_probe(tmp_path: Path) -> None:
    out = subprocess.run(
        [AGENT, "collect", "--once", "--fast", "--state-dir", str(tmp_path)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    snapshot = Telemetry.model_validate(json.loads(out.stdout))
    assert snapshot.connectivity == Unavailable(unavailable="skipped: --fast")
    assert snapshot.peripherals is not None
    assert snapshot.profile is not None


@pytest.mark.parametrize(
    ("target", "error", "reason"),
    [
        (
            "virtual_memory",
            PermissionError(13, "Permission denied", "/proc/meminfo"),
            "permission denied: /proc/meminfo",
        ),
        ("sensors_battery", NotImplementedError(), "not supported on this platform"),
        ("swap_memory", RuntimeError("sysinfo failed"), "RuntimeError: sysinfo failed"),
        ("net_if_addrs", OSError("netlink closed"), "OSError: netlink closed"),
    ],
)
def test_a_failing_source_becomes_unavailable_and_the_rest_is_sent(
    monkeypatch: pytest.MonkeyPatch, target: str, error: Exception, reason: str
) -> None:
    def broken() -> None:
        raise error

    monkeypatch.setattr(system.psutil, target, broken)
    snapshot = SystemCollector().collect(interval_s=30)
    parts = {
        "virtual_memory": "memory",
        "sensors_battery": "battery",
        "swap_memory": "swap",
        "net_if_addrs": "network",
    }
    part = getattr(snapshot, parts[target])
    assert part == Unavailable(unavailable=reason)
    assert not isinstance(snapshot.cpu, Unavailable)
    Telemetry.model_validate_json(snapshot.model_dump_json())


def test_no_battery_is_a_reason_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system.psutil, "sensors_battery", lambda: None)
    assert SystemCollector().collect(interval_s=30).battery == Unavailable(unavailable="no battery")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--kit-id", "a/b"], "invalid kit_id"),
        (["run", "--interval", "0"], "invalid interval"),
        (["run", "--mqtt-port", "70000"], "invalid mqtt_port"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
