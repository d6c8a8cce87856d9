"""What the kits report that the ladder acts on: a table from event kind to its handler.

Events are read from the events table by id (`cursors`), so none is missed across a crash; each
is handled in its own savepoint, and one that cannot be handled is logged and passed over, never
retried forever. What a handler decides to send goes out only if its changes stay.

A kit is not trusted to be reasonable (`quotas`): what it may ask that makes rows has a daily
quota per kind (help requests, self-heal reports, failed readiness checks), a kit has one help
ticket open at a time (further requests are counted on it), a diagnostics upload is taken only
against the controller's request, and the result of a command the controller never sent to that
kit is refused. Refusals change nothing but a counter and are logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.i18n import catalogue
from controller.platform.localtime import clock
from controller.remediation import cursors, diagnostics, fleet_reads, quotas
from controller.remediation.commands import Commands
from controller.remediation.distribution import Distribution
from controller.remediation.evaluation import PRELESSON_RULE
from controller.remediation.fleet_reads import Event
from controller.remediation.history import said
from controller.remediation.incidents import (
    LADDER,
    Incidents,
    incident_rule,
    note,
    open_incident_for,
)
from controller.remediation.kit_lessons import kit_lessons
from controller.remediation.outgoing import Outgoing
from controller.remediation.quotas import Refusals
from controller.remediation.schedule_publisher import SchedulePublisher
from controller.remediation.tables import Incident, RemediationCommand
from controller.tickets import queries as ticket_queries
from controller.tickets import service as tickets
from controller.tickets.machine import TicketKind
from policy import ladder
from policy.rules import Rule, StepAction
from protocol.commands import CommandKind, EventKind, PrelessonCheck, RemediationResult
from protocol.models import Severity

_LOGGER = logging.getLogger(__name__)

EVENTS_PER_PASS = 500
MAX_REPORTED_INT = 2**31 - 1
"""The largest number a kit may report for a bundle version."""
RECENTLY_RESOLVED = timedelta(minutes=15)
"""A self-heal report this soon after its incident closed is added to that incident."""
HELP_LOOK_AHEAD = timedelta(days=7)
"""The lessons a help request's priority and due time are weighed against."""

Handler = Callable[[Session, Outgoing, Event, datetime], None]


def _data(event: Event) -> dict[str, Any]:
    data = event.body.get("data") if isinstance(event.body, dict) else None
    return data if isinstance(data, dict) else {}


class EventHandlers:
    """Acts on the kits' events; see the module docstring."""

    def __init__(
        self,
        *,
        incidents: Incidents,
        commands: Commands,
        distribution: Distribution,
        rules_by_id: dict[str, Rule],
        schedules: SchedulePublisher,
        refusals: Refusals | None = None,
    ) -> None:
        self._incidents = incidents
        self.refusals = refusals or Refusals()
        """Counts (and logs once) what the kits were refused."""
        self._commands = commands
        self._distribution = distribution
        self._rules_by_id = rules_by_id
        self._schedules = schedules
        self._handlers: dict[str, Handler] = {
            EventKind.REMEDIATION_RESULT: self._on_result,
            EventKind.SELF_HEAL: self._on_self_heal,
            EventKind.PRELESSON_CHECK: self._on_prelesson,
            EventKind.DIAGNOSTICS: self._on_diagnostics,
            EventKind.HELP_REQUEST: self._on_help,
            EventKind.BUNDLE_INSTALLED: self._on_bundle_installed,
            EventKind.BUNDLE_REFUSED: self._on_bundle_refused,
            "command_result": self._on_command_result,
            "kit_online": self._on_online,
        }

    def act_on_new(self, session: Session, now: datetime, out: Outgoing) -> None:
        """Handle the events that arrived since the last pass, oldest first."""
        cursor = cursors.cursor(session, "events")
        rows = fleet_reads.events_after(
            session,
            after_id=cursor.value,
            kinds=[str(k) for k in self._handlers],
            limit=EVENTS_PER_PASS,
        )
        if rows:
            cursors.begin(session, "events", now)
        for event in rows:
            mine = Outgoing()  # sent only if this event's changes stay
            try:
                with session.begin_nested():
                    self._handlers[event.kind](session, mine, event, now)
            except Exception:  # one bad event is logged and passed over, never retried forever
                _LOGGER.exception(
                    "cannot act on %s #%d from %s", event.kind, event.id, event.kit_id
                )
            else:
                out.merge(mine)
            cursor.value = event.id

    # --- playbook runs -----------------------------------------------------------------------

    def _sent_to(
        self, session: Session, event: Event, command_id: Any, now: datetime
    ) -> RemediationCommand | None:
        """The run this result answers, if the controller sent it to that kit; else refused."""
        command = (
            session.get(RemediationCommand, command_id[:64])
            if isinstance(command_id, str) and command_id
            else None
        )
        if command is None or command.kit_id != event.kit_id or command.sent_at is None:
            self.refusals.refuse(
                event.kit_id, event.kind, "command_not_sent", now, "no such run sent to this kit"
            )
            return None
        return command

    def _on_result(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        result = RemediationResult.model_validate(_data(event))
        if result.command_id is None:
            return  # a run of the kit's own (its self-heal reports say more)
        if self._sent_to(session, event, result.command_id, now) is not None:
            self._apply_result(session, out, event.kit_id, result, now)

    def _on_command_result(
        self, session: Session, out: Outgoing, event: Event, now: datetime
    ) -> None:
        data = _data(event)
        command_id = data.get("command_id")
        if data.get("command") == CommandKind.COLLECT_DIAGNOSTICS.value:
            why = str(event.body.get("message") or "the kit could not collect them")
            if not data.get("ok") and not diagnostics.failed(
                session, event.kit_id, str(command_id or "")[:64], why, now
            ):
                self.refusals.refuse(event.kit_id, event.kind, "command_not_sent", now)
            return
        if data.get("command") not in (None, CommandKind.RUN_PLAYBOOK.value):
            return  # an answer to a command of another part (a bundle, a certificate)
        command = self._sent_to(session, event, command_id, now)
        if command is None or data.get("ok") or command.state not in ("sent", "scheduled"):
            return
        # Refused before it ran (bad arguments, unknown command): the step failed.
        refused = RemediationResult(
            command_id=command.command_id,
            incident_id=command.incident_id,
            playbook=command.playbook,
            ok=False,
            status="refused",
            reason=str(event.body.get("message", ""))[:500],
        )
        self._apply_result(session, out, event.kit_id, refused, now)

    def _apply_result(
        self, session: Session, out: Outgoing, kit_id: str, result: RemediationResult, now: datetime
    ) -> None:
        command = self._commands.record_result(session, kit_id, result, now)
        if command is not None:
            self._incidents.on_result(session, out, command, result, now)

    def _within_quota(
        self, session: Session, event: Event, now: datetime, kind: str | None = None
    ) -> bool:
        """Whether the kit may still do this (`kind`, else the event's) today; else counted."""
        kind = kind or event.kind
        if quotas.take(session, event.kit_id, kind, now):
            return True
        limit = quotas.DAILY_LIMITS[kind]
        self.refusals.refuse(event.kit_id, kind, "daily_quota", now, f"over {limit} today")
        return False

    def _on_self_heal(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        data = _data(event)
        rule = self._rules_by_id.get(str(data.get("rule_id", "")))
        if rule is None or not self._within_quota(session, event, now):
            return
        result = RemediationResult.model_validate(data.get("result") or {})
        # The snapshot that shows the fault gone may arrive before the report of the run that
        # fixed it: the report then belongs to the incident just closed.
        row = (
            open_incident_for(session, event.kit_id, rule.id)
            or session.scalars(
                select(Incident)
                .where(
                    Incident.kit_id == event.kit_id,
                    Incident.rule_id == rule.id,
                    Incident.resolved_at >= now - RECENTLY_RESOLVED,
                )
                .order_by(Incident.id.desc())
            ).first()
        )
        if row is None:
            if not self._within_quota(session, event, now, quotas.INCIDENT_OPENED):
                return
            row = self._incidents.open(
                session,
                out,
                kit_id=event.kit_id,
                rule=rule,
                now=now,
                why=said("history.kit_noticed", rule=rule.description or rule.id),
            )
        note(
            session,
            row,
            at=now,
            kind="result",
            message=f"the kit healed itself: {result.playbook}: {result.status}"
            + (f" ({result.reason})" if result.reason else ""),
            data={"ok": result.ok, "status": result.status, "local": True},
        )
        if row.resolved_at is not None:
            return
        if incident_rule(row).ladder[row.step].action is StepAction.SELF_HEAL:
            self._incidents.on_self_heal(session, out, row, ok=result.ok, now=now)

    # --- the kit's own word ------------------------------------------------------------------

    def _on_prelesson(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        check = PrelessonCheck.model_validate(_data(event))
        if not check.ok and not self._within_quota(session, event, now):
            return
        row = open_incident_for(session, event.kit_id, PRELESSON_RULE.id)
        if check.ok:
            if row is not None:
                self._incidents.resolve(session, row, now=now, how=said("history.check_passed"))
            return
        failures = ", ".join(check.failures) or "not ready"  # the check's own words
        if row is None:
            if not self._within_quota(session, event, now, quotas.INCIDENT_OPENED):
                return
            self._incidents.open(
                session,
                out,
                kit_id=event.kit_id,
                rule=PRELESSON_RULE,
                now=now,
                why=said(
                    "history.not_ready",
                    start=clock(check.lesson_start, self._incidents.zone),
                    failures=failures,
                ),
            )
        else:
            note(
                session,
                row,
                at=now,
                kind="prelesson",
                message=said("history.still_not_ready", failures=failures),
            )

    def _on_diagnostics(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        diagnostics.store_upload(session, event.kit_id, _data(event), now, self.refusals)

    def _on_help(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        """One open help ticket per kit: a request while it is open is counted on it.

        A help ticket opened by hand at the same moment (the unique index refuses the second one
        of the kit's cause `help`) is joined on a second look, not lost.
        """
        if not self._within_quota(session, event, now):
            return
        lessons = kit_lessons(session, event.kit_id, now, now + HELP_LOOK_AHEAD)
        message = str(event.body.get("message") or "help requested from the kit")
        priority = ladder.priority(now, lessons, Severity.WARNING).value
        due_by = ladder.due_by(now, lessons)
        kind = TicketKind.HELP_REQUEST
        open_one = ticket_queries.unsettled_for_kit(session, kit_id=event.kit_id, kind=kind)
        if open_one is None:
            params = {"kit_id": event.kit_id}
            try:
                with session.begin_nested():
                    tickets.open_ticket(
                        session,
                        kind=kind,
                        kit_id=event.kit_id,
                        title=catalogue("tickets").text("ticket.help", "en", **params),
                        detail=message,
                        priority=priority,
                        lesson_due=due_by,
                        title_key="ticket.help",
                        title_params=params,
                        actor=LADDER,
                        now=now,
                    )
            except IntegrityError:  # opened by someone else meanwhile: join theirs
                open_one = ticket_queries.unsettled_for_kit(session, kit_id=event.kit_id, kind=kind)
                if open_one is None:
                    raise
            else:
                return
        tickets.repeat(
            session,
            open_one,
            note=message,
            priority=priority,
            due_by=due_by,
            actor=LADDER,
            now=now,
        )

    # --- the playbook bundle -----------------------------------------------------------------

    def _on_bundle_installed(
        self, session: Session, out: Outgoing, event: Event, now: datetime
    ) -> None:
        version = int(_data(event)["version"])
        if not 0 <= version <= MAX_REPORTED_INT:
            raise ValueError(f"bundle version {version} out of range")
        self._distribution.installed(session, event.kit_id, version)

    def _on_bundle_refused(
        self, session: Session, out: Outgoing, event: Event, now: datetime
    ) -> None:
        reason = str(_data(event).get("reason") or event.body.get("message"))
        self._distribution.refused(session, event.kit_id, reason)

    def _on_online(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        body = event.body if isinstance(event.body, dict) else {}
        if "bundle_version" not in body:
            return  # back by a heartbeat, not an agent's own word: nothing to hand over
        reported = body["bundle_version"]
        valid = isinstance(reported, int) and 0 <= reported <= MAX_REPORTED_INT
        self._distribution.back_online(session, out, event.kit_id, reported if valid else None, now)
        self._schedules.queue([event.kit_id])
