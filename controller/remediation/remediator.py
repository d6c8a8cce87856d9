"""The escalation ladder in the controller: rules over telemetry, incidents, commands, tickets.

One `Remediator` per controller runs passes every `remediation_interval` seconds (DESIGN.md, the
ladder). Each pass is its own transaction; MQTT messages go out only after it commits:

1. new events (read from the events table by id, so none is missed across a crash): playbook
   results, the kits' own self-heal reports, pre-lesson checks, help requests, diagnostics,
   bundle acceptance, kits coming online;
2. kits with new telemetry: the rules are evaluated on the latest snapshot (`policy.rules`),
   firing opens an incident, clearing resolves it;
3. incidents whose deadline or free window has come (`policy.ladder.tick`);
4. playbook runs a technician asked for in the next free window, once it comes;
5. every minute: tickets past their due time, lesson minutes lost, the kits' schedules.

The decisions are the pure functions of `policy.ladder`; this module only loads their inputs
(the pupil's lessons, the rule, the playbook catalogue) and carries out their actions.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.fleet.tables import Event, Kit, Telemetry
from controller.remediation.tables import (
    Diagnostics,
    Incident,
    IncidentEntry,
    KitBundle,
    RemediationCommand,
    RemediationCursor,
)
from controller.remediation.tables import RuleState as RuleStateRow
from controller.tickets import service as tickets
from policy import ladder
from policy.ladder import IncidentState, Phase, Plan, PlaybookInfo
from policy.lessons import Lesson, current, may_disrupt, minutes_lost, next_free_start
from policy.rules import (
    Cleared,
    Condition,
    Fired,
    Rule,
    RuleSet,
    RuleState,
    Step,
    StepAction,
    Throttled,
    evaluate,
    facts_from_telemetry,
    load_rules,
)
from protocol.commands import (
    CollectDiagnosticsArgs,
    CommandKind,
    EventKind,
    PrelessonCheck,
    RemediationResult,
    RunPlaybookArgs,
)
from protocol.models import Command, Schedule, Severity, new_msg_id
from protocol.models import Telemetry as TelemetryBody

_LOGGER = logging.getLogger(__name__)

LADDER = "ladder"
"""The actor name of what the ladder does by itself (audit, tickets, commands)."""
COMMAND_LIFETIME = timedelta(hours=1)
"""A playbook command not delivered within this is dropped by the kit (it may be stale)."""
BUNDLE_RESEND = timedelta(minutes=10)
SLOW_PASS = timedelta(minutes=1)
FINAL_COMMAND_STATES = frozenset({"succeeded", "failed", "expired", "cancelled"})
MAX_REPORTED_INT = 2**31 - 1
RULES_MIN_INTERVAL = timedelta(seconds=10)
"""A kit's rules are evaluated at most this often (a rule's `for` is longer anyway)."""
UNKNOWN_SCHEDULE = timedelta(hours=1)
"""How long a kit whose schedule cannot be read is treated as in a lesson."""
KITS_PER_PASS = 200
"""Kits whose new snapshots one pass evaluates (the rest wait for the next pass)."""
RECENTLY_RESOLVED = timedelta(minutes=15)
"""A self-heal report this soon after its incident closed is added to that incident."""
PAST_LESSONS = timedelta(days=8)
"""How far back lessons are loaded, to count the minutes an open incident has cost."""

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

EVENT_KINDS = (
    EventKind.REMEDIATION_RESULT,
    EventKind.SELF_HEAL,
    EventKind.PRELESSON_CHECK,
    EventKind.DIAGNOSTICS,
    EventKind.HELP_REQUEST,
    EventKind.BUNDLE_INSTALLED,
    EventKind.BUNDLE_REFUSED,
    "command_result",
    "kit_online",
)

Send = Callable[[str, Command, str], None]
"""(kit_id, command, msg_id): publish a command to a kit."""
Publish = Callable[[str, Schedule], None]
"""(kit_id, schedule): publish a kit's retained schedule."""


@dataclass
class Bundle:
    """The signed playbook bundle kits are given, as the remediator needs it."""

    version: int
    catalogue: dict[str, PlaybookInfo]
    descriptions: dict[str, str] = field(default_factory=dict)
    install_args: dict[str, Any] | None = None
    """The install_bundle command's args (None when bundles cannot be signed here)."""


@dataclass
class Outgoing:
    """Messages to send once the transaction that decided them has committed."""

    commands: list[tuple[str, Command, str]] = field(default_factory=list)
    schedules: list[tuple[str, Schedule]] = field(default_factory=list)

    def merge(self, other: Outgoing) -> None:
        """Take on what another (committed) piece of work decided."""
        self.commands += other.commands
        self.schedules += other.schedules


def default_rules_path(settings: ControllerSettings) -> Path:
    """rules.yaml of the playbooks directory, unless configured."""
    from controller.remediation import bundles  # noqa: PLC0415

    if settings.rules_path is not None:
        return settings.rules_path
    return bundles.default_rules_path(bundles.playbooks_dir(settings))


def load_bundle(settings: ControllerSettings, now: datetime) -> Bundle:
    """Build (or reuse) the signed bundle of the playbooks and rules the controller uses.

    Without the signing key (a controller run with --plain and no PKI) the catalogue is still
    read from the playbooks, but no bundle can be sent: kits then run nothing remotely.
    """
    from controller.remediation import bundles  # noqa: PLC0415
    from controller.trust import pki  # noqa: PLC0415
    from protocol.bundle import read_metadata  # noqa: PLC0415

    playbooks = bundles.playbooks_dir(settings)
    paths = pki.PkiPaths(settings.pki_dir)
    key_path = paths.bundle_key
    if paths.exists() and not key_path.exists():  # a device CA made before bundles existed
        bundles.ensure_signing_key(key_path)
    if key_path.exists():
        store = bundles.BundleStore(bundles.bundle_dir(settings))
        signed = store.build(
            playbooks, default_rules_path(settings), bundles.load_signing_key(key_path), now
        )
        entries = signed.manifest.playbooks
        return Bundle(
            version=signed.version,
            catalogue={
                name: PlaybookInfo(e.disruptive, timedelta(seconds=e.timeout))
                for name, e in entries.items()
            },
            descriptions={name: e.description for name, e in entries.items()},
            install_args=bundles.install_command_args(signed).model_dump(),
        )
    _LOGGER.warning("no bundle signing key at %s: kits will not get playbooks", key_path)
    metas = [read_metadata(path.read_bytes()) for path in sorted(playbooks.glob("*.yml"))]
    return Bundle(
        version=0,
        catalogue={m.id: PlaybookInfo(m.disruptive, timedelta(seconds=m.timeout)) for m in metas},
        descriptions={m.id: m.description for m in metas},
    )


def _kit_bundle(session: Session, kit_id: str) -> KitBundle:
    """The kit's row of what the remediator knows of it, made on first use."""
    row = session.get(KitBundle, kit_id)
    if row is None:
        row = KitBundle(kit_id=kit_id)
        session.add(row)
    return row


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


def _ladder_json(steps: Sequence[Step]) -> list[dict[str, Any]]:
    return [
        {
            "action": s.action.value,
            "playbook": s.playbook,
            "deadline": s.deadline.total_seconds(),
        }
        for s in steps
    ]


def _history(
    session: Session,
    row: Incident,
    *,
    at: datetime,
    kind: str,
    message: str,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        IncidentEntry(
            incident_id=row.id, at=at, step=row.step, kind=kind, message=message, data=data or {}
        )
    )


class Remediator:
    """Rules → incidents → the ladder's actions, for every kit; see the module docstring."""

    def __init__(
        self,
        *,
        settings: ControllerSettings,
        sessions: sessionmaker[Session],
        send: Send,
        publish_schedule: Publish,
        bundle: Bundle | None,
        rules: RuleSet | None = None,
        flooded: Callable[[], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._send = send
        self._publish_schedule = publish_schedule
        self.bundle = bundle
        self.rules = (
            rules if rules is not None else load_rules(default_rules_path(settings).read_bytes())
        )
        self._rules_by_id = {r.id: r for r in self.rules.rules} | {
            PRELESSON_RULE.id: PRELESSON_RULE
        }
        self._guard = timedelta(minutes=settings.guard_minutes)
        self._flooded = flooded or (lambda: False)
        self._handlers: dict[str, Callable[[Session, Outgoing, Event, datetime], None]] = {
            EventKind.REMEDIATION_RESULT: self._on_result,
            EventKind.SELF_HEAL: self._on_self_heal,
            EventKind.PRELESSON_CHECK: self._on_prelesson,
            EventKind.DIAGNOSTICS: self._on_diagnostics,
            EventKind.HELP_REQUEST: self._on_help,
            EventKind.BUNDLE_INSTALLED: self._on_bundle,
            EventKind.BUNDLE_REFUSED: self._on_bundle,
            "command_result": self._on_command_result,
            "kit_online": self._on_online,
        }
        self._slow_at: datetime | None = None
        self._schedule_requests: set[str] = set()
        self._all_schedules = True
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def catalogue(self) -> dict[str, PlaybookInfo]:
        """The playbooks the kits have (from the bundle manifest)."""
        return self.bundle.catalogue if self.bundle else {}

    # --- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run passes in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._loop, name="remediator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current pass and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poke(self) -> None:
        """Run a pass now (a technician asked for something)."""
        self._wake.set()

    def request_schedules(self, kit_ids: Iterable[str]) -> None:
        """Publish these kits' schedules at the next pass (a schedule changed)."""
        with self._lock:
            self._schedule_requests.update(kit_ids)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_once(datetime.now(UTC))
            except Exception:  # one bad pass must not stop the ladder
                _LOGGER.exception("remediation pass failed")
            elapsed = time.monotonic() - started
            self._wake.wait(max(0.0, self._settings.remediation_interval - elapsed))
            self._wake.clear()

    def run_once(self, now: datetime) -> None:
        """One pass over everything that may have changed; messages go out after each commit."""
        for step in (self._pass_events, self._pass_telemetry, self._pass_due, self._pass_asked):
            out = Outgoing()
            try:
                with self._sessions.begin() as session:
                    step(session, now, out)
            except SQLAlchemyError:
                _LOGGER.exception("remediation: %s failed", step.__name__)
                continue
            self.send(out)
        slow = self._slow_at is None or now - self._slow_at >= SLOW_PASS
        with self._lock:
            requested, self._schedule_requests = self._schedule_requests, set()
            everything, self._all_schedules = self._all_schedules or slow, False
        if slow:
            self._slow_at = now
            self._pass_slow(now)
        if requested or everything:
            # Kits that asked (a changed schedule, a kit back online) get theirs in any case.
            self._pass_schedules(now, None if everything else requested, forced=requested)

    def send(self, out: Outgoing) -> None:
        """Publish what a committed transaction decided."""
        for kit_id, command, msg_id in out.commands:
            try:
                self._send(kit_id, command, msg_id)
            except Exception:
                _LOGGER.exception("cannot send %s to %s", command.kind, kit_id)
        for kit_id, schedule in out.schedules:
            try:
                self._publish_schedule(kit_id, schedule)
            except Exception:
                _LOGGER.exception("cannot publish the schedule of %s", kit_id)

    # --- inputs ------------------------------------------------------------------------------

    def lessons(
        self,
        session: Session,
        kit_id: str,
        start: datetime,
        end: datetime,
        *,
        now: datetime | None = None,
    ) -> list[Lesson]:
        """The lessons of the pupil the kit is lent to, in [start, end).

        A schedule that cannot be read is not "no lessons": given `now`, the next hour counts
        as a lesson, so nothing disruptive starts on a guess (counting minutes lost, it is none).
        """
        from controller.schedules import service as schedules  # noqa: PLC0415

        try:
            pupil_ref = schedules.pupil_for_kit(session, kit_id)
            if pupil_ref is None:
                return []
            return schedules.lessons_for_pupil(session, pupil_ref, start, end)
        except Exception:
            _LOGGER.exception("cannot read the lessons of kit %s", kit_id)
            if now is None:
                return []
            return [Lesson(now, now + UNKNOWN_SCHEDULE, subject="unknown: schedule unreadable")]

    def plan(self, session: Session, row: Incident, now: datetime) -> Plan:
        """What the ladder needs to decide about one incident now."""
        lessons = self.lessons(
            session,
            row.kit_id,
            now - timedelta(hours=12),
            now + timedelta(days=self._settings.schedule_horizon_days),
            now=now,
        )
        return Plan(incident_rule(row), self.catalogue, lessons, self._guard)

    # --- incidents ---------------------------------------------------------------------------

    def open_incident(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        rule: Rule,
        now: datetime,
        why: str,
        first_step: int = 0,
    ) -> Incident:
        """Open an incident for a rule on a kit (or return the one still open) and act at once."""
        existing = self.open_incident_for(session, kit_id, rule.id)
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
            ladder=_ladder_json(rule.ladder),
        )
        session.add(row)
        session.flush()
        _history(session, row, at=now, kind="opened", message=why, data={"rule": rule.id})
        plan = self.plan(session, row, now)
        state, actions = ladder.open_incident(plan, now, first_step=first_step)
        self._carry_out(session, out, row, state, actions, plan, now)
        _LOGGER.info("incident %d on kit %s: %s", row.id, kit_id, why)
        return row

    def open_incident_for(self, session: Session, kit_id: str, rule_id: str) -> Incident | None:
        """The open incident of this rule on this kit, if any."""
        return session.scalars(
            select(Incident).where(
                Incident.kit_id == kit_id,
                Incident.rule_id == rule_id,
                Incident.resolved_at.is_(None),
            )
        ).first()

    def _carry_out(  # noqa: PLR0917 - the transaction, the incident, and the decision
        self,
        session: Session,
        out: Outgoing,
        row: Incident,
        state: IncidentState,
        actions: Sequence[ladder.Action],
        plan: Plan,
        now: datetime,
    ) -> None:
        rule = plan.rule
        for action in actions:
            if isinstance(action, ladder.Escalate):
                _history(
                    session,
                    row,
                    at=now,
                    kind="escalated",
                    message=f"step {action.from_step + 1} → {action.to_step + 1}: {action.reason}",
                    data={"from": action.from_step, "to": action.to_step},
                )
                row.step = action.to_step
            elif isinstance(action, ladder.AwaitKit):
                _history(
                    session,
                    row,
                    at=now,
                    kind="self_heal",
                    message=f"the kit heals itself with {action.playbook}",
                    data={"playbook": action.playbook},
                )
            elif isinstance(action, ladder.Defer):
                _history(
                    session,
                    row,
                    at=now,
                    kind="deferred",
                    message=f"{action.playbook} waits until {action.until:%Y-%m-%d %H:%M} UTC: "
                    f"{action.reason}",
                    data={"playbook": action.playbook, "until": action.until.isoformat()},
                )
            elif isinstance(action, ladder.RunLater):
                later = self.queue_run(
                    session,
                    out,
                    kit_id=row.kit_id,
                    playbook=action.playbook,
                    requested_by=LADDER,
                    now=now,
                    incident=row,
                    step=action.step,
                    not_before=action.until,
                )
                _history(
                    session,
                    row,
                    at=now,
                    kind="deferred",
                    message=f"{action.playbook} will still run at {action.until:%Y-%m-%d %H:%M} "
                    "UTC, the first free window, unless the fault is gone by then",
                    data={"playbook": action.playbook, "command_id": later.command_id},
                )
            elif isinstance(action, ladder.RunPlaybook):
                command = self.queue_run(
                    session,
                    out,
                    kit_id=row.kit_id,
                    playbook=action.playbook,
                    requested_by=LADDER,
                    now=now,
                    incident=row,
                    step=action.step,
                    forced=action.forced,
                    disruptive=action.disruptive,
                )
                _history(
                    session,
                    row,
                    at=now,
                    kind="run_requested",
                    message=f"{action.playbook} sent to the kit"
                    + (" (forced by a technician)" if action.forced else ""),
                    data={"playbook": action.playbook, "command_id": command.command_id},
                )
            elif isinstance(action, ladder.OpenTicket):
                ticket = tickets.open_ticket(
                    session,
                    kind=action.kind,
                    kit_id=row.kit_id,
                    title=f"{rule.description or rule.id} ({row.kit_id})"[:200],
                    detail=self._ticket_detail(session, row),
                    priority=action.priority.value,
                    due_by=action.due_by,
                    incident_id=row.id,
                    actor=LADDER,
                    now=now,
                )
                due = f", due by {action.due_by:%Y-%m-%d %H:%M} UTC" if action.due_by else ""
                _history(
                    session,
                    row,
                    at=now,
                    kind="ticket",
                    message=f"{action.kind} ticket #{ticket.id} opened, {action.priority}{due}",
                    data={"ticket_id": ticket.id, "kind": action.kind},
                )
        self._store(row, state, rule)

    @staticmethod
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

    def _ticket_detail(self, session: Session, row: Incident) -> str:
        entries = session.scalars(
            select(IncidentEntry)
            .where(IncidentEntry.incident_id == row.id)
            .order_by(IncidentEntry.id)
        ).all()
        lines = [f"Incident #{row.id}: {row.title}"]
        lines += [f"- {e.at:%Y-%m-%d %H:%M} UTC: {e.message}" for e in entries]
        return "\n".join(lines)

    def resolve(
        self, session: Session, row: Incident, *, now: datetime, how: str, actor: str = LADDER
    ) -> None:
        """The fault is gone: close the incident and count what it cost."""
        if row.resolved_at is not None:
            return
        row.resolved_at = now
        row.phase = Phase.RESOLVED.value
        row.wake_at = None
        row.resolution = how[:500]
        row.lesson_minutes_lost = self._minutes_lost(session, row, now)
        lost = (
            f"; {row.lesson_minutes_lost:.0f} lesson minutes lost"
            if row.lesson_minutes_lost
            else ""
        )
        _history(
            session,
            row,
            at=now,
            kind="resolved",
            message=f"{how}{lost}",
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

    def _minutes_lost(self, session: Session, row: Incident, now: datetime) -> float:
        if not row.costs_lessons:
            return 0.0
        end = row.resolved_at or now
        return minutes_lost(
            row.opened_at, end, self.lessons(session, row.kit_id, row.opened_at, end)
        )

    # --- commands ----------------------------------------------------------------------------

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
    ) -> RemediationCommand:
        """Record a playbook run and send it now (or leave it scheduled for `not_before`)."""
        info = self.catalogue.get(playbook)
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
        )
        session.add(command)
        if not_before is None or not_before <= now:
            self._send_run(session, out, command, now)
        return command

    def _send_run(
        self, session: Session, out: Outgoing, command: RemediationCommand, now: datetime
    ) -> None:
        self._ensure_bundle(session, out, command.kit_id, now)
        args = RunPlaybookArgs(
            playbook=command.playbook,
            check=command.check,
            forced=command.forced,
            incident_id=command.incident_id,
            min_bundle_version=self.bundle.version if self.bundle else None,
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

    def _ensure_bundle(self, session: Session, out: Outgoing, kit_id: str, now: datetime) -> None:
        bundle = self.bundle
        if bundle is None or bundle.install_args is None:
            return
        row = _kit_bundle(session, kit_id)
        if row.accepted is not None and row.accepted >= bundle.version:
            return
        recently = row.sent_at is not None and now - row.sent_at < BUNDLE_RESEND
        if row.sent == bundle.version and recently:
            return
        out.commands.append(
            (
                kit_id,
                Command(
                    kind=CommandKind.INSTALL_BUNDLE.value,
                    expires_at=now + timedelta(days=7),
                    args=bundle.install_args,
                ),
                new_msg_id(),
            )
        )
        row.sent, row.sent_at = bundle.version, now

    def ask_diagnostics(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        requested_by: str,
        now: datetime,
        log_lines: int,
    ) -> Diagnostics:
        """Ask a kit for its logs and a snapshot; the upload lands in the returned row."""
        row = Diagnostics(
            kit_id=kit_id,
            command_id=new_msg_id(),
            requested_by=requested_by,
            requested_at=now,
        )
        session.add(row)
        out.commands.append(
            (
                kit_id,
                Command(
                    kind=CommandKind.COLLECT_DIAGNOSTICS.value,
                    expires_at=now + timedelta(hours=6),
                    args=CollectDiagnosticsArgs(log_lines=log_lines).model_dump(),
                ),
                str(row.command_id),
            )
        )
        session.flush()
        return row

    # --- pass 1: events ----------------------------------------------------------------------

    def _cursor(self, session: Session, name: str) -> RemediationCursor:
        cursor = session.get(RemediationCursor, name)
        if cursor is None:
            start = 0
            if name == "events":  # a first start acts on what arrives from now on
                start = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
            cursor = RemediationCursor(name=name, value=start)
            session.add(cursor)
        return cursor

    def _begin(self, session: Session, name: str, now: datetime) -> RemediationCursor:
        """Write first: SQLite's driver opens the transaction only at a write, and a savepoint
        released outside one would commit each item's changes on its own."""
        cursor = self._cursor(session, name)
        cursor.at = now
        session.flush()
        return cursor

    def _pass_events(self, session: Session, now: datetime, out: Outgoing) -> None:
        cursor = self._cursor(session, "events")
        rows = session.scalars(
            select(Event)
            .where(Event.id > cursor.value, Event.kind.in_([str(k) for k in EVENT_KINDS]))
            .order_by(Event.id)
            .limit(500)
        ).all()
        if rows:
            self._begin(session, "events", now)
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

    @staticmethod
    def _data(event: Event) -> dict[str, Any]:
        data = event.body.get("data") if isinstance(event.body, dict) else None
        return data if isinstance(data, dict) else {}

    def _on_result(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        result = RemediationResult.model_validate(self._data(event))
        self._apply_result(session, out, event.kit_id, result, now)

    def _apply_result(
        self,
        session: Session,
        out: Outgoing,
        kit_id: str,
        result: RemediationResult,
        now: datetime,
    ) -> None:
        command = session.get(RemediationCommand, result.command_id) if result.command_id else None
        if command is None or command.kit_id != kit_id:
            return  # a local run, or a command of another controller: the kit's events show it
        if command.state in FINAL_COMMAND_STATES:
            return  # a repeated report (a command delivered twice): the first answer stands
        not_run = result.status == "busy" or result.reason.startswith("lesson:")
        command.state = "succeeded" if result.ok else "not_run" if not_run else "failed"
        command.finished_at = now
        command.result = result.model_dump(mode="json")
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
        _history(
            session,
            row,
            at=now,
            kind="result",
            message=summary,
            data={"command_id": command.command_id, "ok": result.ok, "status": result.status},
        )
        plan = self.plan(session, row, now)
        if not result.ok and (result.status == "busy" or result.reason.startswith("lesson:")):
            state, actions = ladder.on_refused(incident_state(row), plan, now, step=command.step)
        else:
            state, actions = ladder.on_result(
                incident_state(row), plan, now, step=command.step, ok=result.ok
            )
        self._carry_out(session, out, row, state, actions, plan, now)

    def _on_command_result(
        self, session: Session, out: Outgoing, event: Event, now: datetime
    ) -> None:
        data = self._data(event)
        command = session.get(RemediationCommand, str(data.get("command_id", "")))
        if command is None or data.get("ok") or command.state not in ("sent", "scheduled"):
            return
        # Refused before it ran (bad arguments, unknown command): the step failed.
        fake = RemediationResult(
            command_id=command.command_id,
            incident_id=command.incident_id,
            playbook=command.playbook,
            ok=False,
            status="refused",
            reason=str(event.body.get("message", ""))[:500],
        )
        self._apply_result(session, out, event.kit_id, fake, now)

    def _on_self_heal(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        data = self._data(event)
        rule = self._rules_by_id.get(str(data.get("rule_id", "")))
        if rule is None:
            return
        result = RemediationResult.model_validate(data.get("result") or {})
        # The snapshot that shows the fault gone may arrive before the report of the run that
        # fixed it: the report then belongs to the incident just closed.
        row = (
            self.open_incident_for(session, event.kit_id, rule.id)
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
            row = self.open_incident(
                session,
                out,
                kit_id=event.kit_id,
                rule=rule,
                now=now,
                why=f"the kit noticed it first: {rule.description or rule.id}",
            )
        _history(
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
            plan = self.plan(session, row, now)
            state, actions = ladder.on_result(
                incident_state(row), plan, now, step=row.step, ok=result.ok
            )
            self._carry_out(session, out, row, state, actions, plan, now)

    def _on_prelesson(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        check = PrelessonCheck.model_validate(self._data(event))
        row = self.open_incident_for(session, event.kit_id, PRELESSON_RULE.id)
        if check.ok:
            if row is not None:
                self.resolve(session, row, now=now, how="the next readiness check passed")
            return
        failures = ", ".join(check.failures) or "not ready"
        if row is None:
            row = self.open_incident(
                session,
                out,
                kit_id=event.kit_id,
                rule=PRELESSON_RULE,
                now=now,
                why=f"not ready for the lesson at {check.lesson_start:%Y-%m-%d %H:%M} UTC: "
                f"{failures}",
            )
        else:
            _history(session, row, at=now, kind="prelesson", message=f"still not ready: {failures}")

    def _on_diagnostics(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        data = self._data(event)
        payload = base64.b64decode(str(data.get("payload", "")), validate=True)
        content = json.loads(gzip.decompress(payload))  # refuse what is not what it says
        if not isinstance(content, dict):
            raise TypeError("a diagnostics upload must be a JSON object")
        command_id = str(data.get("command_id") or "")
        row = session.scalars(
            select(Diagnostics).where(
                Diagnostics.kit_id == event.kit_id, Diagnostics.command_id == command_id
            )
        ).first()
        if row is None:
            row = Diagnostics(kit_id=event.kit_id, command_id=command_id or None)
            session.add(row)
        row.payload = payload
        row.size = min(int(data.get("size") or len(payload)), MAX_REPORTED_INT)
        row.received_at = now

    def _on_help(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        lessons = self.lessons(session, event.kit_id, now, now + timedelta(days=7))
        message = str(event.body.get("message") or "help requested from the kit")
        tickets.open_ticket(
            session,
            kind="help_request",
            kit_id=event.kit_id,
            title=f"Help requested from kit {event.kit_id}",
            detail=message,
            priority=ladder.priority(now, lessons, Severity.WARNING).value,
            due_by=ladder.due_by(now, lessons),
            actor=LADDER,
            now=now,
        )

    def _on_bundle(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        data = self._data(event)
        row = _kit_bundle(session, event.kit_id)
        if event.kind == EventKind.BUNDLE_INSTALLED:
            version = int(data["version"])
            if not 0 <= version <= MAX_REPORTED_INT:
                raise ValueError(f"bundle version {version} out of range")
            row.accepted = version
            row.refused_reason = None
        else:
            row.refused_reason = str(data.get("reason") or event.body.get("message"))[:500]

    def _on_online(self, session: Session, out: Outgoing, event: Event, now: datetime) -> None:
        body = event.body if isinstance(event.body, dict) else {}
        if "bundle_version" not in body:
            return  # back by a heartbeat, not an agent's own word: nothing to hand over
        reported = body["bundle_version"]
        row = _kit_bundle(session, event.kit_id)
        if isinstance(reported, int) and 0 <= reported <= MAX_REPORTED_INT:
            row.accepted = reported
        self._ensure_bundle(session, out, event.kit_id, now)
        with self._lock:
            self._schedule_requests.add(event.kit_id)

    # --- pass 2: telemetry -------------------------------------------------------------------

    def _pass_telemetry(self, session: Session, now: datetime, out: Outgoing) -> None:
        if self._flooded():
            return  # kits are replaying an outage: the writer first, the rules a moment later
        # Kits whose newest snapshot the rules have not seen, the longest waiting first; a pass
        # takes a bounded number so the writer is never held up for long.
        # Arrival times (the controller's clock), not the kit's: a kit's clock may be wrong.
        kits = session.execute(
            select(Kit.kit_id, Kit.last_seen_at)
            .outerjoin(KitBundle, KitBundle.kit_id == Kit.kit_id)
            .where(
                Kit.latest_ts.is_not(None),
                Kit.last_seen_at.is_not(None),
                Kit.lifecycle == "active",
                (KitBundle.rules_evaluated_at.is_(None))
                | (
                    (Kit.last_seen_at > KitBundle.rules_evaluated_at)
                    & (KitBundle.rules_evaluated_at <= now - RULES_MIN_INTERVAL)
                ),
            )
            .order_by(KitBundle.rules_evaluated_at.is_not(None), KitBundle.rules_evaluated_at)
            .limit(KITS_PER_PASS)
        ).all()
        if kits:
            self._begin(session, "telemetry", now)
        for kit_id, seen_at in kits:
            if seen_at is None:
                continue
            snapshot = session.scalars(
                select(Telemetry)
                .where(Telemetry.kit_id == kit_id)
                .order_by(Telemetry.id.desc())
                .limit(1)
            ).first()
            if snapshot is not None:
                try:
                    body = TelemetryBody.model_validate(snapshot.body)
                except ValidationError:
                    _LOGGER.warning("stored telemetry of %s no longer validates", kit_id)
                else:
                    mine = Outgoing()
                    try:
                        with session.begin_nested():
                            facts = facts_from_telemetry(body)
                            self.evaluate_kit(session, mine, kit_id, facts, now)
                    except Exception:  # one kit's trouble must not hold up the others
                        _LOGGER.exception("cannot evaluate the rules of kit %s", kit_id)
                    else:
                        out.merge(mine)
            bundle_row = _kit_bundle(session, kit_id)
            bundle_row.rules_evaluated_at = seen_at

    def evaluate_kit(
        self,
        session: Session,
        out: Outgoing,
        kit_id: str,
        facts: dict[str, float | bool | str],
        now: datetime,
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
                if isinstance(action, Throttled) and not self.open_incident_for(
                    session, kit_id, action.rule.id
                ):
                    _LOGGER.info("%s on %s again within its throttle", action.rule.id, kit_id)
                    continue
                self.open_incident(
                    session,
                    out,
                    kit_id=kit_id,
                    rule=action.rule,
                    now=now,
                    why=_why(action.rule, facts),
                )
            elif isinstance(action, Cleared):
                gone = self.open_incident_for(session, kit_id, action.rule.id)
                if gone is not None:
                    self.resolve(session, gone, now=now, how="the fault is gone")
        # Incidents the kit reported first clear on the facts too (their rule never fired here).
        for row in session.scalars(
            select(Incident).where(Incident.kit_id == kit_id, Incident.resolved_at.is_(None))
        ):
            rule = self._rules_by_id.get(row.rule_id)
            if rule is not None and rule is not PRELESSON_RULE and rule.is_clear(facts):
                self.resolve(session, row, now=now, how="the fault is gone")

    # --- pass 3: deadlines and windows -------------------------------------------------------

    def _pass_due(self, session: Session, now: datetime, out: Outgoing) -> None:
        due = session.scalars(
            select(Incident)
            .where(Incident.resolved_at.is_(None), Incident.wake_at <= now)
            .order_by(Incident.wake_at)
            .limit(200)
        ).all()
        if due:
            self._begin(session, "deadlines", now)
        for row in due:
            mine = Outgoing()
            try:
                with session.begin_nested():
                    plan = self.plan(session, row, now)
                    state, actions = ladder.tick(incident_state(row), plan, now)
                    self._carry_out(session, mine, row, state, actions, plan, now)
            except Exception:  # one broken incident must not stop the others
                _LOGGER.exception("cannot move incident %d on", row.id)
                continue
            out.merge(mine)

    # --- pass 4: runs waiting for the next free window (a technician's, or the ladder's) ----

    def _pass_asked(self, session: Session, now: datetime, out: Outgoing) -> None:
        for command in session.scalars(
            select(RemediationCommand).where(
                RemediationCommand.state == "scheduled",
                RemediationCommand.not_before <= now,
            )
        ):
            if command.disruptive and not command.forced:
                info = self.catalogue.get(command.playbook)
                timeout = info.timeout if info else timedelta(hours=1)
                lessons = self.lessons(
                    session, command.kit_id, now, now + timedelta(days=14), now=now
                )
                if not may_disrupt(now, timeout, lessons, self._guard):
                    command.not_before = next_free_start(now, timeout, lessons, self._guard)
                    continue
            self._send_run(session, out, command, now)

    # --- pass 5: every minute ----------------------------------------------------------------

    def _pass_slow(self, now: datetime) -> None:
        out = Outgoing()
        try:
            with self._sessions.begin() as session:
                tickets.mark_breaches(session, now=now)
                if self.bundle is not None and self.bundle.install_args is not None:
                    # Agents online with an older bundle (the controller got a new one).
                    behind = session.scalars(
                        select(KitBundle.kit_id)
                        .join(Kit, Kit.kit_id == KitBundle.kit_id)
                        .where(
                            Kit.online.is_(True),
                            KitBundle.accepted.is_not(None),
                            KitBundle.accepted < self.bundle.version,
                        )
                        .limit(KITS_PER_PASS)
                    ).all()
                    for kit_id in behind:
                        self._ensure_bundle(session, out, kit_id, now)
                for row in session.scalars(
                    select(Incident).where(
                        Incident.resolved_at.is_(None), Incident.costs_lessons.is_(True)
                    )
                ):
                    row.lesson_minutes_lost = self._minutes_lost(session, row, now)
                session.execute(
                    update(RemediationCommand)
                    .where(
                        RemediationCommand.state == "sent",
                        RemediationCommand.sent_at < now - COMMAND_LIFETIME - timedelta(hours=1),
                    )
                    .values(state="expired")
                )
        except SQLAlchemyError:
            _LOGGER.exception("remediation: the minute pass failed")
            return
        self.send(out)

    def _pass_schedules(
        self, now: datetime, kit_ids: set[str] | None, forced: set[str] | None = None
    ) -> None:
        """Publish the kits' schedules that changed (and those in `forced` in any case)."""
        forced = forced or set()
        from controller.schedules import service as schedules  # noqa: PLC0415

        out = Outgoing()
        try:
            with self._sessions.begin() as session:
                query = select(Kit.kit_id).where(Kit.lifecycle == "active")
                if kit_ids is not None:
                    query = query.where(Kit.kit_id.in_(sorted(kit_ids)))
                for kit_id in session.scalars(query):
                    schedule = schedules.kit_schedule(
                        session,
                        kit_id=kit_id,
                        now=now,
                        horizon=timedelta(days=self._settings.schedule_horizon_days),
                        guard_minutes=self._settings.guard_minutes,
                        prelesson_minutes=self._settings.prelesson_minutes,
                    )
                    row = session.get(KitBundle, kit_id)
                    if schedule is None and (row is None or row.schedule_published is None):
                        continue  # no lessons now, none sent before: nothing to say
                    if schedule is None:
                        schedule = Schedule(
                            generated_at=now,
                            horizon_end=now,
                            guard_minutes=self._settings.guard_minutes,
                            prelesson_minutes=self._settings.prelesson_minutes,
                        )
                    digest = hashlib.sha256(
                        json.dumps(
                            schedule.model_dump(
                                mode="json", exclude={"generated_at", "horizon_end"}
                            ),
                            sort_keys=True,
                        ).encode()
                    ).hexdigest()
                    row = row or _kit_bundle(session, kit_id)
                    if row.schedule_published == digest and kit_id not in forced:
                        continue
                    row.schedule_published = digest
                    out.schedules.append((kit_id, schedule))
        except SQLAlchemyError:
            _LOGGER.exception("remediation: publishing schedules failed")
            return
        self.send(out)

    # --- technicians -------------------------------------------------------------------------

    def force(
        self, session: Session, out: Outgoing, row: Incident, *, actor: str, now: datetime
    ) -> bool:
        """Run the incident's current remote playbook now, lesson or not; False if none."""
        plan = self.plan(session, row, now)
        state, actions = ladder.force(incident_state(row), plan)
        if not actions:
            return False
        _history(session, row, at=now, kind="forced", message=f"forced now by {actor}")
        self._carry_out(session, out, row, state, actions, plan, now)
        return True

    def run_for_technician(
        self,
        session: Session,
        out: Outgoing,
        *,
        kit_id: str,
        playbook: str,
        when: str,
        check: bool,
        force: bool,
        actor: str,
        now: datetime,
    ) -> RemediationCommand:
        """A technician's run: `now` (refused in a lesson unless forced) or `next_window`."""
        info = self.catalogue.get(playbook)
        if info is None:
            raise KeyError(playbook)
        lessons = self.lessons(
            session, kit_id, now - timedelta(hours=12), now + timedelta(days=14), now=now
        )
        free = may_disrupt(now, info.timeout, lessons, self._guard)
        not_before: datetime | None = None
        if info.disruptive and not free and not force and not check:
            window = next_free_start(now, info.timeout, lessons, self._guard)
            if when == "now":
                running = current(now, lessons)
                what = "a lesson is running" if running else "a lesson starts soon"
                raise LessonConflictError(
                    f"{playbook} is disruptive and {what}: the next free window starts at "
                    f"{window:%Y-%m-%d %H:%M} UTC (ask for when=next_window, or force it)",
                    window,
                )
            not_before = window
        return self.queue_run(
            session,
            out,
            kit_id=kit_id,
            playbook=playbook,
            requested_by=actor,
            now=now,
            forced=force,
            check=check,
            not_before=not_before,
        )


class LessonConflictError(Exception):
    """A disruptive run asked for now, during a lesson or its guard time."""

    def __init__(self, message: str, window: datetime) -> None:
        super().__init__(message)
        self.window = window


def _why(rule: Rule, facts: dict[str, float | bool | str]) -> str:
    seen = ", ".join(
        f"{c.fact} = {facts[c.fact]}"
        for c in rule.when
        if isinstance(c, Condition) and c.fact in facts
    )
    return f"{rule.description or rule.id} ({seen})" if seen else rule.description or rule.id
