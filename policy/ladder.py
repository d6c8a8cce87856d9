"""The escalation ladder of one incident, timed around the pupil's lessons: pure.

An incident climbs its rule's ladder (self-heal on the kit → remote remediation → technician
ticket → replacement ticket). Each step has a deadline: when it passes with the fault still
there, the incident moves to the next step. A disruptive playbook never starts inside a lesson or
its guard time: it waits for the next free window (unless a technician forces it), and if that
window comes after the step's deadline the incident moves on without it. Urgency comes from the
time left before the next lesson: the steps share that time, and tickets are due by the lesson.

Every function takes `now` and the lessons and returns a new state plus the actions to carry out;
none reads a clock or does I/O. The caller must call `tick` again at `next_wakeup(state)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from policy.lessons import DEFAULT_GUARD, Lesson, current, may_disrupt, next_free_start
from policy.lessons import next_lesson as first_lesson_after
from policy.rules import Rule, Step, StepAction
from protocol.models import Severity

MIN_STEP = timedelta(minutes=2)
"""No step is given less than this, however close the lesson."""
RETRY = timedelta(minutes=1)
"""A playbook the kit could not run yet (busy, a lesson by its clock) is sent again this late."""


class Phase(StrEnum):
    """Where the current step is."""

    WAITING = "waiting"
    """Self-heal: waiting for the kit's own result. Tickets: waiting for the technician."""
    SCHEDULED = "scheduled"
    """A disruptive playbook waits for the next free window (`not_before`)."""
    RUNNING = "running"
    """The playbook command is out; waiting for its result."""
    VERIFYING = "verifying"
    """The step's action succeeded; waiting for the fault to clear."""
    RESOLVED = "resolved"


class Priority(StrEnum):
    """How soon a person must act."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class PlaybookInfo:
    """What the ladder needs to know about a playbook (from the bundle manifest)."""

    disruptive: bool
    timeout: timedelta


Catalogue = Mapping[str, PlaybookInfo]


@dataclass(frozen=True, slots=True)
class Plan:
    """What an incident is judged against: its rule, the playbooks, the pupil's lessons."""

    rule: Rule
    catalogue: Catalogue
    lessons: Sequence[Lesson]
    guard: timedelta = DEFAULT_GUARD

    def playbook(self, playbook: str) -> PlaybookInfo:
        """A playbook's facts; an unknown one is treated as disruptive and slow."""
        return self.catalogue.get(playbook) or PlaybookInfo(True, timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class IncidentState:
    """Where one incident stands on its ladder."""

    rule_id: str
    opened_at: datetime
    step: int
    phase: Phase
    step_started: datetime
    deadline: datetime
    not_before: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        """Whether the fault is gone."""
        return self.phase is Phase.RESOLVED


@dataclass(frozen=True, slots=True)
class RunPlaybook:
    """Send a run_playbook command now (remote step)."""

    step: int
    playbook: str
    disruptive: bool
    forced: bool = False


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """Open a technician (repair) or replacement ticket, due by the pupil's next lesson."""

    step: int
    kind: str
    priority: Priority
    due_by: datetime | None


@dataclass(frozen=True, slots=True)
class Defer:
    """A disruptive playbook waits for a free window."""

    step: int
    playbook: str
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class RunLater:
    """Send the playbook at `until` (the first free window) although the ladder moved on."""

    step: int
    playbook: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Escalate:
    """The incident moves to the next step, and why."""

    from_step: int
    to_step: int
    reason: str


@dataclass(frozen=True, slots=True)
class AwaitKit:
    """The kit heals itself (offline too); the controller waits until the deadline."""

    step: int
    playbook: str


Action = RunPlaybook | OpenTicket | Defer | RunLater | Escalate | AwaitKit


def priority(now: datetime, lessons: Sequence[Lesson], severity: Severity) -> Priority:
    """Urgent: a lesson runs or starts within 2 h; high: within a day, or critical; else normal."""
    soon = current(now, lessons) or first_lesson_after(now, lessons)
    if soon is not None and soon.start - now <= timedelta(hours=2):
        return Priority.URGENT
    if (soon is not None and soon.start - now <= timedelta(days=1)) or (
        severity is Severity.CRITICAL
    ):
        return Priority.HIGH
    if soon is None and severity is Severity.INFO:
        return Priority.LOW
    return Priority.NORMAL


def due_by(now: datetime, lessons: Sequence[Lesson]) -> datetime | None:
    """The start of the pupil's next lesson (the one running now counts: it is already late)."""
    running = current(now, lessons)
    if running is not None:
        return running.start
    upcoming = first_lesson_after(now, lessons)
    return upcoming.start if upcoming else None


AUTOMATIC = (StepAction.SELF_HEAL, StepAction.REMOTE)


def step_deadline(
    rule: Rule,
    index: int,
    now: datetime,
    lessons: Sequence[Lesson],
    guard: timedelta = DEFAULT_GUARD,
) -> datetime:
    """When step `index` must have fixed the fault: its own span, shortened by a coming lesson.

    The automatic steps (self-heal, remote) share the time left before the next lesson's guard
    with one share kept for a person, never below MIN_STEP. A person's steps keep their own span:
    their ticket is due by the lesson anyway, and a shrunken deadline would order replacements
    before a technician could even answer.
    """
    step = rule.ladder[index]
    deadline = now + step.deadline
    upcoming = first_lesson_after(now, lessons)
    if upcoming is not None and step.action in AUTOMATIC:
        automatic_left = sum(1 for s in rule.ladder[index:] if s.action in AUTOMATIC)
        share = (upcoming.start - guard - now) / (automatic_left + 1)
        deadline = min(deadline, now + max(share, MIN_STEP))
    return deadline


def open_incident(
    plan: Plan, now: datetime, *, first_step: int = 0
) -> tuple[IncidentState, list[Action]]:
    """A new incident on the rule's first step (or `first_step`), and what to do at once."""
    state = IncidentState(
        rule_id=plan.rule.id,
        opened_at=now,
        step=first_step,
        phase=Phase.WAITING,
        step_started=now,
        deadline=now,
    )
    return _start_step(state, plan, first_step, now)


def _start_step(
    state: IncidentState, plan: Plan, index: int, now: datetime
) -> tuple[IncidentState, list[Action]]:
    rule = plan.rule
    step = rule.ladder[index]
    deadline = step_deadline(rule, index, now, plan.lessons, plan.guard)
    if step.playbook is not None:  # a playbook gets at least its own timeout to finish
        deadline = max(deadline, now + plan.playbook(step.playbook).timeout)
    state = replace(
        state,
        step=index,
        phase=Phase.WAITING,
        step_started=now,
        deadline=deadline,
        not_before=None,
    )
    if step.action is StepAction.SELF_HEAL:
        assert step.playbook is not None
        return state, [AwaitKit(index, step.playbook)]
    if step.action is StepAction.REMOTE:
        return _try_run(state, step, plan, now)
    kind = "repair" if step.action is StepAction.TECHNICIAN else "replacement"
    urgency = priority(now, plan.lessons, rule.severity)
    return state, [OpenTicket(index, kind, urgency, due_by(now, plan.lessons))]


def _try_run(
    state: IncidentState, step: Step, plan: Plan, now: datetime
) -> tuple[IncidentState, list[Action]]:
    assert step.playbook is not None
    info = plan.playbook(step.playbook)
    if info.disruptive and not may_disrupt(now, info.timeout, plan.lessons, plan.guard):
        until = next_free_start(now, info.timeout, plan.lessons, plan.guard)
        if until >= state.deadline and state.step + 1 < len(plan.rule.ladder):
            # Waiting would only spend the step's time: a person is called at once, and the
            # playbook still runs in the first free window in case nobody fixed it by then.
            later = RunLater(state.step, step.playbook, until)
            why = f"{step.playbook} is disruptive and no free window comes before the deadline"
            state, actions = _escalate(state, plan, now, why)
            return state, [later, *actions]
        reason = "disruptive: waits for the next time no lesson is running or about to start"
        return replace(state, phase=Phase.SCHEDULED, not_before=until), [
            Defer(state.step, step.playbook, until, reason)
        ]
    return replace(state, phase=Phase.RUNNING, not_before=None), [
        RunPlaybook(state.step, step.playbook, info.disruptive)
    ]


def _escalate(
    state: IncidentState, plan: Plan, now: datetime, reason: str
) -> tuple[IncidentState, list[Action]]:
    if state.step + 1 >= len(plan.rule.ladder):
        return state, []
    moved = Escalate(state.step, state.step + 1, reason)
    state, actions = _start_step(state, plan, state.step + 1, now)
    return state, [moved, *actions]


_WHY_ESCALATED = {
    Phase.WAITING: "no fix before the step's deadline",
    Phase.SCHEDULED: "no free window before the step's deadline",
    Phase.RUNNING: "no result before the step's deadline",
    Phase.VERIFYING: "the fix ran but the fault was still there at the deadline",
}


def tick(state: IncidentState, plan: Plan, now: datetime) -> tuple[IncidentState, list[Action]]:
    """Move on what time has made due: a deadline passed, or a free window has come."""
    if state.resolved:
        return state, []
    if now >= state.deadline and state.step + 1 < len(plan.rule.ladder):
        return _escalate(state, plan, now, _WHY_ESCALATED[state.phase])
    if state.phase is Phase.SCHEDULED and state.not_before is not None and now >= state.not_before:
        return _try_run(state, plan.rule.ladder[state.step], plan, now)
    return state, []


def on_result(
    state: IncidentState, plan: Plan, now: datetime, *, step: int, ok: bool
) -> tuple[IncidentState, list[Action]]:
    """A playbook's result for `step`: success waits for the fault to clear; failure moves on."""
    if state.resolved or step != state.step or state.phase is Phase.VERIFYING:
        return state, []
    if plan.rule.ladder[step].action not in (StepAction.SELF_HEAL, StepAction.REMOTE):
        return state, []
    if ok:
        return replace(state, phase=Phase.VERIFYING), []
    return _escalate(state, plan, now, "the playbook failed")


def on_refused(
    state: IncidentState, plan: Plan, now: datetime, *, step: int
) -> tuple[IncidentState, list[Action]]:
    """The kit did not run the step's playbook (busy with another run, or a lesson by its own
    clock): not a failure; it is sent again a minute later (a disruptive one in a free window)."""
    current_step = plan.rule.ladder[step] if step < len(plan.rule.ladder) else None
    if (
        state.resolved
        or step != state.step
        or state.phase is not Phase.RUNNING
        or current_step is None
        or current_step.action is not StepAction.REMOTE
        or current_step.playbook is None
    ):
        return state, []
    info = plan.playbook(current_step.playbook)
    until = now + RETRY
    if info.disruptive:
        until = next_free_start(until, info.timeout, plan.lessons, plan.guard)
    return replace(state, phase=Phase.SCHEDULED, not_before=until), [
        Defer(step, current_step.playbook, until, "the kit could not run it yet: sent again later")
    ]


def force(state: IncidentState, plan: Plan) -> tuple[IncidentState, list[Action]]:
    """A technician runs the current remote step's playbook now, lesson or not."""
    step = plan.rule.ladder[state.step]
    if state.resolved or step.action is not StepAction.REMOTE or step.playbook is None:
        return state, []
    info = plan.playbook(step.playbook)
    return replace(state, phase=Phase.RUNNING, not_before=None), [
        RunPlaybook(state.step, step.playbook, info.disruptive, forced=True)
    ]


def resolve(state: IncidentState, now: datetime) -> IncidentState:
    """The fault is gone."""
    if state.resolved:
        return state
    return replace(state, phase=Phase.RESOLVED, resolved_at=now, not_before=None)


def next_wakeup(state: IncidentState, rule: Rule) -> datetime | None:
    """When `tick` must be called next (a deadline, or the window a deferred playbook waits for)."""
    if state.resolved:
        return None
    times = []
    if state.step + 1 < len(rule.ladder):
        times.append(state.deadline)
    if state.phase is Phase.SCHEDULED and state.not_before is not None:
        times.append(state.not_before)
    return min(times) if times else None
