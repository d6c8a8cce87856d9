"""The simulated week (bench/simulate_week.py): the invariants a reader of its figures relies on."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bench import simulate_week as sim
from policy.ladder import Priority
from policy.lessons import current, may_disrupt
from policy.rules import StepAction
from protocol.models import LessonMode


@pytest.fixture(scope="module")
def world() -> sim.World:
    return sim.load_world()


@pytest.fixture(scope="module")
def week(world: sim.World) -> sim.WeekResult:
    return sim.simulate_week(sim.default_faults(), world)


def _assert_no_disruptive_run_in_a_lesson(week: sim.WeekResult, world: sim.World) -> None:
    for result in week.faults:
        for run in result.kitkeeper.runs:
            if run.disruptive:
                timeout = world.catalogue[run.playbook].timeout
                assert may_disrupt(run.at, timeout, world.lessons, world.guard), (
                    f"{run.playbook} ({run.origin}) started at {sim.when(run.at)}"
                )


def test_the_world_is_the_real_one(world: sim.World) -> None:
    assert world.fallback == [], "every playbook's metadata comes from playbooks/*.yml"
    for kind in sim.KINDS.values():
        rule = world.rules[kind.rule_id]
        ladder_books = {step.playbook for step in rule.ladder if step.playbook}
        assert kind.fixed_by <= set(world.catalogue)
        assert kind.fixed_by <= ladder_books | set(sim.READINESS_FIXES.values())
    local = [sim.local(lesson.start) for lesson in world.lessons]
    assert {t.utcoffset() for t in local} == {timedelta(hours=5)}
    assert {t.weekday() for t in local} == {0, 1, 2, 3, 4}
    assert any(lesson.mode is LessonMode.HOME_VISIT for lesson in world.lessons)


def test_the_prelesson_rule_is_the_controllers() -> None:
    remediation = pytest.importorskip("controller.remediation.evaluation")
    assert remediation.PRELESSON_RULE == sim.PRELESSON_RULE


def test_the_default_week_every_fault_ends(week: sim.WeekResult) -> None:
    assert len(week.faults) == len(sim.DEFAULT_SCENARIO)
    for result in week.faults:
        assert result.kitkeeper.end is not None, result.fault.kind.key
        assert result.kitkeeper.end > result.fault.start


def test_kitkeeper_never_loses_more_than_no_automation_in_the_default_week(
    week: sim.WeekResult,
) -> None:
    for result in week.faults:
        assert result.kitkeeper.lost <= result.baseline.lost, result.fault.kind.key
        assert result.with_call_lost <= result.kitkeeper.lost
    assert week.kitkeeper < week.baseline
    assert week.with_call <= week.kitkeeper


def test_faults_that_cost_no_lessons_count_nothing(week: sim.WeekResult, world: sim.World) -> None:
    free = [r for r in week.faults if not world.rules[r.fault.kind.rule_id].costs_lessons]
    assert free, "the default week has faults of rules that cost no lessons"
    for result in free:
        assert result.baseline.lost == result.kitkeeper.lost == 0


def test_no_disruptive_playbook_starts_in_a_lesson_or_its_guard(
    week: sim.WeekResult, world: sim.World
) -> None:
    assert any(run.disruptive for r in week.faults for run in r.kitkeeper.runs)
    _assert_no_disruptive_run_in_a_lesson(week, world)


def test_a_self_heal_fix_ahead_of_a_lesson_loses_nothing(world: sim.World) -> None:
    """A fault a non-disruptive self-heal playbook fixes, starting >10 min before a lesson."""
    healable = [
        kind
        for kind in sim.KINDS.values()
        if world.rules[kind.rule_id].costs_lessons
        and (first := world.rules[kind.rule_id].ladder[0]).action is StepAction.SELF_HEAL
        and first.playbook in kind.fixed_by
        and not world.catalogue[first.playbook].disruptive
    ]
    assert {k.key for k in healable} >= {"audio-crashed", "a11y-drifted"}
    checked = 0
    for kind in healable:
        for lesson in world.lessons:
            for ahead in (11, 20, 45):
                start = lesson.start - timedelta(minutes=ahead)
                if current(start, world.lessons) is not None:
                    continue  # a lesson runs when it starts: not "before a lesson"
                result = sim.simulate_week([sim.Fault(kind, start)], world).faults[0]
                assert result.kitkeeper.lost == 0, (kind.key, sim.when(start))
                assert result.kitkeeper.how.startswith("self-heal")
                checked += 1
    assert checked > 50


def test_fifty_random_weeks(world: sim.World) -> None:
    summary = sim.simulate_many(50, seed=3, world=world)
    assert summary.weeks == 50
    assert summary.faults == 50 * sim.FAULTS_PER_WEEK
    assert sum(summary.kitkeeper) < sum(summary.baseline)
    for with_call, alone in zip(summary.with_call, summary.kitkeeper, strict=True):
        assert with_call <= alone + 1e-9
    assert summary.kitkeeper_worse == len(summary.worse_by)
    again = sim.simulate_many(50, seed=3, world=world)
    assert again.kitkeeper == summary.kitkeeper, "a seed gives the same weeks"


def test_random_weeks_keep_disruptive_runs_out_of_lessons(world: sim.World) -> None:
    rng = random.Random(5)
    for _ in range(20):
        week = sim.simulate_week(sim.random_faults(rng, world), world)
        _assert_no_disruptive_run_in_a_lesson(week, world)


def test_working_hours_and_the_courier() -> None:
    almaty = ZoneInfo("Asia/Almaty")
    friday_evening = datetime(2026, 12, 4, 17, 45, tzinfo=almaty)
    # 15 min left on Friday, the other 15 on Monday morning
    assert sim.add_working_time(friday_evening, timedelta(minutes=30)) == datetime(
        2026, 12, 7, 9, 15, tzinfo=almaty
    )
    assert sim.next_working_morning(friday_evening) == datetime(2026, 12, 7, 9, tzinfo=almaty)
    assert sim.courier_arrives(friday_evening) == datetime(2026, 12, 7, 14, tzinfo=almaty)
    assert sim.technician_acts(friday_evening, Priority.NORMAL) == datetime(
        2026, 12, 7, 9, tzinfo=almaty
    )


def test_main_prints_the_assumptions_and_both_arms(capsys: pytest.CaptureFixture[str]) -> None:
    assert sim.main(["--out", ""]) == 0
    out = capsys.readouterr().out
    assert "Assumptions:" in out
    assert "total lesson minutes lost" in out
