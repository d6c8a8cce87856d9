"""The services a lesson depends on: the agent, the network manager, the audio server, time sync.

With systemd, `systemctl is-active` on the first unit of each role that is installed; without it
(containers, other inits), whether a process of that role runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil

from protocol.inventory import ServiceState

ROLES: dict[str, list[str]] = {
    "network": ["NetworkManager", "systemd-networkd", "connman"],
    "audio": ["pipewire", "pulseaudio", "wireplumber"],
    "time": ["systemd-timesyncd", "chronyd", "chrony", "ntpd", "ntpsec"],
}
_USER_UNITS = {"pipewire", "pulseaudio", "wireplumber"}


def _systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _unit_state(unit: str, *, user: bool) -> str | None:
    args = ["systemctl", *(["--user"] if user else []), "is-active", f"{unit}.service"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    state = out.stdout.strip()
    return None if state in ("", "unknown") else state


def _running() -> set[str]:
    names: set[str] = set()
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if name:
            names.add(str(name))
    return names


def collect() -> list[ServiceState]:
    """One state per role; a role with nothing installed or running is reported inactive."""
    states = [
        ServiceState(role="agent", name="kitkeeper-agent", active=True, detail=f"pid {os.getpid()}")
    ]
    systemd = _systemd()
    running = None if systemd and os.geteuid() != 0 else _running()
    for role, candidates in ROLES.items():
        found: ServiceState | None = None
        for name in candidates:
            # As root, `systemctl --user` reaches no pupil's session: look for the process.
            by_unit = systemd and not (name in _USER_UNITS and os.geteuid() == 0)
            if by_unit:
                state = _unit_state(name, user=name in _USER_UNITS)
                if state is None:
                    continue
                found = ServiceState(role=role, name=name, active=state == "active", detail=state)
            elif running is not None and name in running:
                found = ServiceState(role=role, name=name, active=True, detail="process running")
            if found is not None and found.active:
                break
        states.append(
            found
            or ServiceState(
                role=role,
                name=" or ".join(candidates[:2]),
                active=False,
                detail="not installed or not running",
            )
        )
    return states
