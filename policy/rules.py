"""Declarative fault rules: conditions over a kit's facts, with durations, hysteresis, throttling.

Rules are YAML (shipped inside the signed playbook bundle, so the agent evaluates the same rules
offline as the controller does online):

```yaml
rules:
  - id: disk-full
    description: The system disk is almost full.
    severity: warning
    when: [{fact: disk.used_percent.max, op: ">", value: 90}]
    for: 5m                      # the condition must hold this long before the rule fires
    clear: [{fact: disk.used_percent.max, op: "<", value: 85}]   # hysteresis
    throttle: 1h                 # at most one firing per kit and rule within this span
    costs_lessons: false         # whether the fault stops a lesson (counts lost minutes)
    ladder:
      - {action: self_heal, playbook: disk-cleanup, deadline: 10m}
      - {action: remote, playbook: disk-cleanup, deadline: 30m}
      - {action: technician, deadline: 1d}
      - {action: replacement}
```

`evaluate(rules, states, facts, now)` is pure: it returns the new per-rule states and what fired
or cleared. `facts_from_telemetry` turns a snapshot into the flat facts the conditions read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from protocol.commands import PLAYBOOK_ID_PATTERN
from protocol.errors import ProtocolError, RejectReason
from protocol.inventory import (
    AgentProcess,
    BatteryHealth,
    Connectivity,
    DeviceKind,
    Peripherals,
    ProfileCheck,
)
from protocol.models import Battery, Cpu, Memory, Severity, Telemetry

Fact = float | bool | str
Facts = Mapping[str, Fact]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_span(value: Any) -> timedelta:
    """'90s', '5m', '2h', '1d', a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _SPAN.match(str(value))
    if not match:
        raise ValueError(f"not a time span: {value!r} (write 90s, 5m, 2h or 1d)")
    return timedelta(seconds=float(match[1]) * _UNIT[match[2]])


Span = Annotated[timedelta, BeforeValidator(parse_span)]


class RulesError(ProtocolError):
    """A rules file that cannot be used, and why."""

    def __init__(self, detail: str) -> None:
        super().__init__(RejectReason.INVALID, detail)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """`fact op value`; a fact the snapshot lacks makes the condition unknown (never true)."""

    fact: str = Field(min_length=1, max_length=128)
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float | bool | str

    def holds(self, facts: Facts) -> bool | None:
        """True or False, or None when the fact is missing or of another type."""
        actual = facts.get(self.fact)
        if actual is None:
            return None
        if self.op in ("==", "!="):
            if isinstance(self.value, bool) != isinstance(actual, bool):
                return None
            return (actual == self.value) == (self.op == "==")
        if isinstance(actual, bool | str) or isinstance(self.value, bool | str):
            return None
        a, b = float(actual), float(self.value)
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[self.op]


def all_hold(conditions: Sequence[Condition], facts: Facts) -> bool | None:
    """All true → True; any false → False; otherwise (some unknown) None."""
    results = [c.holds(facts) for c in conditions]
    if any(r is False for r in results):
        return False
    if any(r is None for r in results):
        return None
    return True


class StepAction(StrEnum):
    """The rungs of the escalation ladder (DESIGN.md)."""

    SELF_HEAL = "self_heal"
    REMOTE = "remote"
    TECHNICIAN = "technician"
    REPLACEMENT = "replacement"


class Step(_Strict):
    """One rung: what to do and how long it may take before the next rung."""

    action: StepAction
    playbook: str | None = Field(default=None, pattern=PLAYBOOK_ID_PATTERN)
    deadline: Span = Field(default=timedelta(hours=1))

    @model_validator(mode="after")
    def _playbook_where_needed(self) -> Step:
        needs = self.action in (StepAction.SELF_HEAL, StepAction.REMOTE)
        if needs and not self.playbook:
            raise ValueError(f"a {self.action.value} step needs a playbook")
        if not needs and self.playbook:
            raise ValueError(f"a {self.action.value} step runs no playbook")
        if self.deadline <= timedelta(0):
            raise ValueError("a step's deadline must be positive")
        return self


class Rule(_Strict):
    """One fault: when it is present, when it is gone, and the ladder that fixes it."""

    id: str = Field(pattern=PLAYBOOK_ID_PATTERN)
    description: str = Field(default="", max_length=500)
    severity: Severity = Severity.WARNING
    when: list[Condition] = Field(min_length=1)
    hold: Span = Field(default=timedelta(0), alias="for")
    clear: list[Condition] | None = None
    throttle: Span = Field(default=timedelta(hours=1))
    costs_lessons: bool = False
    ladder: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _ladder_in_order(self) -> Rule:
        order = list(StepAction)
        ranks = [order.index(step.action) for step in self.ladder]
        if ranks != sorted(ranks):
            raise ValueError("ladder steps go self_heal → remote → technician → replacement")
        if StepAction.SELF_HEAL in (s.action for s in self.ladder[1:]):
            raise ValueError("self_heal can only be the first step")
        return self

    def is_clear(self, facts: Facts) -> bool:
        """Whether the fault is gone: the clear conditions hold, or (without them) `when` fails."""
        if self.clear:
            return all_hold(self.clear, facts) is True
        return all_hold(self.when, facts) is False


class RuleSet(_Strict):
    """A rules file."""

    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicated)}")
        return self

    def by_id(self) -> dict[str, Rule]:
        """The rules keyed by id."""
        return {r.id: r for r in self.rules}

    def playbooks(self) -> set[str]:
        """Every playbook the ladders name."""
        return {s.playbook for r in self.rules for s in r.ladder if s.playbook}


def load_rules(text: str | bytes) -> RuleSet:
    """Parse and validate a rules file; RulesError says what is wrong and where."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"rules are not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"rules: {where}: {first['msg']}") from exc


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleState:
    """What one rule remembers about one kit."""

    pending_since: datetime | None = None
    """When the `when` conditions started to hold (not yet long enough to fire)."""
    active: bool = False
    last_fired: datetime | None = None
    suppressed: bool = False
    """Present again within the throttle span: it fires once the span is over, if still there."""


@dataclass(frozen=True, slots=True)
class Fired:
    """The fault is present (held for the rule's duration) and not throttled."""

    rule: Rule


@dataclass(frozen=True, slots=True)
class Cleared:
    """The fault is gone (the clear conditions hold)."""

    rule: Rule


@dataclass(frozen=True, slots=True)
class Throttled:
    """The fault came back within the throttle span: noted, no new incident."""

    rule: Rule


RuleAction = Fired | Cleared | Throttled


def evaluate(
    rules: Sequence[Rule],
    states: Mapping[str, RuleState],
    facts: Facts,
    now: datetime,
) -> tuple[dict[str, RuleState], list[RuleAction]]:
    """New per-rule states and what fired or cleared, from the facts at `now`."""
    new_states: dict[str, RuleState] = {}
    actions: list[RuleAction] = []
    for rule in rules:
        state = states.get(rule.id, RuleState())
        if state.active:
            if rule.is_clear(facts):
                state = replace(state, active=False, pending_since=None, suppressed=False)
                actions.append(Cleared(rule))
            elif state.suppressed and (
                state.last_fired is None or now - state.last_fired >= rule.throttle
            ):
                actions.append(Fired(rule))  # still there after the throttle span: act again
                state = RuleState(active=True, last_fired=now)
        elif all_hold(rule.when, facts) is True:
            since = state.pending_since or now
            if now - since >= rule.hold:
                throttled = state.last_fired is not None and now - state.last_fired < rule.throttle
                if throttled:
                    actions.append(Throttled(rule))
                    state = replace(state, active=True, pending_since=None, suppressed=True)
                else:
                    actions.append(Fired(rule))
                    state = RuleState(active=True, last_fired=now)
            else:
                state = replace(state, pending_since=since)
        else:
            state = replace(state, pending_since=None)
        new_states[rule.id] = state
    return new_states, actions


# --- facts -----------------------------------------------------------------------------------


def facts_from_telemetry(telemetry: Telemetry) -> dict[str, Fact]:  # noqa: PLR0912 - one per part
    """The flat facts rules read, from one snapshot (absent parts give no facts)."""
    facts: dict[str, Fact] = {}
    if isinstance(telemetry.cpu, Cpu):
        facts["cpu.percent"] = telemetry.cpu.percent
    if isinstance(telemetry.memory, Memory):
        facts["memory.used_percent"] = telemetry.memory.used_percent
    if isinstance(telemetry.disks, list) and telemetry.disks:
        facts["disk.used_percent.max"] = max(d.used_percent for d in telemetry.disks)
        facts["disk.free_mb.min"] = min(d.free_bytes for d in telemetry.disks) / 2**20
    if isinstance(telemetry.battery, Battery):
        facts["battery.percent"] = telemetry.battery.percent
        if telemetry.battery.plugged is not None:
            facts["battery.plugged"] = telemetry.battery.plugged
    health = telemetry.battery_health
    if isinstance(health, BatteryHealth) and health.wear_percent is not None:
        facts["battery.wear_percent"] = health.wear_percent
    if isinstance(telemetry.disk_health, list) and telemetry.disk_health:
        facts["smart.failed"] = any(d.passed is False for d in telemetry.disk_health)
    if isinstance(telemetry.services, list):
        for service in telemetry.services:
            facts[f"service.{service.role}.active"] = service.active
    if isinstance(telemetry.agent_process, AgentProcess):
        facts["agent.rss_mb"] = telemetry.agent_process.rss_bytes / 2**20
    if isinstance(telemetry.peripherals, Peripherals):
        for kind in DeviceKind:
            facts[f"peripherals.{kind.value}"] = float(
                sum(1 for d in telemetry.peripherals.devices if d.kind == kind)
            )
    if isinstance(telemetry.connectivity, Connectivity):
        _connectivity_facts(telemetry.connectivity, facts)
    if isinstance(telemetry.profile, ProfileCheck):
        facts["profile.complete"] = telemetry.profile.complete
        facts["profile.missing"] = float(len(telemetry.profile.missing))
    return facts


def _connectivity_facts(net: Connectivity, facts: dict[str, Fact]) -> None:
    facts["net.link_up"] = net.link_up
    facts["net.default_route"] = net.default_route is not None
    if net.dns_ok is not None:
        facts["net.dns_ok"] = net.dns_ok
    facts["net.readiness"] = net.readiness.verdict.value
    if net.endpoints:
        facts["net.loss_percent.max"] = max(p.loss_percent for p in net.endpoints)
        rtts = [p.rtt_ms for p in net.endpoints if p.rtt_ms is not None]
        if rtts:
            facts["net.rtt_ms.max"] = max(rtts)
