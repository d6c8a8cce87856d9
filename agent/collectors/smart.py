"""Disk health from smartmontools' JSON output (`smartctl --json`), where smartctl is installed."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from typing import Any

from protocol.base import Unavailable
from protocol.inventory import DiskHealth

_LOGGER = logging.getLogger(__name__)
TIMEOUT_S = 20
REALLOCATED_SECTOR_ID = 5


def parse(report: dict[str, Any]) -> DiskHealth:
    """One `smartctl -a --json DEVICE` report as DiskHealth (fields absent stay None)."""
    device = report.get("device", {}).get("name", "?")
    reallocated = None
    for attr in report.get("ata_smart_attributes", {}).get("table", []):
        if attr.get("id") == REALLOCATED_SECTOR_ID:
            reallocated = int(attr.get("raw", {}).get("value", 0))
    nvme = report.get("nvme_smart_health_information_log", {})
    return DiskHealth(
        device=device,
        model=report.get("model_name"),
        serial=report.get("serial_number"),
        passed=report.get("smart_status", {}).get("passed"),
        temperature_c=report.get("temperature", {}).get("current"),
        power_on_hours=report.get("power_on_time", {}).get("hours"),
        percentage_used=nvme.get("percentage_used"),
        reallocated_sectors=reallocated,
    )


def _smartctl(*args: str) -> dict[str, Any]:
    binary = shutil.which("smartctl")
    assert binary is not None
    out = subprocess.run(
        [binary, "--json=c", *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    try:
        data: dict[str, Any] = json.loads(out.stdout)
    except ValueError as exc:
        raise RuntimeError(f"smartctl said: {out.stderr.strip() or out.stdout[:200]}") from exc
    return data


def collect() -> list[DiskHealth] | Unavailable:
    """Every disk smartctl can see, with its health; a reason when smartctl can tell nothing."""
    if shutil.which("smartctl") is None:
        return Unavailable(unavailable="smartctl not installed (smartmontools)")
    scan = _smartctl("--scan")
    disks: list[DiskHealth] = []
    problems: list[str] = []
    for dev in scan.get("devices", []):
        report = _smartctl("-a", dev["name"])
        messages = [m.get("string", "") for m in report.get("smartctl", {}).get("messages", [])]
        if "smart_status" not in report and "model_name" not in report:
            problems.append(f"{dev['name']}: {'; '.join(messages) or 'no SMART data'}")
            continue
        disks.append(parse(report))
    if not disks:
        reason = "; ".join(problems) or "no disk with SMART found"
        if any("Permission denied" in p or "root" in p for p in problems):
            reason = f"permission denied: {reason}"
        return Unavailable(unavailable=reason[:500])
    return disks
