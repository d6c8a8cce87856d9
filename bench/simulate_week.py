"""A simulated week of one pupil's lessons with injected faults: lesson minutes lost with
kitkeeper's escalation ladder against no automation at all.

The same faults and the same people (technicians, courier, the parent's phone call) in every arm;
only the automation differs. kitkeeper is driven with the real pure modules: the rules of
`playbooks/rules.yaml`, the playbooks' metadata (`kitkeeper:` play vars of `playbooks/*.yml`),
`policy.ladder` (open_incident / tick at next_wakeup / on_result / resolve) and
`policy.lessons` (the guard time, `minutes_lost`). Everything else (how long a person takes, when
the courier comes, what each fault is and what fixes it) is an assumption, listed as constants
below and printed at the top of the output.

    .venv/bin/python bench/simulate_week.py                        # the fixed default week
    .venv/bin/python bench/simulate_week.py --seed 7               # one random week, in detail
    .venv/bin/python bench/simulate_week.py --runs 200 --seed 1    # + mean over 200 random weeks

A simulation: deterministic, it measures nothing on this machine and asserts nothing but its own
invariants (no disruptive run inside a lesson or its guard time).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.selfheal import FIXES  # noqa: E402
from controller.remediation.evaluation import PRELESSON_RULE as CONTROLLER_PRELESSON_RULE  # noqa: E402
from policy import ladder  # noqa: E402
from policy.ladder import IncidentState, Plan, PlaybookInfo, Priority  # noqa: E402
from policy.lessons import (  # noqa: E402
    DEFAULT_GUARD,
    Lesson,
    may_disrupt,
    minutes_lost,
    next_free_start,
    ordered,
)
from policy.rules import Rule, StepAction, load_rules  # noqa: E402
from protocol.models import LessonMode  # noqa: E402

# --- assumptions -------------------------------------------------------------------------------

LOCAL = ZoneInfo("Asia/Almaty")
"""The pupil, the school and its technicians: UTC+5."""
WEEK_OF = date(2026, 11, 30)
"""The simulated week (a Monday). The timetable runs two weeks so that a fault of Friday evening
costs what it costs on the next Monday; faults are injected in the first week only."""
TIMETABLE_WEEKS = 2

ONLINE_SLOTS = (
    (time(9, 0), time(9, 40)),
    (time(9, 50), time(10, 30)),
    (time(11, 0), time(11, 40)),
    (time(15, 0), time(15, 40)),
)
"""Mon-Fri online lessons, local time."""
SUBJECTS = ("maths", "Kazakh", "Russian", "science")
HOME_VISIT = (2, time(14, 30), time(16, 0))
"""(weekday, start, end): a teacher comes home on Wednesday afternoon; it replaces the 15:00
online lesson of that day."""
SELF_STUDY = ((1, time(16, 0), time(16, 45)), (3, time(16, 0), time(16, 45)))
"""(weekday, start, end): self-study blocks with offline content, Tuesday and Thursday."""

TELEMETRY_INTERVAL = timedelta(seconds=30)
"""Detection = the rule's `for` + one snapshot interval; the kit retries a waiting self-heal at
every snapshot."""
PRELESSON = timedelta(minutes=30)
"""The kit's readiness check before each online lesson (agent/selfheal.py DEFAULT_PRELESSON)."""
READINESS_FIXES = FIXES
"""What the readiness check runs for what failed: the agent's own table."""
PRELESSON_RULE = CONTROLLER_PRELESSON_RULE
"""The incident a failed readiness check opens: the controller's own rule."""

WORKDAY = (time(9, 0), time(18, 0))
"""Technicians and the replacement desk work Mon-Fri 09:00-18:00 local."""
RESPONSE: Mapping[Priority, timedelta] = {
    Priority.URGENT: timedelta(minutes=30),
    Priority.HIGH: timedelta(hours=2),
}
"""A technician acts this much working time after a ticket (or a call) of this priority;
normal and low: at the start of the next working morning."""
TECHNICIAN_FIX = timedelta(minutes=20)
"""What a person fixes (a remote session running the same fix by hand, or a phone call walking
the parent through it) takes 20 min, in both arms."""
COURIER_AT = time(14, 0)
"""A replacement arrives at 14:00 local on the first working day after the day it is ordered."""
REPORT_DELAY = timedelta(minutes=5)
"""Without automation: from the moment a fault stops a lesson to the parent's (or the visiting
teacher's) call reaching the school."""
FAULTS_PER_WEEK = 8
"""Random weeks: this many faults, at uniformly random minutes of Mon 00:00 - Sat 00:00 local,
each of a rule that costs lessons (uniformly), then a fault of that rule (uniformly): there are
no field data on how often each happens."""
HORIZON = timedelta(days=21)
"""A fault nothing ends within this is reported as never fixed (none is, by construction)."""

ONLINE = frozenset({LessonMode.ONLINE})
SOUND = frozenset({LessonMode.ONLINE, LessonMode.SELF_STUDY})
EVERY_MODE = frozenset(LessonMode)
PLAYBOOKS = ROOT / "playbooks"

FALLBACK_CATALOGUE: Mapping[str, PlaybookInfo] = {
    "disk-cleanup": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=300)),
    "audio-reset": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
    "camera-reload": PlaybookInfo(disruptive=True, timeout=timedelta(seconds=180)),
    "network-reset": PlaybookInfo(disruptive=True, timeout=timedelta(seconds=180)),
    "time-sync": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
    "agent-restart": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=60)),
    "accessibility-restore": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
}
"""Used only for a playbook whose file has no `kitkeeper:` metadata."""


@dataclass(frozen=True, slots=True)
class FaultKind:
    """What goes wrong, which rule sees it, and what ends it."""

    key: str
    what: str
    rule_id: str
    fixed_by: frozenset[str]
    """Playbooks whose run ends the fault."""
    person_fixes: bool
    """A technician ends it (remote session, or a phone call to the parent)."""
    replacement_fixes: bool
    """A replacement component or kit ends it."""
    run_time: timedelta
    """How long a playbook run on this fault takes (fixing it or not)."""
    needs: frozenset[LessonMode]
    """Which lessons it stops (when its rule costs lessons)."""
    readiness: str | None = None
    """Which readiness check fails while it stands (None: the check does not see it)."""


def _kind(
    key: str,
    what: str,
    rule_id: str,
    fixed_by: Iterable[str],
    person: bool,
    replacement: bool,
    run_seconds: int,
    needs: frozenset[LessonMode],
    readiness: str | None = None,
) -> FaultKind:
    return FaultKind(
        key,
        what,
        rule_id,
        frozenset(fixed_by),
        person,
        replacement,
        timedelta(seconds=run_seconds),
        needs,
        readiness,
    )


KINDS: Mapping[str, FaultKind] = {
    k.key: k
    for k in (
        # key, what, rule, playbooks that end it, a person ends it, a replacement ends it,
        # seconds a playbook run takes, lessons it stops, the readiness check that fails
        _kind("camera-hung", "camera driver hung", "camera-missing",
              ["camera-reload"], True, True, 40, ONLINE, "camera"),
        _kind("camera-unplugged", "pupil unplugged the camera", "camera-missing",
              [], True, True, 40, ONLINE, "camera"),
        _kind("camera-broken", "camera broken", "camera-missing",
              [], False, True, 40, ONLINE, "camera"),
        _kind("mic-unplugged", "pupil unplugged the microphone", "microphone-missing",
              [], True, True, 30, ONLINE, "microphone"),
        _kind("mic-broken", "microphone broken", "microphone-missing",
              [], False, True, 30, ONLINE, "microphone"),
        _kind("audio-crashed", "sound service crashed", "audio-service-down",
              ["audio-reset"], True, True, 30, SOUND),
        _kind("dns-stuck", "DNS resolver stuck", "dns-broken",
              ["network-reset"], True, True, 60, ONLINE, "network"),
        _kind("wifi-powersave", "Wi-Fi power saving: link too poor", "webinar-not-ready",
              ["network-reset"], True, True, 60, ONLINE, "network"),
        _kind("router-hung", "home router hung (parent restarts it)", "webinar-not-ready",
              [], True, False, 60, ONLINE, "network"),
        _kind("a11y-drifted", "screen reader switched off", "accessibility-drifted",
              ["accessibility-restore"], True, True, 45, EVERY_MODE, "profile"),
        _kind("disk-full", "disk full of logs", "disk-full",
              ["disk-cleanup"], True, True, 180, EVERY_MODE),
        _kind("clock-stopped", "time service stopped", "clock-unsynchronised",
              ["time-sync"], True, True, 30, EVERY_MODE),
        _kind("agent-leak", "agent memory leak", "agent-bloated",
              ["agent-restart"], True, True, 20, EVERY_MODE),
        _kind("disk-failing", "disk failing (SMART)", "disk-failing",
              [], False, True, 0, EVERY_MODE),
    )
}  # fmt: skip

DEFAULT_SCENARIO: Sequence[tuple[int, time, str]] = (
    (0, time(8, 40), "camera-hung"),  # Mon, 20 min before the first lesson
    (0, time(10, 5), "mic-unplugged"),  # Mon, in the second lesson
    (1, time(3, 10), "disk-full"),  # Tue night: costs no lessons
    (1, time(14, 45), "audio-crashed"),  # Tue, 15 min before a lesson
    (2, time(14, 18), "a11y-drifted"),  # Wed, 12 min before the home visit
    (2, time(17, 30), "camera-broken"),  # Wed evening
    (3, time(9, 15), "dns-stuck"),  # Thu, in the first lesson
    (3, time(20, 0), "router-hung"),  # Thu evening, lasts the night
    (4, time(1, 0), "disk-failing"),  # Fri night: costs no lessons
)
"""(weekday, local time, fault kind) of the fixed default week."""


# --- the world ---------------------------------------------------------------------------------


def _utc(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LOCAL).astimezone(UTC)


def local(moment: datetime) -> datetime:
    """A UTC moment in the pupil's time zone."""
    return moment.astimezone(LOCAL)


def when(moment: datetime) -> str:
    """'Wed 14:18', local."""
    return local(moment).strftime("%a %H:%M")


def build_lessons(monday: date = WEEK_OF, weeks: int = TIMETABLE_WEEKS) -> list[Lesson]:
    """The pupil's individual timetable, in UTC."""
    lessons: list[Lesson] = []
    for offset in range(7 * weeks):
        day = monday + timedelta(days=offset)
        weekday = day.weekday()
        if weekday >= 5:
            continue
        for index, (start, end) in enumerate(ONLINE_SLOTS):
            if weekday == HOME_VISIT[0] and start == time(15, 0):
                continue
            subject = SUBJECTS[(index + weekday) % len(SUBJECTS)]
            lessons.append(Lesson(_utc(day, start), _utc(day, end), LessonMode.ONLINE, subject))
        if weekday == HOME_VISIT[0]:
            lessons.append(
                Lesson(
                    _utc(day, HOME_VISIT[1]), _utc(day, HOME_VISIT[2]), LessonMode.HOME_VISIT, "art"
                )
            )
        for study_day, start, end in SELF_STUDY:
            if weekday == study_day:
                lessons.append(
                    Lesson(_utc(day, start), _utc(day, end), LessonMode.SELF_STUDY, "reading")
                )
    return ordered(lessons)


def load_catalogue(directory: Path = PLAYBOOKS) -> tuple[dict[str, PlaybookInfo], list[str]]:
    """The playbooks' `disruptive`/`timeout` from their `kitkeeper:` play vars, and which came
    from the fallback table instead."""
    catalogue: dict[str, PlaybookInfo] = {}
    for path in sorted(directory.glob("*.yml")):
        try:
            plays = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        for play in plays if isinstance(plays, list) else []:
            variables = play.get("vars") if isinstance(play, dict) else None
            meta = variables.get("kitkeeper") if isinstance(variables, dict) else None
            if isinstance(meta, dict) and meta.get("id"):
                catalogue[str(meta["id"])] = PlaybookInfo(
                    disruptive=bool(meta.get("disruptive", True)),
                    timeout=timedelta(seconds=float(meta.get("timeout", 3600))),
                )
    fallback = sorted(set(FALLBACK_CATALOGUE) - set(catalogue))
    for name in fallback:
        catalogue[name] = FALLBACK_CATALOGUE[name]
    return catalogue, fallback


@dataclass(frozen=True)
class World:
    """What every fault is judged against: the rules, the playbooks, the pupil's lessons."""

    rules: Mapping[str, Rule]
    catalogue: Mapping[str, PlaybookInfo]
    lessons: Sequence[Lesson]
    fallback: Sequence[str] = ()
    guard: timedelta = DEFAULT_GUARD

    def affected(self, kind: FaultKind) -> list[Lesson]:
        """The lessons a fault of this kind stops (none if its rule costs no lessons)."""
        if not self.rules[kind.rule_id].costs_lessons:
            return []
        return [lesson for lesson in self.lessons if lesson.mode in kind.needs]


def load_world(root: Path = ROOT) -> World:
    """The real rules and playbooks, and the pupil's timetable."""
    rules = load_rules((root / "playbooks" / "rules.yaml").read_bytes()).by_id()
    missing = sorted({k.rule_id for k in KINDS.values()} - set(rules))
    if missing:
        raise SystemExit(f"playbooks/rules.yaml has no rule {', '.join(missing)}")
    catalogue, fallback = load_catalogue(root / "playbooks")
    return World(rules, catalogue, build_lessons(), fallback)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: what and from when (UTC)."""

    kind: FaultKind
    start: datetime


def default_faults(monday: date = WEEK_OF) -> list[Fault]:
    """The fixed default week."""
    return [
        Fault(KINDS[key], _utc(monday + timedelta(days=day), clock))
        for day, clock, key in DEFAULT_SCENARIO
    ]


def random_faults(
    rng: random.Random, world: World, count: int = FAULTS_PER_WEEK, monday: date = WEEK_OF
) -> list[Fault]:
    """A random week: faults of rules that cost lessons, at random minutes of Mon-Fri."""
    by_rule: dict[str, list[FaultKind]] = {}
    for kind in KINDS.values():
        if world.rules[kind.rule_id].costs_lessons:
            by_rule.setdefault(kind.rule_id, []).append(kind)
    rule_ids = sorted(by_rule)
    start = _utc(monday, time(0))
    minutes = int((_utc(monday + timedelta(days=5), time(0)) - start).total_seconds() // 60)
    faults = [
        Fault(
            rng.choice(by_rule[rng.choice(rule_ids)]),
            start + timedelta(minutes=rng.randrange(minutes)),
        )
        for _ in range(count)
    ]
    return sorted(faults, key=lambda f: f.start)


# --- people: working hours ---------------------------------------------------------------------


def _working_day(day: date) -> bool:
    return day.weekday() < 5


def add_working_time(start: datetime, span: timedelta) -> datetime:
    """`span` of working time (Mon-Fri 09:00-18:00 local) after `start`."""
    moment, left = start, span
    while True:
        day = local(moment).date()
        opens, closes = _utc(day, WORKDAY[0]), _utc(day, WORKDAY[1])
        if not _working_day(day) or moment >= closes:
            moment = _utc(day + timedelta(days=1), WORKDAY[0])
            continue
        moment = max(moment, opens)
        if moment + left <= closes:
            return moment + left
        left -= closes - moment
        moment = _utc(day + timedelta(days=1), WORKDAY[0])


def next_working_morning(moment: datetime) -> datetime:
    """The next start of a working day after `moment`."""
    day = local(moment).date()
    while not (_working_day(day) and _utc(day, WORKDAY[0]) > moment):
        day += timedelta(days=1)
    return _utc(day, WORKDAY[0])


def technician_acts(moment: datetime, priority: Priority) -> datetime:
    """When a technician acts on a ticket or call of `priority` made at `moment`."""
    span = RESPONSE.get(priority)
    return add_working_time(moment, span) if span is not None else next_working_morning(moment)


def courier_arrives(ordered_at: datetime) -> datetime:
    """14:00 local on the first working day after the day of the order."""
    day = local(ordered_at).date() + timedelta(days=1)
    while not _working_day(day):
        day += timedelta(days=1)
    return _utc(day, COURIER_AT)


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A playbook started by automation (never forced: people fix by hand, see TECHNICIAN_FIX)."""

    at: datetime
    playbook: str
    disruptive: bool
    origin: str


@dataclass
class Outcome:
    """How one fault went in one arm."""

    end: datetime | None
    lost: float
    how: str
    runs: list[Run] = field(default_factory=list)
    replacement_ordered: datetime | None = None
    tickets: int = 0
    log: list[str] = field(default_factory=list)


# --- the arm without automation ----------------------------------------------------------------


def simulate_baseline(fault: Fault, world: World) -> Outcome:
    """Nobody knows until the fault stops a lesson; then the parent calls the school."""
    affected = world.affected(fault.kind)
    stopped = next((lesson for lesson in affected if lesson.end > fault.start), None)
    if stopped is None:
        why = "costs no lessons: nobody notices" if not affected else "no lesson left to stop"
        return Outcome(None, 0.0, why)
    noticed = max(stopped.start, fault.start)
    call = noticed + REPORT_DELAY
    if fault.kind.person_fixes:
        rule = world.rules[fault.kind.rule_id]
        urgency = ladder.priority(call, world.lessons, rule.severity)
        acts = technician_acts(call, urgency)
        end = acts + TECHNICIAN_FIX
        how = f"noticed {when(noticed)}, technician {when(acts)} ({urgency})"
        outcome = Outcome(end, 0.0, how, tickets=1)
    else:
        end = courier_arrives(noticed)
        how = f"noticed {when(noticed)}, replacement ordered at once, arrives {when(end)}"
        outcome = Outcome(end, 0.0, how, replacement_ordered=noticed, tickets=1)
    outcome.lost = minutes_lost(fault.start, end, affected)
    return outcome


# --- the arm with kitkeeper --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Wake:
    incident: str


@dataclass(frozen=True, slots=True)
class _RunDone:
    incident: str
    step: int
    playbook: str
    origin: str


@dataclass(frozen=True, slots=True)
class _Technician:
    incident: str
    priority: Priority


@dataclass(frozen=True, slots=True)
class _Fixed:
    how: str


@dataclass(frozen=True, slots=True)
class _SelfHealTry:
    playbook: str


@dataclass(frozen=True, slots=True)
class _Prelesson:
    lesson: Lesson


@dataclass(frozen=True, slots=True)
class _PrelessonDone:
    lesson: Lesson
    playbook: str


_Event = _Wake | _RunDone | _Technician | _Fixed | _SelfHealTry | _Prelesson | _PrelessonDone

RULE, PRELESSON_INCIDENT = "rule", "prelesson"


class _Kitkeeper:
    """One fault, one event queue: the ladder's incidents, the kit, technicians, the courier."""

    def __init__(self, fault: Fault, world: World) -> None:
        self.fault, self.world, self.kind = fault, world, fault.kind
        self.rule = world.rules[fault.kind.rule_id]
        self.detected = fault.start + self.rule.hold + TELEMETRY_INTERVAL
        self.queue: list[tuple[datetime, int, _Event]] = []
        self.order = itertools.count()
        self.incidents: dict[str, tuple[IncidentState, Plan]] = {}
        self.outcome = Outcome(None, 0.0, "never fixed")

    def push(self, at: datetime, event: _Event) -> None:
        heapq.heappush(self.queue, (at, next(self.order), event))

    def note(self, at: datetime, text: str) -> None:
        self.outcome.log.append(f"{when(at)}:{local(at):%S}  {text}")

    # the ladder

    def open(self, key: str, rule: Rule, now: datetime, why: str) -> None:
        if key in self.incidents:
            return
        plan = Plan(rule, self.world.catalogue, self.world.lessons, self.world.guard)
        self.note(now, f"incident {key} ({rule.id}) opened: {why}")
        state, actions = ladder.open_incident(plan, now)
        self.carry_out(key, state, plan, actions, now)

    def carry_out(
        self,
        key: str,
        state: IncidentState,
        plan: Plan,
        actions: Sequence[ladder.Action],
        now: datetime,
    ) -> None:
        self.incidents[key] = (state, plan)
        for action in actions:
            if isinstance(action, ladder.RunPlaybook):
                self.start_run(action.playbook, now, origin=f"remote (step {action.step + 1})")
                self.push(
                    now + self.kind.run_time,
                    _RunDone(key, action.step, action.playbook, f"remote (step {action.step + 1})"),
                )
            elif isinstance(action, ladder.OpenTicket):
                self.outcome.tickets += 1
                step = f"{key} step {action.step + 1}"
                self.note(now, f"{action.kind} ticket ({step}, {action.priority})")
                if action.kind == "repair":
                    acts = technician_acts(now, action.priority)
                    self.push(acts, _Technician(key, action.priority))
                else:
                    self.order_replacement(now, f"by {step}")
            elif isinstance(action, ladder.Defer):
                self.note(now, f"{action.playbook} deferred to {when(action.until)}")
            elif isinstance(action, ladder.Escalate):
                self.note(now, f"{key}: step {action.from_step + 1} → {action.to_step + 1}")
        wake = ladder.next_wakeup(state, plan.rule)
        if wake is not None:
            self.push(max(wake, now), _Wake(key))

    def start_run(self, playbook: str, now: datetime, origin: str) -> None:
        info = self.world.catalogue[playbook]
        if info.disruptive:
            assert may_disrupt(now, info.timeout, self.world.lessons, self.world.guard), (
                f"disruptive {playbook} started at {when(now)} in a lesson or its guard"
            )
        self.outcome.runs.append(Run(now, playbook, info.disruptive, origin))
        self.note(now, f"{origin}: {playbook} runs")

    def order_replacement(self, now: datetime, via: str) -> None:
        if self.outcome.replacement_ordered is not None:
            return
        self.outcome.replacement_ordered = now
        arrives = courier_arrives(now)
        self.note(now, f"replacement ordered {via}, arrives {when(arrives)}")
        if self.kind.replacement_fixes:
            how = f"replacement arrived {when(arrives)}, ordered {when(now)} {via}"
            self.push(arrives, _Fixed(how))

    # the kit

    def allowed(self, playbook: str, now: datetime) -> bool:
        info = self.world.catalogue[playbook]
        return not info.disruptive or may_disrupt(
            now, info.timeout, self.world.lessons, self.world.guard
        )

    def next_snapshot_allowed(self, playbook: str, now: datetime) -> datetime:
        """The first snapshot after `now` at which the kit may start the playbook."""
        info = self.world.catalogue[playbook]
        moment = now
        while True:
            free = next_free_start(moment, info.timeout, self.world.lessons, self.world.guard)
            snapshots = -(-(free - self.detected) // TELEMETRY_INTERVAL)  # ceiling
            moment = self.detected + snapshots * TELEMETRY_INTERVAL
            if moment > now and self.allowed(playbook, moment):
                return moment
            moment = max(moment, now + TELEMETRY_INTERVAL)

    # the loop

    def run(self) -> Outcome:
        self.push(self.detected, _Wake("detect"))
        first = self.rule.ladder[0]
        if first.action is StepAction.SELF_HEAL and first.playbook:
            self.push(self.detected, _SelfHealTry(first.playbook))
        if self.kind.readiness is not None:
            for lesson in self.world.lessons:
                check = lesson.start - PRELESSON
                if lesson.mode is LessonMode.ONLINE and check >= self.fault.start:
                    self.push(check, _Prelesson(lesson))
        for _ in range(100_000):
            if not self.queue:
                break
            now, _, event = heapq.heappop(self.queue)
            if now > self.fault.start + HORIZON:
                break
            if isinstance(event, _Fixed):
                self.fixed(now, event.how)
                break
            self.handle(now, event)
        else:  # pragma: no cover - a bug, not a result
            raise RuntimeError(f"{self.kind.key}: the simulation does not end")
        affected = self.world.affected(self.kind)
        end = self.outcome.end or self.fault.start + HORIZON
        self.outcome.lost = minutes_lost(self.fault.start, end, affected)
        return self.outcome

    def handle(self, now: datetime, event: _Event) -> None:
        if isinstance(event, _Wake):
            if event.incident == "detect":
                self.open(RULE, self.rule, now, "the rule fired")
                return
            state, plan = self.incidents[event.incident]
            state, actions = ladder.tick(state, plan, now)
            self.carry_out(event.incident, state, plan, actions, now)
        elif isinstance(event, _RunDone):
            fixes = event.playbook in self.kind.fixed_by
            self.note(now, f"{event.playbook} {'fixed it' if fixes else 'failed'}")
            # on_result ignores a result for a step the incident has already left
            state, plan = self.incidents[event.incident]
            state, actions = ladder.on_result(state, plan, now, step=event.step, ok=fixes)
            self.carry_out(event.incident, state, plan, actions, now)
            if fixes:
                self.push(now, _Fixed(f"{event.origin} {event.playbook} {when(now)}"))
        elif isinstance(event, _Technician):
            if self.kind.person_fixes:
                done = now + TECHNICIAN_FIX
                self.note(
                    now, f"technician on the {event.incident} ticket: fixes it by {when(done)}"
                )
                self.push(
                    done,
                    _Fixed(f"technician, {event.incident} ticket ({event.priority}) {when(now)}"),
                )
            else:
                self.note(now, "technician: it needs a replacement")
                self.order_replacement(now, "by the technician")
        elif isinstance(event, _SelfHealTry):
            if self.allowed(event.playbook, now):
                self.start_run(event.playbook, now, "self-heal")
                self.push(now + self.kind.run_time, _RunDone(RULE, 0, event.playbook, "self-heal"))
            else:
                later = self.next_snapshot_allowed(event.playbook, now)
                self.note(now, f"self-heal {event.playbook} waits for {when(later)} (lessons)")
                self.push(later, _SelfHealTry(event.playbook))
        elif isinstance(event, _Prelesson):
            assert self.kind.readiness is not None
            playbook = READINESS_FIXES[self.kind.readiness]
            if self.allowed(playbook, now):
                self.start_run(playbook, now, "pre-lesson check")
                self.push(now + self.kind.run_time, _PrelessonDone(event.lesson, playbook))
            else:
                self.prelesson_failed(event.lesson, now)
        elif isinstance(event, _PrelessonDone):
            if event.playbook in self.kind.fixed_by:
                self.note(now, f"pre-lesson check: {event.playbook} fixed it")
                self.push(now, _Fixed(f"pre-lesson check ran {event.playbook} {when(now)}"))
            else:
                self.prelesson_failed(event.lesson, now)

    def prelesson_failed(self, lesson: Lesson, now: datetime) -> None:
        why = f"not ready for the lesson at {when(lesson.start)}: {self.kind.readiness}"
        self.open(PRELESSON_INCIDENT, PRELESSON_RULE, now, why)

    def fixed(self, now: datetime, how: str) -> None:
        self.outcome.end, self.outcome.how = now, how
        for key, (state, plan) in list(self.incidents.items()):
            self.incidents[key] = (ladder.resolve(state, now), plan)
        self.note(now, f"fixed: {how}")


def simulate_kitkeeper(fault: Fault, world: World) -> Outcome:
    """The fault with kitkeeper: detection, the ladder, the kit's self-heal and readiness check."""
    return _Kitkeeper(fault, world).run()


# --- a week ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultResult:
    """One fault in both arms, and kitkeeper with the parent's call still possible."""

    fault: Fault
    baseline: Outcome
    kitkeeper: Outcome
    with_call_end: datetime | None
    with_call_lost: float


@dataclass(frozen=True)
class WeekResult:
    """A week's faults and its totals (a lesson minute lost to two faults counts once)."""

    faults: list[FaultResult]
    baseline: float
    kitkeeper: float
    with_call: float


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a is not None and b is not None else (a or b)


def _union_minutes(
    spans: Sequence[tuple[datetime, datetime | None, FaultKind]], world: World
) -> float:
    total = 0.0
    for lesson in world.lessons:
        hits = sorted(
            (start, end or start + HORIZON)
            for start, end, kind in spans
            if lesson in world.affected(kind)
        )
        merged: list[list[datetime]] = []
        for start, end in hits:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        total += sum(minutes_lost(start, end, [lesson]) for start, end in merged)
    return total


def simulate_week(faults: Sequence[Fault], world: World) -> WeekResult:
    """Every fault in both arms."""
    results: list[FaultResult] = []
    for fault in faults:
        base = simulate_baseline(fault, world)
        kk = simulate_kitkeeper(fault, world)
        # The parent can still call with kitkeeper installed: the same people, whichever is first.
        end = _earliest(kk.end, base.end) if base.end is not None else kk.end
        lost = minutes_lost(fault.start, end, world.affected(fault.kind)) if end else kk.lost
        results.append(FaultResult(fault, base, kk, end, lost))
    return WeekResult(
        results,
        _union_minutes([(r.fault.start, r.baseline.end, r.fault.kind) for r in results], world),
        _union_minutes([(r.fault.start, r.kitkeeper.end, r.fault.kind) for r in results], world),
        _union_minutes([(r.fault.start, r.with_call_end, r.fault.kind) for r in results], world),
    )


@dataclass(frozen=True)
class Summary:
    """Many random weeks."""

    weeks: int
    baseline: list[float]
    kitkeeper: list[float]
    with_call: list[float]
    faults: int
    kitkeeper_worse: int
    worse_by: list[float]
    replacements_kitkeeper: int
    replacements_unneeded: int
    replacements_baseline: int
    by_kind: dict[str, list[tuple[float, float]]]
    """Per fault kind: (lost without automation, lost with kitkeeper) of every such fault."""


def simulate_many(runs: int, seed: int, world: World) -> Summary:
    """`runs` random weeks drawn from `seed`."""
    rng = random.Random(seed)
    weeks = [simulate_week(random_faults(rng, world), world) for _ in range(runs)]
    everything = [r for week in weeks for r in week.faults]
    worse = [r for r in everything if r.kitkeeper.lost > r.baseline.lost + 1e-9]
    kk_ordered = [r for r in everything if r.kitkeeper.replacement_ordered is not None]
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for r in everything:
        by_kind.setdefault(r.fault.kind.key, []).append((r.baseline.lost, r.kitkeeper.lost))
    return Summary(
        weeks=runs,
        baseline=[w.baseline for w in weeks],
        kitkeeper=[w.kitkeeper for w in weeks],
        with_call=[w.with_call for w in weeks],
        faults=len(everything),
        kitkeeper_worse=len(worse),
        worse_by=[r.kitkeeper.lost - r.baseline.lost for r in worse],
        replacements_kitkeeper=len(kk_ordered),
        replacements_unneeded=sum(1 for r in kk_ordered if r.fault.kind.person_fixes),
        replacements_baseline=sum(1 for r in everything if r.baseline.replacement_ordered),
        by_kind=dict(sorted(by_kind.items())),
    )


# --- report ------------------------------------------------------------------------------------


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def assumptions(world: World) -> list[str]:
    """The assumptions, as printed."""
    minutes = {
        mode: sum(
            (lesson.end - lesson.start).total_seconds() / 60
            for lesson in world.lessons
            if lesson.mode is mode and lesson.start < _utc(WEEK_OF + timedelta(days=7), time(0))
        )
        for mode in LessonMode
    }
    slots = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ONLINE_SLOTS)
    book = ", ".join(
        f"{name} {'DISRUPTIVE' if info.disruptive else 'no'}/{int(info.timeout.total_seconds())}s"
        for name, info in sorted(world.catalogue.items())
    )
    source = "playbooks/*.yml `kitkeeper:` vars" + (
        f" (fallback table for {', '.join(world.fallback)})" if world.fallback else ""
    )
    response = ", ".join(f"{p} {_span(s)}" for p, s in RESPONSE.items())
    return [
        f"Week of Mon {WEEK_OF:%Y-%m-%d}, Asia/Almaty (UTC+5); times below are local.",
        f"Timetable: Mon-Fri online {slots}; Wed 15:00 replaced by a home visit "
        f"{HOME_VISIT[1]:%H:%M}-{HOME_VISIT[2]:%H:%M}; self-study Tue+Thu 16:00-16:45. Per week: "
        f"{minutes[LessonMode.ONLINE]:.0f} min online, {minutes[LessonMode.HOME_VISIT]:.0f} home "
        f"visit, {minutes[LessonMode.SELF_STUDY]:.0f} self-study. The next week is in the "
        "timetable too (a Friday fault costs Monday's lessons).",
        "Faults stop only the lessons that need what broke (camera/microphone/network: online; "
        "sound: online + self-study; accessibility: all). Faults of rules with costs_lessons "
        "false cost nothing in both arms.",
        f"Playbooks (disruptive/timeout) from {source}: {book}.",
        f"kitkeeper: detection = the rule's `for` + {_span(TELEMETRY_INTERVAL)}; real rules, "
        f"ladder and guard ({_span(world.guard)}); the kit's self-heal retries a disruptive "
        f"playbook at each snapshot until no lesson or guard is in the way; the readiness check "
        f"runs {_span(PRELESSON)} before each online lesson (fix, then a technician incident if "
        "still failing); playbook run times per fault 20-180 s; ok = the run fixed the fault.",
        f"People (both arms): technicians Mon-Fri {WORKDAY[0]:%H:%M}-{WORKDAY[1]:%H:%M}; they act "
        f"after {response} of working time, normal/low: next working morning; a fix by a person "
        f"(remote session or phone call to the parent) takes {_span(TECHNICIAN_FIX)}; a technician "
        "who finds broken hardware orders the replacement; the courier brings it at "
        f"{COURIER_AT:%H:%M} on the first working day after the order. Tickets are worked in "
        "parallel (no queue).",
        "No automation: a fault is noticed when it stops a lesson; the parent's call reaches the "
        f"school {_span(REPORT_DELAY)} later (priority as the ladder would give it: urgent); "
        "broken hardware is ordered the moment it is noticed (generous: no diagnosis time).",
        "Columns: none = no automation; kitkeeper = the ladder and the kit alone; +call = "
        "kitkeeper while the parent can still phone (whichever fixes first).",
    ]


def _wrap(text: str, width: int = 100) -> list[str]:
    """A bullet: '  - ' then lines indented under it."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width - 4:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [("  - " if i == 0 else "    ") + text for i, text in enumerate(lines)]


def report_week(week: WeekResult, *, verbose: bool = False) -> list[str]:
    """The per-fault table and the totals."""
    head = (
        f"{'#':>2}  {'fault':<38} {'starts':<9} {'rule':<21} "
        f"{'none':>6} {'kitkpr':>6} {'+call':>6}  how kitkeeper fixed it"
    )
    lines = [head, "-" * len(head)]
    for index, r in enumerate(week.faults, 1):
        lines.append(
            f"{index:>2}  {r.fault.kind.what:<38} {when(r.fault.start):<9} "
            f"{r.fault.kind.rule_id:<21} {r.baseline.lost:>6.1f} {r.kitkeeper.lost:>6.1f} "
            f"{r.with_call_lost:>6.1f}  {r.kitkeeper.how}"
        )
        if verbose:
            lines.extend(f"{'':>6}kitkeeper  {entry}" for entry in r.kitkeeper.log)
            lines.append(f"{'':>6}none       {r.baseline.how}")
    lines.append("-" * len(head))
    lines.append(
        f"{'':>2}  {'total lesson minutes lost (a minute lost to two faults counts once)':<70} "
        f"{week.baseline:>6.1f} {week.kitkeeper:>6.1f} {week.with_call:>6.1f}"
    )
    replacements = sum(1 for r in week.faults if r.kitkeeper.replacement_ordered)
    base_replacements = sum(1 for r in week.faults if r.baseline.replacement_ordered)
    lines.append(
        f"    replacements ordered: none {base_replacements}, kitkeeper {replacements}; "
        f"tickets: none {sum(r.baseline.tickets for r in week.faults)}, "
        f"kitkeeper {sum(r.kitkeeper.tickets for r in week.faults)}"
    )
    return lines


def report_summary(summary: Summary, seed: int) -> list[str]:
    """Mean / median / max over the random weeks."""

    def row(name: str, values: list[float]) -> str:
        return (
            f"  {name:<26} {statistics.fmean(values):>8.1f} {statistics.median(values):>8.1f} "
            f"{max(values):>8.1f}"
        )

    worse = (
        f"{summary.kitkeeper_worse} of {summary.faults} faults "
        f"({100 * summary.kitkeeper_worse / summary.faults:.1f}%), by "
        f"{statistics.fmean(summary.worse_by):.1f} min on average (max {max(summary.worse_by):.1f})"
        if summary.worse_by
        else f"0 of {summary.faults} faults"
    )
    saved = statistics.fmean(summary.baseline) - statistics.fmean(summary.kitkeeper)
    share = saved / statistics.fmean(summary.baseline) if statistics.fmean(summary.baseline) else 0
    kinds = [
        f"  {KINDS[key].what:<38} {len(pairs):>5} {statistics.fmean(a for a, _ in pairs):>8.1f} "
        f"{statistics.fmean(b for _, b in pairs):>8.1f}"
        for key, pairs in summary.by_kind.items()
    ]
    return [
        f"{summary.weeks} random weeks (seed {seed}), {FAULTS_PER_WEEK} faults each of rules "
        "that cost lessons; lesson minutes lost per week:",
        f"  {'':<26} {'mean':>8} {'median':>8} {'max':>8}",
        row("no automation", summary.baseline),
        row("kitkeeper", summary.kitkeeper),
        row("kitkeeper + parent's call", summary.with_call),
        f"  kitkeeper saves {saved:.1f} min per week on average ({100 * share:.0f}% of what is "
        "lost without automation).",
        "  Faults where kitkeeper alone lost more than no automation:",
        f"    {worse}.",
        f"  Replacements ordered: no automation {summary.replacements_baseline}, kitkeeper "
        f"{summary.replacements_kitkeeper},",
        f"    {summary.replacements_unneeded} of them for faults a person could fix (the ladder "
        "ordered them before the technician came).",
        "  Per fault kind, mean lesson minutes lost per fault:",
        f"  {'fault':<38} {'count':>5} {'none':>8} {'kitkpr':>8}",
        *kinds,
    ]


def _as_json(week: WeekResult) -> list[dict[str, Any]]:
    return [
        {
            "fault": r.fault.kind.key,
            "rule": r.fault.kind.rule_id,
            "starts_local": local(r.fault.start).isoformat(),
            "lost_none": r.baseline.lost,
            "lost_kitkeeper": r.kitkeeper.lost,
            "lost_with_call": r.with_call_lost,
            "kitkeeper_how": r.kitkeeper.how,
        }
        for r in week.faults
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="random weeks from this seed")
    parser.add_argument("--runs", type=int, default=0, help="this many random weeks: a summary")
    parser.add_argument("--verbose", "-v", action="store_true", help="each fault's timeline")
    parser.add_argument(
        "--out",
        default=str(ROOT / "bench" / "results" / "simulate_week.json"),
        help="write the figures here as JSON ('' for nowhere)",
    )
    args = parser.parse_args(argv)

    world = load_world()
    print("Simulated week: lesson minutes lost with kitkeeper vs with no automation")
    print("Assumptions:")
    for text in assumptions(world):
        print("\n".join(_wrap(text)))
    print()
    if args.seed is not None and args.runs == 0:
        faults = random_faults(random.Random(args.seed), world)
        title = f"Random week (seed {args.seed}):"
    else:
        faults = default_faults()
        title = "Default week:"
    week = simulate_week(faults, world)
    print(title)
    print("\n".join(report_week(week, verbose=args.verbose)))
    totals = {"none": week.baseline, "kitkeeper": week.kitkeeper, "with_call": week.with_call}
    results: dict[str, Any] = {"week": _as_json(week), "totals": totals}
    if args.runs > 0:
        seed = 1 if args.seed is None else args.seed
        summary = simulate_many(args.runs, seed, world)
        print()
        print("\n".join(report_summary(summary, seed)))
        results["random"] = {
            "runs": args.runs,
            "seed": seed,
            "mean": {
                "none": statistics.fmean(summary.baseline),
                "kitkeeper": statistics.fmean(summary.kitkeeper),
                "with_call": statistics.fmean(summary.with_call),
            },
            "median": {
                "none": statistics.median(summary.baseline),
                "kitkeeper": statistics.median(summary.kitkeeper),
                "with_call": statistics.median(summary.with_call),
            },
            "max": {
                "none": max(summary.baseline),
                "kitkeeper": max(summary.kitkeeper),
                "with_call": max(summary.with_call),
            },
            "faults_kitkeeper_worse": summary.kitkeeper_worse,
            "faults": summary.faults,
        }
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
