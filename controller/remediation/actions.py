"""What technicians do to the ladder: run a playbook, force a step, close an incident, ask for
diagnostics.

The service decides, audits and commits; what it sends to the kits goes out only once committed.
It knows nothing of HTTP: the API and the command line call the same functions, so both are
audited alike, and a refusal is a `RemediationError` carrying its HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from controller.platform import audit
from controller.platform.localtime import DEFAULT_ZONE, clock
from controller.remediation import diagnostics
from controller.remediation.commands import LOOK_AHEAD, Commands
from controller.remediation.errors import (
    LessonConflictError,
    RemediationConflictError,
    RemediationNotFoundError,
    RunRequestError,
)
from controller.remediation.history import said
from controller.remediation.incidents import Incidents
from controller.remediation.kit_lessons import kit_lessons
from controller.remediation.outgoing import Outgoing, Sender
from controller.remediation.playbooks import Bundle, catalogue_of
from controller.remediation.queries import known_incident, known_kit
from controller.remediation.schemas import (
    CommandOut,
    DiagnosticsOut,
    IncidentOut,
    KitBundleOut,
    PlaybookOut,
    PlaybooksOut,
    RunIn,
)
from controller.remediation.tables import KitBundle, RemediationCommand
from policy.lessons import current, may_disrupt, next_free_start
from policy.rules import Rule, RuleSet

LOOK_BACK = timedelta(hours=12)
"""How far back a technician's run looks for a lesson still running."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


class RemediationActions:
    """The technicians' actions on a running remediator; see the module docstring."""

    def __init__(
        self,
        *,
        bundle: Bundle | None,
        rules: RuleSet,
        incidents: Incidents,
        commands: Commands,
        sender: Sender,
        poke: Callable[[], None],
        guard: timedelta,
        zone: ZoneInfo = DEFAULT_ZONE,
    ) -> None:
        self._bundle = bundle
        self._zone = zone
        self._rules = rules
        self._incidents = incidents
        self._commands = commands
        self._sender = sender
        self._poke = poke
        self._guard = guard

    # --- what the remediator knows ----------------------------------------------------------

    def playbooks(self) -> PlaybooksOut:
        """The signed bundle's version and its playbooks (disruptive or not, timeout)."""
        bundle = self._bundle
        return PlaybooksOut(
            bundle_version=bundle.version if bundle else None,
            playbooks=[
                PlaybookOut(
                    id=name,
                    disruptive=info.disruptive,
                    timeout_s=int(info.timeout.total_seconds()),
                    description=bundle.descriptions.get(name, "") if bundle else "",
                    vars=bundle.variables.get(name, {}) if bundle else {},
                )
                for name, info in sorted(catalogue_of(bundle).items())
            ],
        )

    def rules(self) -> list[Rule]:
        """The fault rules the controller and the kits evaluate."""
        return list(self._rules.rules)

    def kit_bundle(self, session: Session, *, kit_id: str) -> KitBundleOut:
        """Which signed playbook bundle the kit accepted (or why it refused one)."""
        known_kit(session, kit_id)
        row = session.get(KitBundle, kit_id)
        return KitBundleOut(
            current=self._bundle.version if self._bundle else None,
            accepted=row.accepted if row else None,
            sent=row.sent if row else None,
            refused_reason=row.refused_reason if row else None,
        )

    # --- what technicians do ----------------------------------------------------------------

    def run_playbook(
        self,
        session: Session,
        *,
        kit_id: str,
        playbook: str,
        request: RunIn,
        actor: str,
        now: datetime | None = None,
    ) -> CommandOut:
        """Run a playbook on a kit now or in the next free window (audited).

        A disruptive playbook asked for `now` while a lesson runs or is about to start is refused
        (LessonConflictError, with the next free window) unless it is forced.
        """
        now = _now(now)
        known_kit(session, kit_id)
        if request.force and request.when == "next_window":
            raise RunRequestError.translated("error.force_in_window")
        out = Outgoing()
        command = self._technician_run(
            session, out, kit_id=kit_id, playbook=playbook, request=request, actor=actor, now=now
        )
        audit.record(
            session,
            actor=actor,
            action="playbook.run",
            entity="kit",
            entity_id=kit_id,
            now=now,
            after={
                "playbook": playbook,
                "command_id": command.command_id,
                "when": request.when,
                "check": request.check,
                "forced": request.force,
                "vars": dict(request.vars),
            },
        )
        session.commit()
        self._sender.send(out)
        self._poke()
        return CommandOut.model_validate(command)

    def _technician_run(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        playbook: str,
        request: RunIn,
        actor: str,
        now: datetime,
    ) -> RemediationCommand:
        info = catalogue_of(self._bundle).get(playbook)
        if info is None:
            raise RemediationNotFoundError.translated("error.no_playbook", playbook=playbook)
        lessons = kit_lessons(session, kit_id, now - LOOK_BACK, now + LOOK_AHEAD, now=now)
        free = may_disrupt(now, info.timeout, lessons, self._guard)
        not_before: datetime | None = None
        if info.disruptive and not free and not request.force and not request.check:
            window = next_free_start(now, info.timeout, lessons, self._guard)
            if request.when == "now":
                running = current(now, lessons)
                raise LessonConflictError(
                    window,
                    "error.lesson_running" if running else "error.lesson_soon",
                    playbook=playbook,
                    window=clock(window, self._zone),
                )
            not_before = window
        return self._commands.queue_run(
            session,
            out,
            kit_id=kit_id,
            playbook=playbook,
            requested_by=actor,
            now=now,
            forced=request.force,
            check=request.check,
            not_before=not_before,
            extra_vars=request.vars,
        )

    def force(
        self, session: Session, *, incident_id: int, actor: str, now: datetime | None = None
    ) -> IncidentOut:
        """Run the incident's current remote playbook now, even during a lesson (audited)."""
        now = _now(now)
        row = known_incident(session, incident_id)
        out = Outgoing()
        if not self._incidents.force(session, out, row, actor=actor, now=now):
            raise RemediationConflictError.translated(
                "error.not_remote",
                incident=incident_id,
                phase=row.phase,
                step=row.step + 1,
                action=row.step_action,
            )
        _audit_and_commit(
            session,
            incident_id,
            actor=actor,
            action="incident.force",
            now=now,
            after={"step": row.step},
        )
        self._sender.send(out)
        return IncidentOut.model_validate(row)

    def resolve(
        self,
        session: Session,
        *,
        incident_id: int,
        note: str,
        actor: str,
        now: datetime | None = None,
    ) -> IncidentOut:
        """Close an incident by hand (the technician fixed it), with a note (audited)."""
        now = _now(now)
        row = known_incident(session, incident_id)
        if row.resolved_at is not None:
            raise RemediationConflictError.translated(
                "error.already_resolved", incident=incident_id
            )
        self._incidents.resolve(
            session,
            row,
            now=now,
            how=said("history.resolved_by", actor=actor, note=note),
            actor=actor,
        )
        _audit_and_commit(
            session,
            incident_id,
            actor=actor,
            action="incident.resolve",
            now=now,
            after={"note": note},
        )
        return IncidentOut.model_validate(row)

    def ask_diagnostics(
        self,
        session: Session,
        *,
        kit_id: str,
        log_lines: int,
        actor: str,
        now: datetime | None = None,
    ) -> DiagnosticsOut:
        """Ask the kit for its logs and a snapshot (audited); the upload arrives later."""
        now = _now(now)
        known_kit(session, kit_id)
        out = Outgoing()
        row = diagnostics.ask(
            session, out, kit_id=kit_id, requested_by=actor, now=now, log_lines=log_lines
        )
        audit.record(
            session,
            actor=actor,
            action="diagnostics.request",
            entity="kit",
            entity_id=kit_id,
            now=now,
            after={"diagnostics_id": row.id},
        )
        session.commit()
        self._sender.send(out)
        return DiagnosticsOut.model_validate(row)


def _audit_and_commit(
    session: Session,
    incident_id: int,
    *,
    actor: str,
    action: str,
    now: datetime,
    after: dict[str, Any],
) -> None:
    """Record a technician's action on an incident and commit, or refuse when the ladder moved
    the incident meanwhile (nothing is sent then)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="incident",
        entity_id=str(incident_id),
        now=now,
        after=after,
    )
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise RemediationConflictError.translated("error.changed", incident=incident_id) from None
