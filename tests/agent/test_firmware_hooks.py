"""Firmware updates wait for a free window and enough power; after one, the kit is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.firmware_guard import Window, load_lessons, may_update

HOOKS = Path(__file__).resolve().parents[2] / "firmware-hooks"
BIN = Path(sys.executable).parent
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LESSON = Window(NOW.replace(hour=11), NOW.replace(hour=11, minute=45))


@pytest.mark.parametrize(
    ("now", "battery", "plugged", "allowed", "words"),
    [
        (NOW, None, None, True, "no lesson"),
        (LESSON.start + timedelta(minutes=10), None, None, False, "running until 11:45"),
        (LESSON.start - timedelta(minutes=10), None, None, False, "starts at 11:00"),
        (LESSON.start - timedelta(minutes=20), None, None, True, "no lesson"),
        (LESSON.end, None, None, True, "no lesson"),
        (NOW, 30.0, False, False, "battery at 30%"),
        (NOW, 30.0, True, True, "no lesson"),
        (NOW, 80.0, False, True, "no lesson"),
    ],
)
def test_may_update(
    now: datetime, battery: float | None, plugged: bool | None, allowed: bool, words: str
) -> None:
    ok, why = may_update(now=now, lessons=[LESSON], battery_percent=battery, plugged=plugged)
    assert ok is allowed
    assert words in why


def run_hook(name: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "KITKEEPER_STATE_DIR": str(state)}
    return subprocess.run(
        [str(HOOKS / name)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.processes
def test_pre_update_hook_refuses_during_a_lesson(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    lesson = {
        "start": (now - timedelta(minutes=5)).isoformat(),
        "end": (now + timedelta(minutes=40)).isoformat(),
    }
    (tmp_path / "schedule.json").write_text(json.dumps({"lessons": [lesson]}))
    refused = run_hook("pre-update", tmp_path)
    assert refused.returncode == 1
    assert "a lesson is running" in refused.stdout
    (tmp_path / "schedule.json").write_text(json.dumps({"lessons": []}))
    allowed = run_hook("pre-update", tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


@pytest.mark.processes
def test_post_update_hook_names_what_is_missing(tmp_path: Path) -> None:
    result = run_hook("post-update", tmp_path)  # this machine has no camera or microphone
    assert result.returncode == 1
    assert "camera" in result.stdout


@pytest.mark.processes
def test_a_broken_schedule_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "schedule.json").write_text("{not json")
    result = run_hook("pre-update", tmp_path)
    assert result.returncode == 2
    assert "cannot read the lesson schedule" in result.stderr


def test_the_guard_is_the_schedules_own(tmp_path: Path) -> None:
    start = NOW + timedelta(minutes=40)
    lesson = {"start": start.isoformat(), "end": (start + timedelta(minutes=45)).isoformat()}
    (tmp_path / "schedule.json").write_text(json.dumps({"guard_minutes": 60, "lessons": [lesson]}))
    known = load_lessons(tmp_path)
    assert (known.windows, known.guard) == (
        [Window(start, start + timedelta(minutes=45))],
        timedelta(hours=1),
    )
    ok, why = may_update(
        now=NOW, lessons=known.windows, guard=known.guard, battery_percent=None, plugged=None
    )
    assert (ok, why) == (False, f"a lesson starts at {start:%H:%M} UTC")
    assert may_update(now=NOW, lessons=known.windows, battery_percent=None, plugged=None)[0]
    (tmp_path / "schedule.json").write_text(json.dumps([lesson]))  # an older agent's file
    assert load_lessons(tmp_path).guard == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            {"lessons": [{"start": "2031-03-14T09:00:00", "end": "2031-03-14T09:45:00"}]},
            "no time zone",
        ),
        ({"guard_minutes": -5, "lessons": []}, "guard_minutes -5"),
        ({"guard_minutes": True, "lessons": []}, "guard_minutes True"),
        ({"lessons": [{"start": "tomorrow"}]}, "cannot read the lesson schedule"),
    ],
)
def test_a_schedule_the_guard_cannot_trust_is_a_clear_error(
    tmp_path: Path, content: object, words: str
) -> None:
    (tmp_path / "schedule.json").write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=words):
        load_lessons(tmp_path)
