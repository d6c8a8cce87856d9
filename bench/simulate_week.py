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

# ruff: noqa: E402 - the repository goes on sys.path before the project is imported

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.week_model import (
    DEFAULT_SCENARIO as DEFAULT_SCENARIO,
)
from bench.week_model import (
    FAULTS_PER_WEEK as FAULTS_PER_WEEK,
)
from bench.week_model import (
    HORIZON,
    PRELESSON,
    PRELESSON_RULE,
    READINESS_FIXES,
    REPORT_DELAY,
    TECHNICIAN_FIX,
    TELEMETRY_INTERVAL,
    Fault,
    FaultKind,
    FaultResult,
    Outcome,
    Run,
    Summary,
    WeekResult,
    World,
    courier_arrives,
    default_faults,
    load_world,
    local,
    random_faults,
    technician_acts,
    when,
)
from bench.week_model import (
    KINDS as KINDS,
)
from bench.week_model import (
    add_working_time as add_working_time,
)
from bench.week_model import (
    next_working_morning as next_working_morning,
)
from bench.week_report import (
    as_json,
    assumptions,
    report_summary,
    report_week,
    wrap,
)
from policy import ladder
from policy.ladder import IncidentState, Plan, Priority
from policy.lessons import (
    Lesson,
    may_disrupt,
    minutes_lost,
    next_free_start,
)
from policy.rules import Rule, StepAction
from protocol.models import LessonMode

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
        print("\n".join(wrap(text)))
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
    results: dict[str, Any] = {"week": as_json(week), "totals": totals}
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
