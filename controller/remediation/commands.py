"""Playbook runs asked of kits: queued, sent (now or in the next free window), their results."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller.remediation.distribution import Distribution
from controller.remediation.errors import RunRequestError
from controller.remediation.kit_lessons import kit_lessons
from controller.remediation.outgoing import Outgoing
from controller.remediation.playbooks import Bundle, catalogue_of
from controller.remediation.tables import Incident, RemediationCommand
from policy.lessons import may_disrupt, next_free_start
from protocol.commands import CommandKind, RemediationResult, RunPlaybookArgs
from protocol.models import Command, new_msg_id
from protocol.playbook_vars import Value, VarsError, check_vars

COMMAND_LIFETIME = timedelta(hours=1)
"""A playbook command not delivered within this is dropped by the kit (it may be stale)."""
FINAL_COMMAND_STATES = frozenset({"succeeded", "failed", "expired", "cancelled"})
LOOK_AHEAD = timedelta(days=14)
"""How far ahead a scheduled run looks for its free window."""


def not_run(result: RemediationResult) -> bool:
    """Whether the kit declined to start the run (busy, or a lesson), rather than it failing."""
    return result.status == "busy" or result.reason.startswith("lesson:")


class Commands:
    """The queue of playbook runs: record, send, and take in what the kits answer."""

    def __init__(self, *, bundle: Bundle | None, distribution: Distribution, guard: timedelta):
        self._bundle = bundle
        self._distribution = distribution
        self._guard = guard

    def queue_run(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        playbook: str,
        requested_by: str,
        now: datetime,
        incident: Incident | None = None,
        step: int | None = None,
        forced: bool = False,
        check: bool = False,
        disruptive: bool | None = None,
        not_before: datetime | None = None,
        extra_vars: dict[str, Value] | None = None,
    ) -> RemediationCommand:
        """Record a playbook run and send it now (or leave it scheduled for `not_before`).

        Its variables must be declared by the playbook in the signed bundle, each within its
        declaration (RunRequestError, 422, says which and why): the kit would refuse them.
        """
        info = catalogue_of(self._bundle).get(playbook)
        if extra_vars:
            declared = self._bundle.variables.get(playbook, {}) if self._bundle else {}
            try:
                extra_vars = check_vars(declared, extra_vars)
            except VarsError as exc:
                raise RunRequestError.translated("error.vars", problem=str(exc)) from exc
        command = RemediationCommand(
            command_id=new_msg_id(),
            kit_id=kit_id,
            incident_id=incident.id if incident else None,
            step=step,
            playbook=playbook,
            disruptive=info.disruptive if info else bool(disruptive),
            check=check,
            forced=forced,
            requested_by=requested_by,
            requested_at=now,
            not_before=not_before,
            state="scheduled",
            extra_vars=extra_vars or None,
        )
        session.add(command)
        if not_before is None or not_before <= now:
            self.send_run(session, out, command, now)
        return command

    def send_run(
        self, session: Session, out: Outgoing, command: RemediationCommand, now: datetime
    ) -> None:
        """Send a recorded run to its kit (the bundle first, if the kit lacks it)."""
        self._distribution.ensure(session, out, command.kit_id, now)
        args = RunPlaybookArgs(
            playbook=command.playbook,
            check=command.check,
            forced=command.forced,
            incident_id=command.incident_id,
            min_bundle_version=self._bundle.version if self._bundle else None,
            extra_vars=command.extra_vars or {},
        )
        out.commands.append(
            (
                command.kit_id,
                Command(
                    kind=CommandKind.RUN_PLAYBOOK.value,
                    expires_at=now + COMMAND_LIFETIME,
                    args=args.model_dump(mode="json"),
                ),
                command.command_id,
            )
        )
        command.state = "sent"
        command.sent_at = now

    @staticmethod
    def record_result(
        session: Session, kit_id: str, result: RemediationResult, now: datetime
    ) -> RemediationCommand | None:
        """Store a run's result on its command; the command, unless the report is not news.

        None for a local run, a command of another controller (the kit's events show those) and a
        repeated report (a command delivered twice: the first answer stands).
        """
        command = session.get(RemediationCommand, result.command_id) if result.command_id else None
        if command is None or command.kit_id != kit_id:
            return None
        if command.state in FINAL_COMMAND_STATES:
            return None
        command.state = "succeeded" if result.ok else "not_run" if not_run(result) else "failed"
        command.finished_at = now
        command.result = result.model_dump(mode="json")
        return command

    def send_due(self, session: Session, now: datetime, out: Outgoing) -> None:
        """Send the runs waiting for a free window whose time came, if it is still free."""
        catalogue = catalogue_of(self._bundle)
        for command in session.scalars(
            select(RemediationCommand).where(
                RemediationCommand.state == "scheduled",
                RemediationCommand.not_before <= now,
            )
        ):
            if command.disruptive and not command.forced:
                info = catalogue.get(command.playbook)
                timeout = info.timeout if info else timedelta(hours=1)
                lessons = kit_lessons(session, command.kit_id, now, now + LOOK_AHEAD, now=now)
                if not may_disrupt(now, timeout, lessons, self._guard):
                    command.not_before = next_free_start(now, timeout, lessons, self._guard)
                    continue
            self.send_run(session, out, command, now)

    @staticmethod
    def expire_stale(session: Session, now: datetime) -> None:
        """Runs sent long ago with no answer: the kit has dropped them, they will not come."""
        session.execute(
            update(RemediationCommand)
            .where(
                RemediationCommand.state == "sent",
                RemediationCommand.sent_at < now - COMMAND_LIFETIME - timedelta(hours=1),
            )
            .values(state="expired")
        )
