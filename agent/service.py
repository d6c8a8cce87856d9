"""The agent's main loop: snapshots into the outbox, a sender draining it, acks and commands.

Three threads: this loop (collects every interval, writes to the outbox), the sender (publishes the
outbox in `seq` order, at most `send_window` unacknowledged, and starts again from the oldest
unacknowledged message after a reconnect or when no acknowledgement came for `ack_timeout`), and
paho's network thread (acks remove messages from the outbox; commands are dispatched by kind).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agent import __version__, diagnostics, doctor
from agent import help as help_request
from agent.bundles import BundleStore
from agent.certificates import CertificateKeeper, finish_renewal
from agent.collectors import SystemCollector
from agent.config import AgentSettings, default_kit_id
from agent.content import sync as content_sync
from agent.content.readiness import on_kit
from agent.enroll import read_enrollment
from agent.errors import ConfigError, IdentityError
from agent.identity import Identity, load_identity
from agent.kit import KitView, endpoints
from agent.outbox import Bounds, Outbox
from agent.playbooks import Runner
from agent.selfheal import SelfHeal
from agent.transport import MqttTransport
from common import mqtt
from common.files import PUBLIC_MODE, write_atomic
from protocol.base import Unavailable
from protocol.bundle import BundleError
from protocol.codec import decode
from protocol.commands import (
    CollectDiagnosticsArgs,
    CommandKind,
    EventKind,
    RemediationResult,
    RunPlaybookArgs,
)
from protocol.content import ManifestMessage
from protocol.errors import ProtocolError
from protocol.models import (
    AckMessage,
    CommandMessage,
    Envelope,
    Event,
    EventMessage,
    ScheduleMessage,
    Severity,
    Status,
    StatusMessage,
    Telemetry,
    TelemetryMessage,
    envelope_kwargs,
)
from protocol.topics import CONTROLLER_TO_AGENT, Channel, kit_topic

_LOGGER = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def tls_context(identity: Identity) -> ssl.SSLContext:
    """Trust only the kitkeeper CA; present the kit's certificate."""
    return mqtt.tls_context(ca=identity.ca_path, cert=identity.cert_path, key=identity.key_path)


def _enrolled_identity(settings: AgentSettings) -> Identity | None:
    """The kit's identity; None only with plain MQTT (development), else ConfigError if missing."""
    if settings.plain_mqtt:
        return None
    identity = load_identity(settings.state_dir)
    if identity is None:
        raise ConfigError(
            f"this kit is not enrolled (no certificate in {settings.state_dir}): run "
            "`kitkeeper-agent enroll --controller URL --token TOKEN --state-dir DIR` first"
        )
    if settings.kit_id and settings.kit_id != identity.kit_id:
        raise ConfigError(
            f"--kit-id {settings.kit_id} differs from the enrolled kit {identity.kit_id}"
        )
    return identity


def _unenrolled_kit_id(settings: AgentSettings) -> str:
    """A kit without a certificate (plain MQTT): the configured id, else the host name."""
    return settings.kit_id or default_kit_id()


def _broker_address(settings: AgentSettings, recorded: dict[str, Any]) -> tuple[str, int]:
    """The broker's host and port: settings first, then what enrolment recorded, then defaults."""
    host = settings.mqtt_host or recorded.get("mqtt_host") or "127.0.0.1"
    port = (
        settings.mqtt_port or recorded.get("mqtt_port") or (1883 if settings.plain_mqtt else 8883)
    )
    return str(host), int(port)


class Agent:
    """One kit's agent: owns the collector, the outbox, the sender and the transport."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        state = settings.state_dir
        finish_renewal(state)
        identity = _enrolled_identity(settings)
        recorded = read_enrollment(state)
        self.kit_id = identity.kit_id if identity is not None else _unenrolled_kit_id(settings)
        broker = _broker_address(settings, recorded)
        controller_url = recorded.get("controller_url")
        self.outbox = Outbox(
            state / "outbox.db",
            kit_id=self.kit_id,
            bounds=Bounds(
                max_messages=settings.outbox_max_messages,
                max_bytes=settings.outbox_max_bytes,
                max_age_s=settings.outbox_max_age,
            ),
        )
        self._collector = SystemCollector(disk_paths=settings.disk_paths)
        self._wake = threading.Event()
        self.latest: Telemetry | None = None  # the last snapshot: the pupil's page reads it
        self._reconnected = threading.Event()
        self._acked_at = time.monotonic()
        # --- remediation: the accepted bundle (agent/bundles.py), its runner (agent/playbooks.py)
        self.bundles = BundleStore(state, public_key=settings.bundle_key)
        self.runner = self._playbook_runner()
        self.selfheal = SelfHeal(
            state_dir=state,
            bundles=self.bundles,
            runner=self.runner,
            publish_event=self.publish_event,
            snapshot=self._snapshot,
            fresh_snapshot=self._probed_snapshot,
        )
        self._seen_commands = SeenCommands(state / "commands-seen.json")
        # --- end of remediation ---
        self._commands = self._command_handlers()
        self._tls = tls_context(identity) if identity else None
        self.transport = self._mqtt_transport(broker)
        self.certificates = self._certificate_keeper(identity, controller_url)
        self.kit = self._kit_view(broker, controller_url)
        self.content = content_sync.from_settings(
            settings,
            kit_id=self.kit_id,
            controller_url=controller_url,
            tls=self._tls,
            publish_event=self.publish_event,
            lessons=self.selfheal.lessons,
        )

    def _playbook_runner(self) -> Runner:
        # The kit's profile goes to every playbook (accessibility-restore needs it).
        playbook_vars = {"kk_profile": self.settings.profile, **self.settings.playbook_vars}
        return Runner(
            self.settings.state_dir, self.bundles, self.publish_event, playbook_vars=playbook_vars
        )

    def _command_handlers(self) -> dict[str, Callable[[CommandMessage], None]]:
        return {
            "install_certificate": self._install_certificate,
            CommandKind.INSTALL_BUNDLE.value: self._install_bundle,
            CommandKind.RUN_PLAYBOOK.value: self._run_playbook,
            CommandKind.COLLECT_DIAGNOSTICS.value: self._collect_diagnostics,
            CommandKind.SYNC_CONTENT.value: self._sync_content,
        }

    def _mqtt_transport(self, broker: tuple[str, int]) -> MqttTransport:
        settings = self.settings
        return MqttTransport(
            client_id=f"kit-{self.kit_id}",
            host=broker[0],
            port=broker[1],
            keepalive=settings.keepalive,
            reconnect_min_delay=settings.reconnect_min_delay,
            reconnect_max_delay=settings.reconnect_max_delay,
            tls=self._tls,
            will=self._status("offline", "connection lost"),
            subscriptions=[kit_topic(self.kit_id, c) for c in sorted(CONTROLLER_TO_AGENT)],
            on_connect=self._on_connect,
            on_message=self._on_message,
        )

    def _certificate_keeper(
        self, identity: Identity | None, controller_url: str | None
    ) -> CertificateKeeper | None:
        if identity is None or self._tls is None:
            return None
        return CertificateKeeper(
            settings=self.settings,
            identity=identity,
            tls=self._tls,
            transport=self.transport,
            publish_event=self.publish_event,
            report=lambda command, ok, detail: self._report_command(command, ok=ok, detail=detail),
            controller_url=controller_url,
        )

    def _kit_view(self, broker: tuple[str, int], controller_url: str | None) -> KitView:
        settings = self.settings
        return KitView(
            settings,
            endpoints(settings, broker=broker, controller_url=controller_url),
            publish_event=self.publish_event,
            throughput=(f"{controller_url}/api/v1/probe", self._tls)
            if settings.throughput_probe and controller_url
            else None,
        )

    # --- presence ----------------------------------------------------------------------------

    def _status(self, state: Literal["online", "offline"], reason: str) -> tuple[str, bytes]:
        # Status is state, not history: it carries the last data seq and is not acknowledged.
        message = StatusMessage(
            **envelope_kwargs(self.kit_id, self.outbox.last_seq, _now()),
            body=Status(
                state=state,
                reason=reason,
                agent_version=__version__,
                interval_s=self.settings.interval,
                bundle_version=self.bundles.accepted_version(),
            ),
        )
        return kit_topic(self.kit_id, Channel.STATUS), message.to_bytes()

    def _on_connect(self, transport: MqttTransport) -> None:
        topic, payload = self._status("online", "connected")
        transport.publish(topic, payload, retain=True)
        self._reconnected.set()
        self._wake.set()

    # --- producing ---------------------------------------------------------------------------

    def _enqueue(self, channel: Channel, build: Callable[[dict[str, object]], Envelope]) -> None:
        self.outbox.add(channel, build)
        self._wake.set()

    def publish_event(self, event: Event) -> None:
        """Queue one event for the kit's events topic."""
        self._enqueue(Channel.EVENTS, lambda f: EventMessage(**f, body=event))

    def _probed_snapshot(self, server: str | None) -> Telemetry:
        self.kit.probe(webinar=server)  # now, and to the lesson's own server
        return self._snapshot()

    def _snapshot(self) -> Telemetry:
        return self._collector.collect(self.settings.interval).model_copy(update=self.kit.parts())

    def publish_snapshot(self) -> Telemetry:
        """Collect one telemetry snapshot and queue it; the snapshot."""
        body = self._snapshot()
        self.latest = body
        self._enqueue(Channel.TELEMETRY, lambda f: TelemetryMessage(**f, body=body))
        return body

    # --- sending -----------------------------------------------------------------------------

    def _send_loop(self, stop: threading.Event) -> None:
        cursor = 0  # highest seq published on this connection
        while not stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if not self.transport.connected.is_set():
                continue
            if self._reconnected.is_set():
                self._reconnected.clear()
                cursor = 0  # replay everything unacknowledged, in order
            first = self.outbox.first_seq()
            if first is None:
                self._acked_at = time.monotonic()
                continue
            base = first - 1
            if cursor > base and time.monotonic() - self._acked_at > self.settings.ack_timeout:
                _LOGGER.info(
                    "no acknowledgement for %.0fs: resending from seq %d",
                    self.settings.ack_timeout,
                    first,
                )
                cursor = base
                self._acked_at = time.monotonic()
            cursor = max(cursor, base)
            room = self.settings.send_window - (cursor - base)
            if room <= 0:
                continue
            for pending in self.outbox.pending_after(cursor, room):
                if not self.transport.publish(
                    kit_topic(self.kit_id, pending.channel), pending.payload
                ):
                    break
                cursor = pending.seq
            else:
                continue
            self._wake.set()

    # --- receiving ---------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            _, message = decode(topic, payload, accept=CONTROLLER_TO_AGENT)
        except ProtocolError as exc:
            _LOGGER.warning("ignoring a message on %s: %s", topic, exc)
            return
        if isinstance(message, AckMessage):
            if self.outbox.acknowledge(message.body.watermark, message.body.epoch):
                self._acked_at = time.monotonic()
                self._wake.set()
        elif isinstance(message, CommandMessage):
            self._run_command(message)
        elif isinstance(message, ScheduleMessage):
            try:
                self.selfheal.on_schedule(message.body)
            except OSError:
                _LOGGER.exception("cannot keep the lesson schedule")
        elif isinstance(message, ManifestMessage) and self.content is not None:
            self.content.on_pointer(message.body)

    def _run_command(self, command: CommandMessage) -> None:
        if not self._seen_commands.first_time(command.msg_id):
            _LOGGER.info("ignoring command %s delivered again", command.msg_id)
            return
        body = command.body
        if body.expires_at is not None and body.expires_at < _now():
            self._report_command(command, ok=False, detail="expired before it arrived")
            return
        handler = self._commands.get(body.kind)
        if handler is None:
            self._report_command(command, ok=False, detail=f"unknown command {body.kind!r}")
            return
        try:
            handler(command)
        except (IdentityError, ConfigError, OSError) as exc:
            self._report_command(command, ok=False, detail=str(exc))

    def _report_command(self, command: CommandMessage, *, ok: bool, detail: str) -> None:
        _LOGGER.log(
            logging.INFO if ok else logging.WARNING, "command %s: %s", command.body.kind, detail
        )
        self.publish_event(
            Event(
                kind="command_result",
                severity=Severity.INFO if ok else Severity.WARNING,
                message=detail,
                data={"command_id": command.msg_id, "command": command.body.kind, "ok": ok},
            )
        )

    # --- remediation (agent/bundles.py, agent/playbooks.py, agent/diagnostics.py) --------------

    def _install_bundle(self, command: CommandMessage) -> None:
        # On paho's thread, on purpose: a run_playbook right behind it sees the new bundle.
        try:
            manifest = self.bundles.install_command(command.body.args)
        except BundleError as exc:
            reason = str(exc)[:500]
            self.publish_event(
                Event(
                    kind=EventKind.BUNDLE_REFUSED.value,
                    severity=Severity.WARNING,
                    message=f"playbook bundle refused: {reason}",
                    data={"command_id": command.msg_id, "reason": reason},
                )
            )
            self._report_command(command, ok=False, detail=f"bundle refused: {reason}")
            return
        self.publish_event(
            Event(
                kind=EventKind.BUNDLE_INSTALLED.value,
                message=f"playbook bundle {manifest.version} installed",
                data={
                    "command_id": command.msg_id,
                    "version": manifest.version,
                    "playbooks": sorted(manifest.playbooks),
                },
            )
        )
        self._report_command(command, ok=True, detail=f"bundle {manifest.version} installed")
        topic, payload = self._status("online", "bundle installed")
        self.transport.publish(topic, payload, retain=True)

    def _run_playbook(self, command: CommandMessage) -> None:
        try:
            args = RunPlaybookArgs.model_validate(command.body.args)
        except ValidationError as exc:
            detail = str(exc).splitlines()[0]
            self._report_command(command, ok=False, detail=f"invalid arguments: {detail}")
            return
        if not args.forced and not args.check:
            allowed, why = self.selfheal.may_disrupt(args.playbook, _now())
            if not allowed:  # the kit knows its lessons too: it never disturbs one
                self._refuse_run(command, args, why)
                return
        # Refusals are published by the runner; the run itself goes on in its own thread.
        self.runner.run_command(args, command_id=command.msg_id)

    def _refuse_run(self, command: CommandMessage, args: RunPlaybookArgs, why: str) -> None:
        result = RemediationResult(
            command_id=command.msg_id,
            incident_id=args.incident_id,
            playbook=args.playbook,
            bundle_version=self.bundles.accepted_version(),
            ok=False,
            status="refused",
            check=args.check,
            reason=f"lesson: {why}"[:500],
        )
        self.runner.refuse(result)

    def _collect_diagnostics(self, command: CommandMessage) -> None:
        try:
            args = CollectDiagnosticsArgs.model_validate(command.body.args)
        except ValidationError as exc:
            detail = str(exc).splitlines()[0]
            self._report_command(command, ok=False, detail=f"invalid arguments: {detail}")
            return

        def collect() -> None:  # journalctl, dmesg and the slow collectors: off paho's thread
            try:
                report = diagnostics.collect(
                    self.settings.state_dir,
                    self.settings,
                    args.log_lines,
                    outbox_size=len(self.outbox),
                )
                self.publish_event(diagnostics.diagnostics_event(report, command_id=command.msg_id))
            except Exception as exc:  # the boundary of a thread: report, never die silently
                _LOGGER.exception("diagnostics failed")
                self._report_command(command, ok=False, detail=f"diagnostics failed: {exc}")

        threading.Thread(target=collect, name="diagnostics", daemon=True).start()

    def _sync_content(self, command: CommandMessage) -> None:
        if self.content is None:
            raise ConfigError("this kit is not enrolled: no content to sync")
        self.content.request()
        self._report_command(command, ok=True, detail="content sync started")

    def _install_certificate(self, command: CommandMessage) -> None:
        if self.certificates is None:
            raise IdentityError("no renewal is pending")
        self.certificates.install_certificate(command)

    # --- main loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set: snapshot at once, then every interval without drift."""
        _LOGGER.info(
            "agent %s for kit %s (%s): every %ss, %d messages waiting in the outbox",
            __version__,
            self.kit_id,
            "TLS" if self._tls else "plain MQTT",
            self.settings.interval,
            len(self.outbox),
        )
        self._collector.prime()
        sender = threading.Thread(target=self._send_loop, args=(stop,), name="sender", daemon=True)
        sender.start()
        if self.certificates is not None and self.certificates.expired(_now()):
            self.certificates.await_enrolment()  # the broker would refuse it: do not even try
        else:
            self.transport.start()
        self.kit.start()
        self.selfheal.start()
        if self.content is not None:
            self.content.start()
        self.publish_event(
            Event(kind="agent_started", message=f"kitkeeper agent {__version__} started")
        )
        next_at = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    body = self.publish_snapshot()
                    self.selfheal.after_snapshot(body, _now())
                    for path, event in help_request.pending(self.settings.state_dir):
                        self.publish_event(event)  # in the outbox first, then the file goes
                        path.unlink(missing_ok=True)
                    if self.certificates is not None:
                        self.certificates.keep()
                except Exception:  # one failed snapshot must not stop the agent
                    _LOGGER.exception("snapshot failed")
                next_at += self.settings.interval
                now = time.monotonic()
                if next_at < now:  # fell behind (suspend, overload): skip, do not burst
                    next_at = now + self.settings.interval
                stop.wait(next_at - now)
        finally:
            if self.content is not None:
                self.content.stop()
            self.selfheal.stop()
            self.runner.close()  # a playbook still running reports `canceled` before we go
            self.kit.stop()
            self._wake.set()
            sender.join(timeout=5)
            self.transport.stop(final=self._status("offline", "agent stopped"))
            self.outbox.close()
            _LOGGER.info("agent stopped")


def readiness(agent: Agent) -> list[doctor.Check] | None:
    """The doctor's checks on the agent's latest snapshot (the pupil's page); None before one."""
    body = agent.latest
    if body is None:
        return None
    return doctor.evaluate(
        peripherals=body.peripherals or Unavailable(unavailable="not collected"),
        connectivity=body.connectivity,
        disks=body.disks,
        battery=body.battery,
        profile=body.profile,
        content=on_kit(agent.settings.state_dir, now=_now()),
    )


class SeenCommands:
    """The ids of the last commands run, kept on disk: QoS 1 may deliver a command twice."""

    KEEP = 500

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            self._ids: list[str] = list(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            self._ids = []

    def first_time(self, command_id: str) -> bool:
        """Record the id; False when it was seen before."""
        with self._lock:
            if command_id in self._ids:
                return False
            self._ids = [*self._ids[-(self.KEEP - 1) :], command_id]
            try:
                write_atomic(self._path, json.dumps(self._ids).encode(), PUBLIC_MODE)
            except OSError:
                _LOGGER.warning("cannot record command ids in %s", self._path)
            return True
