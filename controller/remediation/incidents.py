"""The ladder interpreter: incidents opened, moved on and closed over `policy.ladder`'s decisions.

`policy.ladder` decides (open, tick, result, refusal, force) as pure functions of an incident's
state, its rule, the playbook catalogue and the pupil's lessons; `Incidents` loads those inputs
from the database, carries the decided actions out (a table from action type to what it does)
and stores the new state, writing each step into the incident's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from common.i18n import catalogue
from controller.platform.localtime import DEFAULT_ZONE, clock
from controller.remediation import cursors
from controller.remediation.commands import Commands, not_run
from controller.remediation.history import Said, english, reason_of, said, with_text
from controller.remediation.kit_lessons import kit_lessons
from controller.remediation.outgoing import Outgoing
from controller.remediation.tables import Incident, IncidentEntry, RemediationCommand
from controller.remediation.tables import RuleState as RuleStateRow
from controller.tickets import service as tickets
from policy import ladder
from policy.ladder import IncidentState, Phase, Plan, PlaybookInfo
from policy.lessons import minutes_lost_once
from policy.rules import Rule, Step
from protocol.commands import RemediationResult

_LOGGER = logging.getLogger(__name__)

LADDER = "ladder"
"""The actor name of what the ladder does by itself (audit, tickets, commands)."""
DUE_PER_PASS = 200
"""Incidents whose deadline or window came that one pass moves on (the rest at the next)."""


@dataclass(frozen=True, slots=True)
class _At:
    """Where one decision is carried out: the transaction, its messages, the incident, now."""

    session: Session
    out: Outgoing
    row: Incident
    rule: Rule
    now: datetime
    zone: ZoneInfo

    def note(self, kind: str, message: str | Said, data: dict[str, Any]) -> None:
        note(self.session, self.row, at=self.now, kind=kind, message=message, data=data)


_Apply = Callable[[_At, Any], None]


def incident_state(row: Incident) -> IncidentState:
    """The pure state of a stored incident."""
    return IncidentState(
        rule_id=row.rule_id,
        opened_at=row.opened_at,
        step=row.step,
        phase=Phase(row.phase),
        step_started=row.step_started,
        deadline=row.deadline,
        not_before=row.not_before,
        resolved_at=row.resolved_at,
    )


def incident_rule(row: Incident) -> Rule:
    """The rule as it was when the incident opened (its ladder is stored with it)."""
    return Rule.model_validate(
        {
            "id": row.rule_id,
            "description": row.title,
            "severity": row.severity,
            "when": [{"fact": "stored", "op": "==", "value": True}],
            "costs_lessons": row.costs_lessons,
            "ladder": row.ladder,
        }
    )


def ladder_json(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """A rule's ladder as stored with an incident."""
    return [
        {
            "action": s.action.value,
            "playbook": s.playbook,
            "deadline": s.deadline.total_seconds(),
        }
        for s in steps
    ]


def note(
    session: Session,
    row: Incident,
    *,
    at: datetime,
    kind: str,
    message: str | Said,
    data: dict[str, Any] | None = None,
) -> None:
    """Add a line to the incident's history (a `Said` note: its English, its key in `data`)."""
    session.add(
        IncidentEntry(
            incident_id=row.id,
            at=at,
            step=row.step,
            kind=kind,
            message=english(message),
            data=with_text(data, message),
        )
    )


def open_incident_for(session: Session, kit_id: str, rule_id: str) -> Incident | None:
    """The open incident of this rule on this kit, if any."""
    return session.scalars(
        select(Incident).where(
            Incident.kit_id == kit_id,
            Incident.rule_id == rule_id,
            Incident.resolved_at.is_(None),
        )
    ).first()


def _ticket_detail(session: Session, row: Incident, zone: ZoneInfo) -> str:
    entries = session.scalars(
        select(IncidentEntry).where(IncidentEntry.incident_id == row.id).order_by(IncidentEntry.id)
    ).all()
    lines = [f"Incident #{row.id}: {row.title}"]
    lines += [f"- {clock(e.at, zone)}: {e.message}" for e in entries]
    return "\n".join(lines)


def _store(row: Incident, state: IncidentState, rule: Rule) -> None:
    row.step = state.step
    row.step_action = rule.ladder[state.step].action.value
    row.phase = state.phase.value
    row.step_started = state.step_started
    row.deadline = state.deadline
    row.not_before = state.not_before
    row.wake_at = ladder.next_wakeup(state, rule)
    if state.resolved_at is not None:
        row.resolved_at = state.resolved_at


class Incidents:
    """Opens, moves on and closes incidents; see the module docstring."""

    def __init__(
        self,
        *,
        catalogue: dict[str, PlaybookInfo],
        guard: timedelta,
        horizon: timedelta,
        commands: Commands,
        zone: ZoneInfo = DEFAULT_ZONE,
    ) -> None:
        self._catalogue = catalogue
        self._zone = zone
        self._guard = guard
        self._horizon = horizon
        self._commands = commands
        self._apply: dict[type, _Apply] = {
            ladder.Escalate: self._escalate,
            ladder.AwaitKit: self._await_kit,
            ladder.Defer: self._defer,
            ladder.RunLater: self._run_later,
            ladder.RunPlaybook: self._run_now,
            ladder.OpenTicket: self._open_ticket,
        }

    @property
    def zone(self) -> ZoneInfo:
        """The school's time zone, in which notes print their times."""
        return self._zone

    def plan(self, session: Session, row: Incident, now: datetime) -> Plan:
        """What the ladder needs to decide about one incident now."""
        lessons = kit_lessons(
            session, row.kit_id, now - timedelta(hours=12), now + self._horizon, now=now
        )
        return Plan(incident_rule(row), self._catalogue, lessons, self._guard)

    def open(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        rule: Rule,
        now: datetime,
        why: str | Said,
        first_step: int = 0,
    ) -> Incident:
        """Open an incident for a rule on a kit (or return the one still open) and act at once."""
        existing = open_incident_for(session, kit_id, rule.id)
        if existing is not None:
            return existing
        row = Incident(
            kit_id=kit_id,
            rule_id=rule.id,
            title=rule.description or rule.id,
            severity=rule.severity.value,
            costs_lessons=rule.costs_lessons,
            step=first_step,
            step_action=rule.ladder[first_step].action.value,
            phase=Phase.WAITING.value,
            step_started=now,
            deadline=now,
            opened_at=now,
            ladder=ladder_json(rule.ladder),
        )
        session.add(row)
        session.flush()
        note(session, row, at=now, kind="opened", message=why, data={"rule": rule.id})
        plan = self.plan(session, row, now)
        state, actions = ladder.open_incident(plan, now, first_step=first_step)
        self.carry_out(session, out, row, state, actions, plan, now)
        _LOGGER.info("incident %d on kit %s: %s", row.id, kit_id, english(why))
        return row

    def carry_out(  # noqa: PLR0917 - the transaction, the incident, and the decision
        self,
        session: Session,
        out: Outgoing,
        row: Incident,
        state: IncidentState,
        actions: Sequence[ladder.Action],
        plan: Plan,
        now: datetime,
    ) -> None:
        """Do what the ladder decided, then store the incident's new state."""
        at = _At(session, out, row, plan.rule, now, self._zone)
        for action in actions:
            self._apply[type(action)](at, action)
        _store(row, state, plan.rule)

    def move_due(self, session: Session, now: datetime, out: Outgoing) -> None:
        """Move on the incidents whose deadline or free window has come."""
        due = session.scalars(
            select(Incident)
            .where(Incident.resolved_at.is_(None), Incident.wake_at <= now)
            .order_by(Incident.wake_at)
            .limit(DUE_PER_PASS)
        ).all()
        if due:
            cursors.begin(session, "deadlines", now)
        for row in due:
            mine = Outgoing()
            try:
                with session.begin_nested():
                    plan = self.plan(session, row, now)
                    state, actions = ladder.tick(incident_state(row), plan, now)
                    self.carry_out(session, mine, row, state, actions, plan, now)
            except Exception:  # one broken incident must not stop the others
                _LOGGER.exception("cannot move incident %d on", row.id)
                continue
            out.merge(mine)

    def on_result(
        self,
        session: Session,
        out: Outgoing,
        command: RemediationCommand,
        result: RemediationResult,
        now: datetime,
    ) -> None:
        """A run of the ladder's has ended: write it down and take the next step."""
        if command.incident_id is None or command.step is None:
            return
        row = session.get(Incident, command.incident_id)
        if row is None or row.resolved_at is not None:
            return
        summary = (
            f"{result.playbook}: {result.status}"
            + (f", changed {', '.join(result.changed)}" if result.changed else "")
            + (f", failed {', '.join(result.failed)}" if result.failed else "")
            + (f" ({result.reason})" if result.reason else "")
        )
        note(
            session,
            row,
            at=now,
            kind="result",
            message=summary,
            data={"command_id": command.command_id, "ok": result.ok, "status": result.status},
        )
        plan = self.plan(session, row, now)
        if not result.ok and not_run(result):
            state, actions = ladder.on_refused(incident_state(row), plan, now, step=command.step)
        else:
            state, actions = ladder.on_result(
                incident_state(row), plan, now, step=command.step, ok=result.ok
            )
        self.carry_out(session, out, row, state, actions, plan, now)

    def on_self_heal(
        self, session: Session, out: Outgoing, row: Incident, *, ok: bool, now: datetime
    ) -> None:
        """The kit's own run on the self-heal step ended: the ladder takes it as that step's."""
        plan = self.plan(session, row, now)
        state, actions = ladder.on_result(incident_state(row), plan, now, step=row.step, ok=ok)
        self.carry_out(session, out, row, state, actions, plan, now)

    def force(
        self, session: Session, out: Outgoing, row: Incident, *, actor: str, now: datetime
    ) -> bool:
        """Run the incident's current remote playbook now, lesson or not; False if none."""
        plan = self.plan(session, row, now)
        state, actions = ladder.force(incident_state(row), plan)
        if not actions:
            return False
        note(session, row, at=now, kind="forced", message=said("history.forced", actor=actor))
        self.carry_out(session, out, row, state, actions, plan, now)
        return True

    def resolve(
        self,
        session: Session,
        row: Incident,
        *,
        now: datetime,
        how: str | Said,
        actor: str = LADDER,
    ) -> None:
        """The fault is gone: close the incident and count what it cost."""
        if row.resolved_at is not None:
            return
        row.resolved_at = now
        row.phase = Phase.RESOLVED.value
        row.wake_at = None
        row.resolution = english(how)[:500]
        row.lesson_minutes_lost = self.minutes_lost(session, row, now)
        if round(row.lesson_minutes_lost):
            lost = f"; {row.lesson_minutes_lost:.0f} lesson minutes lost"
            how = how.lost(row.lesson_minutes_lost) if isinstance(how, Said) else f"{how}{lost}"
        note(
            session,
            row,
            at=now,
            kind="resolved",
            message=how,
            data={"by": actor, "lesson_minutes_lost": row.lesson_minutes_lost},
        )
        for command in session.scalars(
            select(RemediationCommand).where(
                RemediationCommand.incident_id == row.id, RemediationCommand.state == "scheduled"
            )
        ):
            command.state = "cancelled"
        if actor != LADDER:  # closed by a person: if the fault is still there, it fires again
            kept = session.get(RuleStateRow, (row.kit_id, row.rule_id))
            if kept is not None:
                kept.active, kept.pending_since, kept.suppressed = False, None, False
        tickets.settle_incident(session, incident_id=row.id, actor=actor, now=now)

    @staticmethod
    def minutes_lost(session: Session, row: Incident, now: datetime) -> float:
        """The lesson minutes the incident has cost so far, to 0.1 (none if its fault costs none).

        A minute inside an earlier incident of the same kit (opened before this one, still open
        then) is that one's: over overlapping incidents each lost lesson minute counts once.
        """
        if not row.costs_lessons:
            return 0.0
        end = row.resolved_at or now
        earlier = session.scalars(
            select(Incident).where(
                Incident.kit_id == row.kit_id,
                Incident.id != row.id,
                Incident.costs_lessons.is_(True),
                or_(
                    Incident.opened_at < row.opened_at,
                    (Incident.opened_at == row.opened_at) & (Incident.id < row.id),
                ),
                or_(Incident.resolved_at.is_(None), Incident.resolved_at > row.opened_at),
            )
        ).all()
        covered = [(e.opened_at, e.resolved_at or now) for e in earlier]
        lessons = kit_lessons(session, row.kit_id, row.opened_at, end)
        return round(minutes_lost_once(row.opened_at, end, lessons, covered), 1)

    def count_losses(self, session: Session, now: datetime) -> None:
        """Bring the lesson minutes lost of every open incident up to now."""
        for row in session.scalars(
            select(Incident).where(Incident.resolved_at.is_(None), Incident.costs_lessons.is_(True))
        ):
            row.lesson_minutes_lost = self.minutes_lost(session, row, now)

    # --- what each of the ladder's actions does ----------------------------------------------

    @staticmethod
    def _escalate(at: _At, action: ladder.Escalate) -> None:
        at.note(
            "escalated",
            said(
                "history.escalated",
                from_step=action.from_step + 1,
                to_step=action.to_step + 1,
                reason=reason_of(action.reason),
            ),
            {"from": action.from_step, "to": action.to_step},
        )
        at.row.step = action.to_step

    @staticmethod
    def _await_kit(at: _At, action: ladder.AwaitKit) -> None:
        at.note(
            "self_heal",
            said("history.self_heal", playbook=action.playbook),
            {"playbook": action.playbook},
        )

    @staticmethod
    def _defer(at: _At, action: ladder.Defer) -> None:
        at.note(
            "deferred",
            said(
                "history.deferred",
                playbook=action.playbook,
                until=clock(action.until, at.zone),
                reason=reason_of(action.reason),
            ),
            {"playbook": action.playbook, "until": action.until.isoformat()},
        )

    def _queue(self, at: _At, playbook: str, step: int, **options: Any) -> RemediationCommand:
        """A run of the ladder's for this incident's step (`options`: forced, disruptive, ...)."""
        return self._commands.queue_run(
            at.session,
            at.out,
            kit_id=at.row.kit_id,
            playbook=playbook,
            requested_by=LADDER,
            now=at.now,
            incident=at.row,
            step=step,
            **options,
        )

    def _run_later(self, at: _At, action: ladder.RunLater) -> None:
        later = self._queue(at, action.playbook, action.step, not_before=action.until)
        at.note(
            "deferred",
            said("history.run_later", playbook=action.playbook, until=clock(action.until, at.zone)),
            {"playbook": action.playbook, "command_id": later.command_id},
        )

    def _run_now(self, at: _At, action: ladder.RunPlaybook) -> None:
        command = self._queue(
            at, action.playbook, action.step, forced=action.forced, disruptive=action.disruptive
        )
        at.note(
            "run_requested",
            said(
                "history.run_forced" if action.forced else "history.run_requested",
                playbook=action.playbook,
            ),
            {"playbook": action.playbook, "command_id": command.command_id},
        )

    @staticmethod
    def _open_ticket(at: _At, action: ladder.OpenTicket) -> None:
        rule, row = at.rule, at.row
        key, params = f"ticket.ladder.{action.kind}", {"kit_id": row.kit_id, "rule": rule.id}
        ticket = tickets.open_ticket(
            at.session,
            kind=action.kind,
            kit_id=row.kit_id,
            title=catalogue("tickets").text(key, "en", **params)[:200],
            detail=_ticket_detail(at.session, row, at.zone),
            priority=action.priority.value,
            lesson_due=action.due_by,
            incident_id=row.id,
            cause=tickets.of_rule(rule.id),
            title_key=key,
            title_params=params,
            actor=LADDER,
            now=at.now,
        )
        text = said(
            "history.ticket",
            kind=said(f"kind.{action.kind}"),
            ticket=ticket.id,
            priority=said(f"priority.{action.priority}"),
        )
        if ticket.due_by:
            text = said("history.ticket_due", **text.params, due=clock(ticket.due_by, at.zone))
        at.note(
            "ticket",
            text,
            {"ticket_id": ticket.id, "kind": action.kind},
        )
