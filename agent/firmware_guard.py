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


@dataclass(frozen=True, slots=True)
class KnownLessons:
    """What the kit knows of its lessons: the windows and the schedule's guard before each."""

    windows: list[Window]
    guard: timedelta = GUARD


def load_windows(state_dir: Path) -> list[Window]:
    """The lesson windows the agent knows; none if it has not received a schedule yet."""
    return load_lessons(state_dir).windows


def load_lessons(state_dir: Path) -> KnownLessons:
    """The lessons and their guard from `schedule.json`; none if there is no schedule yet."""
    path = state_dir / SCHEDULE_FILE
    if not path.exists():
        return KnownLessons([])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = raw["lessons"] if isinstance(raw, dict) else raw
        windows = [Window(_aware(w["start"]), _aware(w["end"])) for w in items]
        minutes = _guard_minutes(raw.get("guard_minutes", 15) if isinstance(raw, dict) else 15)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"cannot read the lesson schedule {path}: {exc}") from exc
    return KnownLessons(windows, timedelta(minutes=minutes))


def _guard_minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 240:
        raise ValueError(f"guard_minutes {value!r} is not a number of minutes 0-240")
    return value


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def may_update(
    *,
    now: datetime,
    lessons: list[Window],
    battery_percent: float | None,
    plugged: bool | None,
    guard: timedelta = GUARD,
) -> tuple[bool, str]:
    """(allowed, why): refused inside a lesson or its guard time, or on battery below 50%."""
    for lesson in lessons:
        if lesson.start - guard <= now < lesson.end:
            if now >= lesson.start:
                return False, f"a lesson is running until {lesson.end:%H:%M} UTC"
            return False, f"a lesson starts at {lesson.start:%H:%M} UTC"
    if battery_percent is not None and not plugged and battery_percent < MIN_BATTERY_PERCENT:
        return False, f"battery at {battery_percent:.0f}% and not charging"
    return True, "no lesson now or soon, and power is fine"
