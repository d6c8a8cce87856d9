"""What the fleet list shows of one telemetry snapshot: key figures, readiness and profile."""

from __future__ import annotations

import json
from typing import Any

from protocol.inventory import Connectivity, ProfileCheck
from protocol.models import Telemetry

FIGURES = ("cpu_percent", "memory_percent", "disk_used_percent", "battery_percent")
"""The kit columns `key_figures` fills."""
SUMMARY = ("readiness", "profile_missing", "profile")
"""The kit columns `summary` fills."""


def key_figures(body: Telemetry) -> dict[str, float | None]:
    """The few numbers shown in a kit list, from one snapshot (None where unavailable)."""
    disks = body.disks if isinstance(body.disks, list) else []
    return {
        "cpu_percent": getattr(body.cpu, "percent", None),
        "memory_percent": getattr(body.memory, "used_percent", None),
        "disk_used_percent": max((d.used_percent for d in disks), default=None),
        "battery_percent": getattr(body.battery, "percent", None),
    }


def summary(body: Telemetry) -> dict[str, Any]:
    """Webinar readiness and what the kit lacks for its profile, for the fleet list."""
    connectivity, profile = body.connectivity, body.profile
    return {
        "readiness": connectivity.readiness.verdict.value
        if isinstance(connectivity, Connectivity)
        else None,
        "profile_missing": json.dumps(profile.missing)
        if isinstance(profile, ProfileCheck)
        else None,
        "profile": profile.profile if isinstance(profile, ProfileCheck) else None,
    }
