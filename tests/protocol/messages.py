"""Typical messages for the tests: what a kit sends."""

from __future__ import annotations

from typing import Any


def telemetry_body() -> dict[str, Any]:
    """A typical telemetry body, as a kit sends it (a full disk, no battery, no swap figures)."""
    return {
        "hostname": "kit-host",
        "os": "Debian GNU/Linux 12",
        "agent_version": "0.1.0",
        "interval_s": 30,
        "uptime_s": 1200.5,
        "boot_time": "2026-11-25T08:40:00Z",
        "cpu": {"percent": 12.5, "count": 4, "load_1m": 0.4},
        "memory": {
            "total_bytes": 8_000_000_000,
            "available_bytes": 4_000_000_000,
            "used_percent": 50,
        },
        "swap": {"unavailable": "permission denied: /proc/swaps"},
        "disks": [
            {
                "mountpoint": "/",
                "device": "/dev/sda1",
                "fstype": "ext4",
                "total_bytes": 100,
                "used_bytes": 91,
                "free_bytes": 9,
                "used_percent": 91.0,
            }
        ],
        "battery": {"unavailable": "no battery"},
        "network": [{"name": "wlan0", "is_up": True, "addresses": ["192.0.2.7"]}],
    }
