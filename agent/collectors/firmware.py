"""Firmware versions from fwupd (`fwupdmgr get-devices --json`), where fwupd runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from protocol.base import Unavailable
from protocol.inventory import FirmwareDevice


def parse(report: dict[str, Any]) -> list[FirmwareDevice]:
    """The devices in a `fwupdmgr get-devices --json` report."""
    devices = []
    for dev in report.get("Devices", []):
        releases = dev.get("Releases")
        devices.append(
            FirmwareDevice(
                name=str(dev.get("Name", "?")),
                version=dev.get("Version"),
                vendor=dev.get("Vendor"),
                update_available=bool(releases) if releases is not None else None,
            )
        )
    return devices


def collect() -> list[FirmwareDevice] | Unavailable:
    """What fwupd knows, or why it can tell nothing."""
    binary = shutil.which("fwupdmgr")
    if binary is None:
        return Unavailable(unavailable="fwupd not installed")
    out = subprocess.run(
        [binary, "get-devices", "--json"], capture_output=True, text=True, timeout=30, check=False
    )
    if out.returncode != 0:
        return Unavailable(unavailable=f"fwupd: {(out.stderr or out.stdout).strip()[:300]}")
    try:
        return parse(json.loads(out.stdout))
    except ValueError as exc:
        return Unavailable(unavailable=f"fwupd answered something unreadable: {exc}")
