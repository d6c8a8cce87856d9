"""Whether a firmware update may start now: never during a lesson, never on a low battery.

Pure (`may_update`) over the lesson windows the agent keeps in `<state_dir>/schedule.json` (written
from the controller's retained `kits/{id}/schedule`; a list of {"start": ISO, "end": ISO}) and the
battery; `firmware-hooks/` call it through `kitkeeper-agent firmware-hook`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agent.errors import ConfigError

SCHEDULE_FILE = "schedule.json"
GUARD = timedelta(minutes=15)
"""No update this close before a lesson either: a failed update needs time to be put right."""
MIN_BATTERY_PERCENT = 50.0


@dataclass(frozen=True, slots=True)
class Window:
    """One lesson, in UTC."""

    start: datetime
    end: datetime


def load_windows(state_dir: Path) -> list[Window]:
    """The lesson windows the agent knows; none if it has not received a schedule yet."""
    path = state_dir / SCHEDULE_FILE
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = raw["lessons"] if isinstance(raw, dict) else raw
        return [
            Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
            for w in items
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the lesson schedule {path}: {exc}") from exc


def may_update(
    *,
    now: datetime,
    lessons: list[Window],
    battery_percent: float | None,
    plugged: bool | None,
) -> tuple[bool, str]:
    """(allowed, why): refused inside a lesson or its guard time, or on battery below 50%."""
    for lesson in lessons:
        if lesson.start - GUARD <= now < lesson.end:
            if now >= lesson.start:
                return False, f"a lesson is running until {lesson.end:%H:%M} UTC"
            return False, f"a lesson starts at {lesson.start:%H:%M} UTC"
    if battery_percent is not None and not plugged and battery_percent < MIN_BATTERY_PERCENT:
        return False, f"battery at {battery_percent:.0f}% and not charging"
    return True, "no lesson now or soon, and power is fine"
