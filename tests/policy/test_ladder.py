"""The escalation ladder: tables for each step, a property over random schedules and faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import ladder
from policy.ladder import (
    AwaitKit,
    Defer,
    Escalate,
    OpenTicket,
    Phase,
    Plan,
    PlaybookInfo,
    Priority,
    RunPlaybook,
)
from policy.lessons import DEFAULT_GUARD, Lesson, may_disrupt
from policy.rules import Condition, Rule, Step, StepAction
from protocol.models import LessonMode, Severity

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
CATALOGUE = {
    "disk-cleanup": PlaybookInfo(disruptive=False, timeout=timedelta(minutes=5)),
    "network-reset": PlaybookInfo(disruptive=True, timeout=timedelta(minutes=2)),
}


def _rule(*steps: Step, severity: Severity = Severity.WARNING) -> Rule:
    return Rule(
        id="fault",
        when=[Condition(fact="x", op=">", value=1)],
        ladder=list(steps),
        severity=severity,
    )


def _lesson(day: int, hour: int, minute: int = 0, length: int = 45) -> Lesson:
    start = MONDAY + timedelta(days=day, hours=hour, minutes=minute)
    return Lesson(start, start + timedelta(minutes=length), LessonMode.ONLINE, "maths")


FULL = _rule(
    Step(action=StepAction.SELF_HEAL, playbook="disk-cleanup", deadline=timedelta(minutes=10)),
    Step(action=StepAction.REMOTE, playbook="network-reset", deadline=timedelta(minutes=30)),
    Step(action=StepAction.TECHNICIAN, deadline=timedelta(hours=4)),
    Step(action=StepAction.REPLACEMENT, deadline=timedelta(days=2)),
)


def test_a_new_incident_waits_for_the_kit_to_heal_itself() -> None:
    state, actions = ladder.open_incident(Plan(FULL, CATALOGUE, []), MONDAY)
    assert actions == [AwaitKit(0, "disk-cleanup")]
    assert state.phase is Phase.WAITING
    assert state.deadline == MONDAY + timedelta(minutes=10)
    assert ladder.next_wakeup(state, FULL) == state.deadline


def test_a_failed_self_heal_moves_to_remote_remediation_at_once() -> None:
    plan = Plan(FULL, CATALOGUE, [])
    state, _ = ladder.open_incident(plan, MONDAY)
    state, actions = ladder.on_result(state, plan, MONDAY + timedelta(minutes=1), step=0, ok=False)
    assert actions == [Escalate(0, 1, "the playbook failed"), RunPlaybook(1, "network-reset", True)]
    assert state.step == 1
    assert state.phase is Phase.RUNNING


PATIENT = _rule(
    Step(action=StepAction.REMOTE, playbook="network-reset", deadline=timedelta(hours=3)),
    Step(action=StepAction.TECHNICIAN, deadline=timedelta(hours=4)),
)


def test_a_disruptive_playbook_waits_for_the_end_of_the_lesson_and_its_guard() -> None:
    lessons = [_lesson(0, 9), _lesson(0, 10), _lesson(0, 14)]  # 09:00, 10:00, 14:00
    plan = Plan(PATIENT, CATALOGUE, lessons)
    state, actions = ladder.open_incident(plan, MONDAY + timedelta(hours=10, minutes=5))
    assert state.phase is Phase.SCHEDULED
    # 10:45, after the lesson; the 09:45 gap was within the 10:00 lesson's guard anyway
    assert state.not_before == MONDAY + timedelta(hours=10, minutes=45)
    assert isinstance(actions[0], Defer)
    assert ladder.next_wakeup(state, PATIENT) == state.not_before
    state, actions = ladder.tick(state, plan, MONDAY + timedelta(hours=10, minutes=45))
    assert actions == [RunPlaybook(0, "network-reset", True)]


def test_when_no_free_window_comes_before_the_deadline_a_person_is_called_at_once() -> None:
    lessons = [_lesson(0, 9), _lesson(0, 10)]
    plan = Plan(FULL, CATALOGUE, lessons)
    at = MONDAY + timedelta(hours=9, minutes=5)
    state, actions = ladder.open_incident(plan, at, first_step=1)
    # the remote step may take until 09:25 (its share before 09:45); the window opens at 10:45
    later = MONDAY + timedelta(hours=10, minutes=45)
    assert actions[0] == ladder.RunLater(1, "network-reset", later)
    assert isinstance(actions[1], Escalate)
    assert actions[2] == OpenTicket(2, "repair", Priority.URGENT, lessons[0].start)
    assert state.step == 2


def test_the_deadline_shrinks_when_a_lesson_is_near_and_tickets_are_due_by_it() -> None:
    lessons = [_lesson(0, 9)]
    plan = Plan(FULL, CATALOGUE, lessons)
    now = MONDAY + timedelta(hours=8)  # 45 min before the guard at 08:45: shared by 4 steps
    state, _ = ladder.open_incident(plan, now)
    assert state.deadline == now + timedelta(minutes=10)  # own span (10) < share (11.25)
    state, _ = ladder.open_incident(plan, now, first_step=1)
    assert state.deadline == now + timedelta(minutes=22.5)  # 45 / (1 automatic + a person)
    state, actions = ladder.open_incident(plan, now, first_step=2)
    assert actions == [OpenTicket(2, "repair", Priority.URGENT, lessons[0].start)]


def test_at_the_deadline_the_incident_climbs_and_on_the_last_step_stays() -> None:
    plan = Plan(FULL, CATALOGUE, [])
    state, _ = ladder.open_incident(plan, MONDAY, first_step=2)
    state, actions = ladder.tick(state, plan, state.deadline - timedelta(seconds=1))
    assert actions == []
    state, actions = ladder.tick(state, plan, state.deadline)
    assert isinstance(actions[0], Escalate)
    assert actions[1] == OpenTicket(3, "replacement", Priority.NORMAL, None)
    assert ladder.next_wakeup(state, FULL) is None
    assert ladder.tick(state, plan, state.deadline + timedelta(days=30))[1] == []


def test_a_forced_run_ignores_the_lesson_and_a_resolved_incident_does_nothing() -> None:
    lessons = [_lesson(0, 9)]
    plan = Plan(PATIENT, CATALOGUE, lessons)
    state, _ = ladder.open_incident(plan, MONDAY + timedelta(hours=9))
    assert state.phase is Phase.SCHEDULED
    state, actions = ladder.force(state, plan)
    assert actions == [RunPlaybook(0, "network-reset", True, forced=True)]
    state = ladder.resolve(state, MONDAY + timedelta(hours=9, minutes=3))
    assert ladder.tick(state, plan, MONDAY + timedelta(days=1)) == (state, [])
    assert ladder.next_wakeup(state, PATIENT) is None


def test_a_persons_step_keeps_its_own_deadline_even_just_before_a_lesson() -> None:
    lessons = [_lesson(0, 9)]
    plan = Plan(FULL, CATALOGUE, lessons)
    state, _ = ladder.open_incident(plan, MONDAY + timedelta(hours=8, minutes=50), first_step=2)
    assert state.deadline == MONDAY + timedelta(hours=12, minutes=50)  # 4 h, not shrunk


def test_a_run_the_kit_could_not_start_is_sent_again_not_escalated() -> None:
    lessons = [_lesson(0, 14)]
    plan = Plan(PATIENT, CATALOGUE, lessons)
    at = MONDAY + timedelta(hours=9)
    state, actions = ladder.open_incident(plan, at)
    assert actions == [RunPlaybook(0, "network-reset", True)]
    state, actions = ladder.on_refused(state, plan, at + timedelta(seconds=5), step=0)
    assert state.step == 0
    assert state.phase is Phase.SCHEDULED
    assert state.not_before == at + timedelta(minutes=1, seconds=5)
    state, actions = ladder.tick(state, plan, state.not_before)
    assert actions == [RunPlaybook(0, "network-reset", True)]


def test_a_step_gets_at_least_its_playbooks_timeout() -> None:
    slow = {"disk-cleanup": PlaybookInfo(disruptive=False, timeout=timedelta(minutes=10))}
    lessons = [_lesson(0, 9)]
    plan = Plan(FULL, {**CATALOGUE, **slow}, lessons)
    at = MONDAY + timedelta(hours=8, minutes=40)  # 5 minutes before the guard
    state, _ = ladder.open_incident(plan, at)
    assert state.deadline == at + timedelta(minutes=10)


def test_priorities_follow_the_time_to_the_next_lesson() -> None:
    lessons = [_lesson(1, 9)]
    at = MONDAY + timedelta(days=1, hours=8)
    assert ladder.priority(at, lessons, Severity.WARNING) is Priority.URGENT
    assert ladder.priority(at - timedelta(hours=12), lessons, Severity.WARNING) is Priority.HIGH
    assert ladder.priority(MONDAY - timedelta(days=3), lessons, Severity.WARNING) is Priority.NORMAL
    assert ladder.priority(MONDAY - timedelta(days=3), [], Severity.INFO) is Priority.LOW
    assert ladder.priority(MONDAY - timedelta(days=3), [], Severity.CRITICAL) is Priority.HIGH


# --- the property ----------------------------------------------------------------------------


@st.composite
def _week(draw: st.DrawFn) -> list[Lesson]:
    lessons: list[Lesson] = []
    for day in range(7):
        cursor = MONDAY + timedelta(days=day, hours=draw(st.integers(6, 12)))
        for _ in range(draw(st.integers(0, 5))):
            cursor += timedelta(minutes=draw(st.integers(0, 120)))
            length = timedelta(minutes=draw(st.integers(20, 90)))
            lessons.append(Lesson(cursor, cursor + length))
            cursor += length
    return lessons


@st.composite
def _rules(draw: st.DrawFn) -> tuple[Rule, dict[str, PlaybookInfo]]:
    catalogue = {
        name: PlaybookInfo(
            disruptive=draw(st.booleans()), timeout=timedelta(minutes=draw(st.integers(1, 90)))
        )
        for name in ("fix-a", "fix-b")
    }
    deadline = st.integers(1, 3 * 24 * 60).map(lambda m: timedelta(minutes=m))
    steps: list[Step] = []
    if draw(st.booleans()):
        steps.append(Step(action=StepAction.SELF_HEAL, playbook="fix-a", deadline=draw(deadline)))
    if draw(st.booleans()):
        book = draw(st.sampled_from(["fix-a", "fix-b"]))
        steps.append(Step(action=StepAction.REMOTE, playbook=book, deadline=draw(deadline)))
    if draw(st.booleans()):
        steps.append(Step(action=StepAction.TECHNICIAN, deadline=draw(deadline)))
    if draw(st.booleans()) or not steps:
        steps.append(Step(action=StepAction.REPLACEMENT, deadline=draw(deadline)))
    severity = draw(st.sampled_from(list(Severity)))
    return _rule(*steps, severity=severity), catalogue


@dataclass(frozen=True)
class _Happening:
    after: timedelta
    kind: str  # "ok", "fail", "force", "look"


_HAPPENINGS = st.lists(
    st.builds(
        _Happening,
        after=st.integers(0, 36 * 3600).map(lambda s: timedelta(seconds=s)),
        kind=st.sampled_from(["ok", "fail", "refused", "force", "look", "look"]),
    ),
    max_size=25,
)


@settings(max_examples=400, deadline=None)
@given(
    lessons=_week(),
    rule_and_catalogue=_rules(),
    fault_at=st.integers(0, 7 * 24 * 3600).map(lambda s: MONDAY + timedelta(seconds=s)),
    happenings=_HAPPENINGS,
    guard_minutes=st.integers(0, 30),
)
def test_no_disruptive_start_in_a_lesson_and_every_deadline_is_kept(
    lessons: list[Lesson],
    rule_and_catalogue: tuple[Rule, dict[str, PlaybookInfo]],
    fault_at: datetime,
    happenings: list[_Happening],
    guard_minutes: int,
) -> None:
    rule, catalogue = rule_and_catalogue
    guard = timedelta(minutes=guard_minutes)
    plan = Plan(rule, catalogue, lessons, guard)
    now = fault_at
    state, actions = ladder.open_incident(plan, now)
    pending = list(happenings)
    for _ in range(200):
        _check(actions, plan, now)
        wakeup = ladder.next_wakeup(state, rule)
        happening = pending[0] if pending else None
        happening_at = now + happening.after if happening else None
        candidates = [t for t in (wakeup, happening_at) if t is not None]
        if not candidates:
            break
        at = min(candidates)
        assert at >= now
        # the driver never lets a deadline pass unseen: it wakes at next_wakeup
        if state.step + 1 < len(rule.ladder):
            assert at <= state.deadline
        before = state
        now = at
        if happening is not None and happening_at == at:
            pending.pop(0)
            if happening.kind in ("ok", "fail"):
                state, actions = ladder.on_result(
                    state, plan, now, step=state.step, ok=happening.kind == "ok"
                )
            elif happening.kind == "refused":
                state, actions = ladder.on_refused(state, plan, now, step=state.step)
            elif happening.kind == "force":
                state, actions = ladder.force(state, plan)
            else:
                state, actions = ladder.tick(state, plan, now)
            _check(actions, plan, now)
            more_state, more = ladder.tick(state, plan, now)
            state, actions = more_state, actions + more
        else:
            state, actions = ladder.tick(state, plan, now)
        if before.step + 1 < len(rule.ladder) and now >= before.deadline:
            assert state.step > before.step, "the deadline passed and the incident did not move"
        for action in actions:
            if isinstance(action, Escalate):
                early = action.reason == "the playbook failed" or "no free window" in action.reason
                assert now <= before.deadline or early


def _check(actions: list[ladder.Action], plan: Plan, now: datetime) -> None:
    for action in actions:
        if isinstance(action, RunPlaybook) and action.disruptive and not action.forced:
            timeout = plan.catalogue[action.playbook].timeout
            assert may_disrupt(now, timeout, plan.lessons, plan.guard), (
                f"disruptive {action.playbook} started at {now} inside a lesson or its guard"
            )
        if isinstance(action, Defer | ladder.RunLater):
            info = plan.catalogue[action.playbook]
            assert action.until > now
            if info.disruptive:
                assert may_disrupt(action.until, info.timeout, plan.lessons, plan.guard)


def test_the_default_guard_is_fifteen_minutes() -> None:
    assert timedelta(minutes=15) == DEFAULT_GUARD
