"""The escalation ladder in the controller: rules over telemetry, incidents, commands, tickets.

One `Remediator` per controller runs passes every `remediation_interval` seconds (DESIGN.md, the
ladder). Each pass is its own transaction; MQTT messages go out only after it commits:

1. new events (`events`): playbook results, the kits' own self-heal reports, pre-lesson checks,
   help requests, diagnostics, bundle acceptance, kits coming online;
2. kits with new telemetry (`evaluation`): the rules are evaluated on the latest snapshot,
   firing opens an incident, clearing resolves it;
3. incidents whose deadline or free window has come (`incidents`, over `policy.ladder.tick`);
4. playbook runs waiting for the next free window, once it comes (`commands`);
5. every minute (`sweep`): tickets past their due time, bundles to catch up, lesson minutes
   lost; and the kits' schedules that changed (`schedule_publisher`).

The decisions are the pure functions of `policy.ladder`; the parts above load their inputs and
carry out their actions. This class is the facade that builds the parts and runs the passes;
technicians act through `actions` (`RemediationActions`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.remediation.actions import RemediationActions
from controller.remediation.commands import Commands
from controller.remediation.distribution import Distribution
from controller.remediation.evaluation import RuleEvaluator
from controller.remediation.events import EventHandlers
from controller.remediation.incidents import Incidents
from controller.remediation.outgoing import Outgoing, Publish, Send, Sender
from controller.remediation.playbooks import Bundle, catalogue_of, default_rules_path
from controller.remediation.quotas import Refusals
from controller.remediation.schedule_publisher import SchedulePublisher
from controller.remediation.sweep import sweep
from policy.ladder import PlaybookInfo
from policy.rules import RuleSet, load_rules

_LOGGER = logging.getLogger(__name__)

SLOW_PASS = timedelta(minutes=1)
"""How often the minute sweep runs (and every kit's schedule is looked at)."""

_Pass = Callable[[Session, datetime, Outgoing], None]


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
        refusals: Refusals | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self.bundle = bundle
        self.rules = (
            rules if rules is not None else load_rules(default_rules_path(settings).read_bytes())
        )
        guard = timedelta(minutes=settings.guard_minutes)
        self._wake = threading.Event()
        self._sender = Sender(send=send, publish_schedule=publish_schedule)
        self.schedules = SchedulePublisher(
            settings=settings, sessions=sessions, sender=self._sender, wake=self._wake.set
        )
        """Publishes the kits' schedules; ask it for a kit's when that kit's schedule changed."""
        self._distribution = Distribution(bundle)
        self._commands = Commands(bundle=bundle, distribution=self._distribution, guard=guard)
        self._incidents = Incidents(
            catalogue=self.catalogue,
            guard=guard,
            horizon=timedelta(days=settings.schedule_horizon_days),
            commands=self._commands,
            zone=settings.school_zone,
        )
        self._evaluator = RuleEvaluator(
            rules=self.rules, incidents=self._incidents, flooded=flooded or (lambda: False)
        )
        self._events = EventHandlers(
            incidents=self._incidents,
            commands=self._commands,
            distribution=self._distribution,
            rules_by_id=self._evaluator.by_id,
            schedules=self.schedules,
            refusals=refusals,
        )
        self.actions = RemediationActions(
            bundle=bundle,
            rules=self.rules,
            incidents=self._incidents,
            commands=self._commands,
            sender=self._sender,
            poke=self.poke,
            guard=guard,
            zone=settings.school_zone,
        )
        """What technicians do (audited, committed, sent)."""
        self._passes: tuple[_Pass, ...] = (
            self._events.act_on_new,
            self._evaluator.evaluate_new,
            self._incidents.move_due,
            self._commands.send_due,
        )
        self._slow_at: datetime | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def catalogue(self) -> dict[str, PlaybookInfo]:
        """The playbooks the kits have (from the bundle manifest)."""
        return catalogue_of(self.bundle)

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
        self.schedules.request(kit_ids)

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
        for step in self._passes:
            out = Outgoing()
            try:
                with self._sessions.begin() as session:
                    step(session, now, out)
            except SQLAlchemyError:
                _LOGGER.exception("remediation: %s failed", step.__name__)
                continue
            self._sender.send(out)
        slow = self._slow_at is None or now - self._slow_at >= SLOW_PASS
        requested, everything = self.schedules.take(everything=slow)
        if slow:
            self._slow_at = now
            self._sweep(now)
        if requested or everything:
            # Kits that asked (a changed schedule, a kit back online) get theirs in any case.
            self.schedules.publish(now, None if everything else requested, forced=requested)

    def _sweep(self, now: datetime) -> None:
        out = Outgoing()
        try:
            with self._sessions.begin() as session:
                sweep(session, out, now, distribution=self._distribution, incidents=self._incidents)
        except SQLAlchemyError:
            _LOGGER.exception("remediation: the minute pass failed")
            return
        self._sender.send(out)
