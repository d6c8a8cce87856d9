"""Rules: parsing, conditions, durations, hysteresis and throttling, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.rules import (
    Cleared,
    Condition,
    Fired,
    RulesError,
    RuleState,
    Throttled,
    evaluate,
    load_rules,
    parse_span,
)

T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)

DISK = """
rules:
  - id: disk-full
    severity: warning
    when: [{fact: disk.used_percent.max, op: ">", value: 90}]
    for: 5m
    clear: [{fact: disk.used_percent.max, op: "<", value: 85}]
    throttle: 1h
    ladder:
      - {action: self_heal, playbook: disk-cleanup, deadline: 10m}
      - {action: technician, deadline: 1d}
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1.5h", 5400), (30, 30)],
)
def test_spans(text: str | int, seconds: int) -> None:
    assert parse_span(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["5 minutes", "", "-1m", True])
def test_bad_spans_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError, match="time span"):
        parse_span(bad)


@pytest.mark.parametrize(
    ("condition", "facts", "holds"),
    [
        (Condition(fact="a", op=">", value=1), {"a": 2.0}, True),
        (Condition(fact="a", op=">", value=1), {"a": 1.0}, False),
        (Condition(fact="a", op="<=", value=1), {"a": 1.0}, True),
        (Condition(fact="a", op=">", value=1), {}, None),
        (Condition(fact="a", op="==", value=False), {"a": False}, True),
        (Condition(fact="a", op="!=", value=True), {"a": False}, True),
        (Condition(fact="a", op="==", value=0), {"a": False}, None),
        (Condition(fact="a", op="==", value="not_ready"), {"a": "not_ready"}, True),
        (Condition(fact="a", op=">", value=1), {"a": "high"}, None),
    ],
)
def test_conditions(condition: Condition, facts: dict[str, float], holds: bool | None) -> None:
    assert condition.holds(facts) is holds


def test_a_rule_fires_only_after_holding_for_its_duration_then_clears_with_hysteresis() -> None:
    rules = load_rules(DISK).rules
    states: dict[str, RuleState] = {}
    timeline = [
        (0, 95, []),
        (4, 95, []),
        (5, 95, [Fired]),
        (6, 88, []),  # between 85 and 90: still active (hysteresis)
        (7, 84, [Cleared]),
        (8, 95, []),
        (13, 95, [Throttled]),  # back within the hour: no new incident
        (14, 80, [Cleared]),
        (70, 95, []),
        (75, 95, [Fired]),  # more than an hour after the last firing
        (76, 80, [Cleared]),
        (80, 95, []),
        (85, 95, [Throttled]),
        (100, 95, []),  # still there, still within the hour
        (135, 95, [Fired]),  # still there an hour after the last firing: act again
        (136, 95, []),
    ]
    for minute, used, expected in timeline:
        states, actions = evaluate(
            rules, states, {"disk.used_percent.max": used}, T0 + timedelta(minutes=minute)
        )
        assert [type(a) for a in actions] == expected, f"minute {minute}"


def test_a_dip_resets_the_duration() -> None:
    rules = load_rules(DISK).rules
    states: dict[str, RuleState] = {}
    for minute, used in [(0, 95), (3, 50), (6, 95), (10, 95)]:
        states, actions = evaluate(
            rules, states, {"disk.used_percent.max": used}, T0 + timedelta(minutes=minute)
        )
        assert actions == []
    states, actions = evaluate(
        rules, states, {"disk.used_percent.max": 95}, T0 + timedelta(minutes=11)
    )
    assert [type(a) for a in actions] == [Fired]


def test_missing_facts_neither_fire_nor_clear() -> None:
    rules = load_rules(DISK).rules
    states, actions = evaluate(rules, {}, {}, T0)
    assert actions == []
    states = {"disk-full": RuleState(active=True, last_fired=T0)}
    _, actions = evaluate(rules, states, {}, T0 + timedelta(minutes=1))
    assert actions == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{id: x}]", "when"),
        ("rules: [{id: x, when: [{fact: a, op: '>', value: 1}], ladder: []}]", "ladder"),
        (
            "rules: [{id: x, when: [{fact: a, op: '~', value: 1}], "
            "ladder: [{action: technician}]}]",
            "op",
        ),
        (
            "rules: [{id: x, when: [{fact: a, op: '>', value: 1}], ladder: [{action: remote}]}]",
            "needs a playbook",
        ),
        (
            "rules: [{id: x, when: [{fact: a, op: '>', value: 1}], "
            "ladder: [{action: technician}, {action: remote, playbook: p}]}]",
            "self_heal → remote",
        ),
        (
            "rules: [{id: x, when: [{fact: a, op: '>', value: 1}], ladder: [{action: technician}]},"
            " {id: x, when: [{fact: a, op: '>', value: 1}], ladder: [{action: technician}]}]",
            "unique",
        ),
        ("rules: [{", "YAML"),
        (
            "rules: [{id: x, when: [{fact: a, op: '>', value: 1}], for: soon, "
            "ladder: [{action: technician}]}]",
            "time span",
        ),
    ],
)
def test_bad_rules_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        load_rules(text)
