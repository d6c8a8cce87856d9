"""Hardware health collectors: parsers on recorded outputs, and the real tools never crashing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.collectors import firmware, power, services, smart
from agent.collectors.system import SystemCollector
from protocol.base import Unavailable
from protocol.models import Telemetry

DATA = Path(__file__).parent / "data"


def test_smart_parser_reads_an_nvme_report() -> None:
    health = smart.parse(json.loads((DATA / "smartctl-nvme.json").read_text()))
    assert health.device == "/dev/nvme0"
    assert health.serial == "S4ELNX0N123456"
    assert health.passed is True
    assert (health.temperature_c, health.power_on_hours, health.percentage_used) == (38, 5213, 7)


def test_smart_parser_reads_a_failing_ata_disk() -> None:
    health = smart.parse(json.loads((DATA / "smartctl-ata-failing.json").read_text()))
    assert health.passed is False
    assert health.reallocated_sectors == 1624


@pytest.mark.processes
def test_real_smartctl_gives_data_or_a_reason() -> None:
    result = smart.collect()  # on a VM: smartctl installed, a virtual disk without SMART
    assert isinstance(result, list | Unavailable)
    if isinstance(result, Unavailable):
        assert result.unavailable


def battery(tmp_path: Path, **files: str) -> Path:
    bat = tmp_path / "BAT0"
    bat.mkdir()
    for name, value in {"type": "Battery", **files}.items():
        (bat / name).write_text(value + "\n")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "wear", "full_wh"),
    [
        (
            {"energy_full": "40000000", "energy_full_design": "50000000", "cycle_count": "312"},
            20.0,
            40.0,
        ),
        (
            {
                "charge_full": "3000000",
                "charge_full_design": "4000000",
                "voltage_min_design": "11100000",
            },
            25.0,
            33.3,
        ),
        ({"charge_full": "3000000", "charge_full_design": "4000000"}, 25.0, None),
        ({"status": "Discharging"}, None, None),
    ],
)
def test_battery_wear_from_sysfs(
    tmp_path: Path, files: dict[str, str], wear: float | None, full_wh: float | None
) -> None:
    health = power.collect(battery(tmp_path, **files))
    assert not isinstance(health, Unavailable)
    assert health.wear_percent == wear
    assert health.energy_full_wh == full_wh


def test_no_battery_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "AC").mkdir()
    (tmp_path / "AC" / "type").write_text("Mains\n")
    assert power.collect(tmp_path) == Unavailable(unavailable="no battery")
    assert power.collect(tmp_path / "missing") == Unavailable(
        unavailable="no power supply information (/sys/class/power_supply)"
    )


def test_services_report_every_role_and_the_agent_itself() -> None:
    states = {s.role: s for s in services.collect()}
    assert set(states) == {"agent", "network", "audio", "time"}
    assert states["agent"].active
    assert str(os.getpid()) in states["agent"].detail


def test_firmware_parser() -> None:
    report = {
        "Devices": [
            {"Name": "System Firmware", "Version": "1.12.0", "Vendor": "Dell", "Releases": [{}]},
            {"Name": "Webcam", "Version": "0.3"},
        ]
    }
    devices = firmware.parse(report)
    assert [(d.name, d.version, d.update_available) for d in devices] == [
        ("System Firmware", "1.12.0", True),
        ("Webcam", "0.3", None),
    ]


@pytest.mark.processes
def test_the_whole_snapshot_validates_and_reports_the_agent_footprint() -> None:
    collector = SystemCollector()
    collector.prime()
    snapshot = Telemetry.model_validate_json(collector.collect(30).model_dump_json())
    assert snapshot.agent_process is not None
    assert not isinstance(snapshot.agent_process, Unavailable)
    assert snapshot.agent_process.rss_bytes > 10_000_000
    for part in ("battery_health", "disk_health", "sensors", "services", "firmware"):
        assert getattr(snapshot, part) is not None, part


@pytest.mark.processes
def test_slow_parts_are_not_collected_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(smart, "collect", lambda: calls.append(1) or Unavailable(unavailable="x"))
    now = [0.0]
    collector = SystemCollector(clock=lambda: now[0])
    collector.collect(30)
    now[0] += 60
    collector.collect(30)
    assert len(calls) == 1
    now[0] += 3600
    collector.collect(30)
    assert len(calls) == 2
