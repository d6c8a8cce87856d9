"""The fault rules over the kits' newest snapshots: firing opens an incident, clearing resolves it.

Kits are read by the arrival of their newest snapshot (the controller's clock, not the kit's: a
kit's clock may be wrong), at most every `RULES_MIN_INTERVAL` each, a bounded number per pass so
the writer is never held up for long; how far each kit was read is its `RulesCursor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.remediation import cursors, fleet_reads
from controller.remediation.history import said
from controller.remediation.incidents import Incidents, open_incident_for
from controller.remediation.outgoing import Outgoing
from controller.remediation.tables import Incident, RulesCursor
from controller.remediation.tables import RuleState as RuleStateRow
from policy.rules import (
    Cleared,
    Condition,
    Fired,
    Rule,
    RuleSet,
    RuleState,
    Throttled,
    evaluate,
    facts_from_telemetry,
)
from protocol.models import Telemetry as TelemetryBody

_LOGGER = logging.getLogger(__name__)

RULES_MIN_INTERVAL = timedelta(seconds=10)
"""A kit's rules are evaluated at most this often (a rule's `for` is longer anyway)."""
KITS_PER_PASS = 200
"""Kits whose new snapshots one pass evaluates (the rest wait for the next pass)."""

PRELESSON_RULE = Rule.model_validate(
    {
        "id": "prelesson-readiness",
        "description": "The kit failed its readiness check before an online lesson.",
        "severity": "critical",
        "when": [{"fact": "prelesson.ok", "op": "==", "value": False}],
        "clear": [{"fact": "prelesson.ok", "op": "==", "value": True}],
        "throttle": "1m",
        "costs_lessons": True,
        "ladder": [{"action": "technician", "deadline": "4h"}],
    }
)
"""What a failed pre-lesson check opens: a technician at once, due by the lesson. The rules of
the faults behind it (camera, microphone, network) order replacements, not this."""

Facts = dict[str, float | bool | str]


def why(rule: Rule, facts: Facts) -> str:
    """Why a rule fired, in words: its description and the facts it saw."""
    seen = ", ".join(
        f"{c.fact} = {facts[c.fact]}"
        for c in rule.when
        if isinstance(c, Condition) and c.fact in facts
    )
    return f"{rule.description or rule.id} ({seen})" if seen else rule.description or rule.id


class RuleEvaluator:
    """Runs the rules over the kits' snapshots; see the module docstring."""

    def __init__(
        self, *, rules: RuleSet, incidents: Incidents, flooded: Callable[[], bool]
    ) -> None:
        self.rules = rules
        self.by_id = {r.id: r for r in rules.rules} | {PRELESSON_RULE.id: PRELESSON_RULE}
        """Every rule an incident may be of, the pre-lesson check's included."""
        self._incidents = incidents
        self._flooded = flooded

    def evaluate_new(self, session: Session, now: datetime, out: Outgoing) -> None:
        """Evaluate the kits with a snapshot the rules have not seen yet, longest waiting first."""
        if self._flooded():
            return  # kits are replaying an outage: the writer first, the rules a moment later
        kits = fleet_reads.kits_to_evaluate(
            session, now=now, min_interval=RULES_MIN_INTERVAL, limit=KITS_PER_PASS
        )
        if kits:
            cursors.begin(session, "telemetry", now)
        for kit_id, seen_at in kits:
            if seen_at is None:
                continue
            self._evaluate_latest(session, out, kit_id, now)
            cursor = session.get(RulesCursor, kit_id)
            if cursor is None:
                session.add(RulesCursor(kit_id=kit_id, evaluated_at=seen_at))
            else:
                cursor.evaluated_at = seen_at

    def _evaluate_latest(self, session: Session, out: Outgoing, kit_id: str, now: datetime) -> None:
        snapshot = fleet_reads.newest_snapshot(session, kit_id=kit_id)
        if snapshot is None:
            return
        try:
            body = TelemetryBody.model_validate(snapshot.body)
        except ValidationError:
            _LOGGER.warning("stored telemetry of %s no longer validates", kit_id)
            return
        mine = Outgoing()
        try:
            with session.begin_nested():
                self.evaluate_kit(session, mine, kit_id, facts_from_telemetry(body), now)
        except Exception:  # one kit's trouble must not hold up the others
            _LOGGER.exception("cannot evaluate the rules of kit %s", kit_id)
        else:
            out.merge(mine)

    def evaluate_kit(
        self, session: Session, out: Outgoing, kit_id: str, facts: Facts, now: datetime
    ) -> None:
        """Run the rules over one kit's facts: open, throttle or resolve incidents."""
        stored = {
            r.rule_id: r
            for r in session.scalars(select(RuleStateRow).where(RuleStateRow.kit_id == kit_id))
        }
        states = {
            rule_id: RuleState(r.pending_since, r.active, r.last_fired, r.suppressed)
            for rule_id, r in stored.items()
        }
        new_states, actions = evaluate(self.rules.rules, states, facts, now)
        for rule_id, state in new_states.items():
            kept = stored.get(rule_id)
            if kept is None:
                if state == RuleState():
                    continue
                kept = RuleStateRow(kit_id=kit_id, rule_id=rule_id)
                session.add(kept)
            kept.pending_since, kept.active = state.pending_since, state.active
            kept.last_fired, kept.suppressed = state.last_fired, state.suppressed
        for action in actions:
            if isinstance(action, Fired | Throttled):
                if isinstance(action, Throttled) and not open_incident_for(
                    session, kit_id, action.rule.id
                ):
                    _LOGGER.info("%s on %s again within its throttle", action.rule.id, kit_id)
                    continue
                self._incidents.open(
                    session,
                    out,
                    kit_id=kit_id,
                    rule=action.rule,
                    now=now,
                    why=why(action.rule, facts),
                )
            elif isinstance(action, Cleared):
                gone = open_incident_for(session, kit_id, action.rule.id)
                if gone is not None:
                    self._incidents.resolve(session, gone, now=now, how=said("history.fault_gone"))
        # Incidents the kit reported first clear on the facts too (their rule never fired here).
        for row in session.scalars(
            select(Incident).where(Incident.kit_id == kit_id, Incident.resolved_at.is_(None))
        ):
            rule = self.by_id.get(row.rule_id)
            if rule is not None and rule is not PRELESSON_RULE and rule.is_clear(facts):
                self._incidents.resolve(session, row, now=now, how=said("history.fault_gone"))
