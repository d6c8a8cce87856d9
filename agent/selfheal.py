"""The kit looks after itself: its lesson schedule, local self-heal rules, pre-lesson checks.

- The controller's retained `kits/{id}/schedule` is kept in `<state_dir>/schedule.json` (the
  firmware hooks read it too), so the kit knows its lessons while offline.
- After every snapshot the rules of the accepted bundle are evaluated here too; a rule whose
  first step is `self_heal` runs its playbook at once (offline too) and reports a `self_heal`
  event. A disruptive one waits until no lesson runs or is about to start.
- `prelesson_minutes` before each online lesson the kit runs its readiness check (the doctor's),
  runs the playbooks that fix what failed, checks again and reports a `prelesson_check` event;
  the controller turns a failure into an urgent incident.

All the work runs in one worker thread, so snapshots never wait for a playbook.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent import doctor
from agent.bundles import BundleStore
from agent.content.readiness import OnKit, on_kit
from agent.playbooks import Runner
from common.files import PUBLIC_MODE, write_atomic
from policy.lessons import Lesson, may_disrupt, windows
from policy.rules import (
    Fired,
    RulesError,
    RuleSet,
    RuleState,
    StepAction,
    evaluate,
    facts_from_telemetry,
    load_rules,
)
from protocol.base import Unavailable
from protocol.commands import EventKind, PrelessonCheck, RemediationResult
from protocol.models import Event, LessonMode, Schedule, Severity, Telemetry

_LOGGER = logging.getLogger(__name__)

SCHEDULE_FILE = "schedule.json"
CHECKED_FILE = "prelesson.json"
DEFAULT_GUARD = timedelta(minutes=15)
DEFAULT_PRELESSON = timedelta(minutes=30)
RECHECK = timedelta(minutes=5)
"""After a failed pre-lesson check, the kit checks again this often until the lesson ends."""

FIXES: dict[str, str] = {
    "camera": "camera-reload",
    "microphone": "audio-reset",
    "speakers": "audio-reset",
    "network": "network-reset",
    "disk": "disk-cleanup",
    "profile": "accessibility-restore",
}
"""Which playbook may fix a failed readiness check."""


@dataclass
class _Pending:
    rule_id: str
    playbook: str


class SelfHeal:
    """The kit's own part of the ladder; see the module docstring."""

    def __init__(
        self,
        *,
        state_dir: Path,
        bundles: BundleStore,
        runner: Runner,
        publish_event: Callable[[Event], None],
        snapshot: Callable[[], Telemetry],
        fresh_snapshot: Callable[[str | None], Telemetry] | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._bundles = bundles
        self._runner = runner
        self._publish = publish_event
        self._snapshot = snapshot
        self._fresh_snapshot = fresh_snapshot or (lambda server: snapshot())
        self._failed: dict[str, datetime] = {}
        self._states: dict[str, RuleState] = {}
        self._pending: dict[str, _Pending] = {}
        self._rules: RuleSet | None = None
        self._rules_version: int | None = None
        self._schedule: Schedule | None = self._load_schedule()
        self._checked: set[str] = self._load_checked()
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="self-heal", daemon=True)
        self._lock = threading.Lock()

    # --- the schedule ------------------------------------------------------------------------

    def _load_schedule(self) -> Schedule | None:
        path = self._state_dir / SCHEDULE_FILE
        try:
            return Schedule.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            _LOGGER.warning("ignoring an unreadable lesson schedule in %s", path)
            return None

    def on_schedule(self, schedule: Schedule) -> None:
        """Keep the controller's latest schedule (on disk: the kit decides offline too)."""
        with self._lock:
            self._schedule = schedule
        write_atomic(
            self._state_dir / SCHEDULE_FILE,
            schedule.model_dump_json(indent=1).encode(),
            PUBLIC_MODE,
        )
        _LOGGER.info(
            "lesson schedule: %d lessons until %s", len(schedule.lessons), schedule.horizon_end
        )

    def lessons(self) -> list[Lesson]:
        """The lessons the kit knows of."""
        with self._lock:
            return windows(self._schedule) if self._schedule else []

    @property
    def guard(self) -> timedelta:
        """Nothing disruptive this close before a lesson."""
        with self._lock:
            return (
                timedelta(minutes=self._schedule.guard_minutes) if self._schedule else DEFAULT_GUARD
            )

    @property
    def prelesson(self) -> timedelta:
        """How long before an online lesson the readiness check runs."""
        with self._lock:
            return (
                timedelta(minutes=self._schedule.prelesson_minutes)
                if self._schedule
                else DEFAULT_PRELESSON
            )

    def may_disrupt(self, playbook: str, now: datetime) -> tuple[bool, str]:
        """Whether a playbook may start now: always if not disruptive, else outside lessons."""
        manifest = self._bundles.manifest()
        entry = manifest.playbooks.get(playbook) if manifest else None
        if entry is None or not entry.disruptive:
            return True, ""
        timeout = timedelta(seconds=entry.timeout)
        lessons = self.lessons()
        if may_disrupt(now, timeout, lessons, self.guard):
            return True, ""
        for lesson in lessons:
            if lesson.start - self.guard <= now < lesson.end:
                if now >= lesson.start:
                    return (
                        False,
                        f"{playbook} is disruptive and a lesson runs until {lesson.end:%H:%M} UTC",
                    )
                return (
                    False,
                    f"{playbook} is disruptive and a lesson starts at {lesson.start:%H:%M} UTC",
                )
        return False, f"{playbook} is disruptive and would run into a lesson"

    # --- the worker --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread."""
        self._worker.start()

    def stop(self) -> None:
        """Let the current job finish and stop."""
        self._jobs.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=5)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # one failed job must not stop self-healing
                _LOGGER.exception("self-heal job failed")

    # --- local rules -------------------------------------------------------------------------

    def _current_rules(self) -> RuleSet | None:
        version = self._bundles.accepted_version()
        if version != self._rules_version:
            self._rules_version = version
            self._rules = None
            path = self._bundles.current_dir / "rules.yaml"
            try:
                self._rules = load_rules(path.read_bytes())
            except FileNotFoundError:
                pass
            except (OSError, RulesError) as exc:
                _LOGGER.warning("cannot use the bundle's rules: %s", exc)
        return self._rules

    def after_snapshot(self, body: Telemetry, now: datetime) -> None:
        """Evaluate the local rules on a snapshot and queue what must heal (never blocks)."""
        self._jobs.put(lambda: self._evaluate(body, now))
        if self.prelesson_due(now) is not None:
            self._jobs.put(lambda: self._prelesson(datetime.now(UTC)))

    def _evaluate(self, body: Telemetry, now: datetime) -> None:
        rules = self._current_rules()
        if rules is None:
            return
        facts = facts_from_telemetry(body)
        self._states, actions = evaluate(rules.rules, self._states, facts, now)
        for action in actions:
            first = action.rule.ladder[0]
            if (
                isinstance(action, Fired)
                and first.action is StepAction.SELF_HEAL
                and first.playbook
            ):
                self._pending[action.rule.id] = _Pending(action.rule.id, first.playbook)
        for rule_id, state in self._states.items():
            if not state.active:
                self._pending.pop(rule_id, None)
        for pending in list(self._pending.values()):
            allowed, why = self.may_disrupt(pending.playbook, now)
            if not allowed:
                _LOGGER.info("self-heal %s waits: %s", pending.rule_id, why)
                continue
            del self._pending[pending.rule_id]
            self._heal(pending)

    def _heal(self, pending: _Pending) -> None:
        _LOGGER.info("self-heal: %s → %s", pending.rule_id, pending.playbook)
        result = self._runner.run(pending.playbook, wait=True)
        if result.status == "busy":  # another run (a technician's) first; try again next time
            self._pending[pending.rule_id] = pending
            return
        self._report_heal(pending.rule_id, result)

    def _report_heal(self, rule_id: str, result: RemediationResult) -> None:
        self._publish(
            Event(
                kind=EventKind.SELF_HEAL.value,
                severity=Severity.INFO if result.ok else Severity.WARNING,
                message=f"{rule_id}: {result.playbook} {result.status}",
                data={
                    "rule_id": rule_id,
                    "playbook": result.playbook,
                    "ok": result.ok,
                    "result": result.model_dump(mode="json"),
                },
            )
        )

    # --- before each online lesson -----------------------------------------------------------

    def _load_checked(self) -> set[str]:
        try:
            return set(json.loads((self._state_dir / CHECKED_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def prelesson_due(self, now: datetime) -> Lesson | None:
        """The online lesson whose readiness check is due now: not done yet, or failed and not
        checked again for RECHECK (until the lesson ends: a pass closes the controller's incident).
        """
        lead = self.prelesson
        for lesson in self.lessons():
            if lesson.mode is not LessonMode.ONLINE:
                continue
            key = lesson.start.isoformat()
            if key not in self._checked:
                if lesson.start - lead <= now < lesson.start:
                    return lesson
            elif key in self._failed and now - self._failed[key] >= RECHECK and now < lesson.end:
                return lesson
        return None

    def _prelesson(self, now: datetime) -> None:
        lesson = self.prelesson_due(now)
        if lesson is None:
            return
        key = lesson.start.isoformat()
        self._checked = {k for k in self._checked if k >= (now - timedelta(days=2)).isoformat()}
        self._checked.add(key)
        write_atomic(
            self._state_dir / CHECKED_FILE, json.dumps(sorted(self._checked)).encode(), PUBLIC_MODE
        )
        check = self.check_readiness(lesson, now)
        if check.ok:
            self._failed.pop(key, None)
        else:
            self._failed[key] = datetime.now(UTC)
        self._publish(
            Event(
                kind=EventKind.PRELESSON_CHECK.value,
                severity=Severity.INFO if check.ok else Severity.CRITICAL,
                message=(
                    f"ready for the lesson at {lesson.start:%H:%M} UTC"
                    if check.ok
                    else f"NOT ready for the lesson at {lesson.start:%H:%M} UTC: "
                    + ", ".join(check.failures)
                ),
                data=check.model_dump(mode="json"),
            )
        )

    def check_readiness(self, lesson: Lesson, now: datetime) -> PrelessonCheck:
        """Check, fix what a playbook can fix (never disturbing the lesson), check again."""
        content = on_kit(self._state_dir, lesson.start)  # the lesson's materials, verified
        failures = _failures(self._fresh_snapshot(lesson.server), content)
        remediated: list[str] = []
        for playbook in dict.fromkeys(FIXES[f] for f in failures if f in FIXES):
            allowed, why = self.may_disrupt(playbook, datetime.now(UTC))  # time has passed
            if not allowed:
                _LOGGER.info("pre-lesson fix %s skipped: %s", playbook, why)
                continue
            result = self._runner.run(playbook, wait=True)
            if result.ok:
                remediated.append(playbook)
        if remediated:
            failures = _failures(self._fresh_snapshot(lesson.server), content)
        return PrelessonCheck(
            lesson_start=lesson.start,
            ok=not failures,
            failures=failures,
            remediated=remediated,
            details={"mode": lesson.mode.value, "subject": lesson.subject},
        )


def _failures(body: Telemetry, content: OnKit | None = None) -> list[str]:
    unavailable = Unavailable(unavailable="not collected")
    checks = doctor.evaluate(
        peripherals=body.peripherals or unavailable,
        connectivity=body.connectivity,
        disks=body.disks,
        battery=body.battery,
        profile=body.profile,
        content=content,
    )
    return [c.what for c in doctor.failing(checks)]
