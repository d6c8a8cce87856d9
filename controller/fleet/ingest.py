"""Ingest: the controller's one MQTT adapter, and the batched writer behind it.

paho's network thread decodes each message (`protocol.codec.decode`) and queues it; a writer thread
takes batches off the queue and commits them in one transaction each. A message that fails the
contract is counted by reason and logged once, never raised; a batch whose write fails is retried
until it commits. Only after the commit does the controller publish each kit's `ack` watermark
(retained, coalesced over `ack_delay`), so a kit forgets a message only once it is stored. The
session is persistent (clean start off, with an expiry): what arrives while the controller is
down waits in the broker, and the agents' outboxes cover whatever the broker loses.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from common.mqtt import MqttClient, Reconnect, tls_context
from controller.config import ControllerSettings
from controller.fleet import clock, validation, writer
from controller.fleet.queries import count_kits
from controller.fleet.quotas import OncePer, Quotas, Rate
from controller.fleet.retention import Policy, Retention
from controller.fleet.store import mark_silent_kits_offline, record_events
from controller.fleet.writer import RawMessage
from controller.platform.metrics import Metrics
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.crl import CrlKeeper
from protocol.codec import TsRefusedError
from protocol.content import ManifestMessage, ManifestPointer
from protocol.errors import ProtocolError, RejectReason
from protocol.models import (
    Ack,
    AckMessage,
    Command,
    CommandMessage,
    Schedule,
    ScheduleMessage,
    new_msg_id,
)
from protocol.topics import AGENT_TO_CONTROLLER, SHARE_GROUP, Channel, kit_topic, shared, wildcard

_LOGGER = logging.getLogger(__name__)

FLOOD_RATE = 1000.0
"""Messages per second above which the rules wait (kits replaying an outage): 2,000 kits
reporting every 30 s send about 70."""
QUEUE_LIMIT = 50_000
"""Messages held in memory before paho's thread waits (the broker then holds the rest)."""

_CHANNELS = {c.value for c in AGENT_TO_CONTROLLER}
HOUSEKEEPING_S = 2.0
RECONNECT = Reconnect(min_delay=1, max_delay=10)
MAX_INFLIGHT = 1000
"""Unacknowledged QoS 1 messages each way (acks, commands out; the broker's to us in)."""


RATE_LIMITED = "rate_limited"
"""The rejected counter's reason for a message over its kit's rate (controller.fleet.quotas)."""


def quotas(settings: ControllerSettings) -> Quotas:
    """The per-kit token buckets the settings ask for, by channel."""
    return Quotas(
        {
            channel.value: Rate(
                getattr(settings, f"kit_{channel.value}_rate"),
                getattr(settings, f"kit_{channel.value}_burst"),
            )
            for channel in AGENT_TO_CONTROLLER
        }
    )


def subscriptions(group: str = SHARE_GROUP) -> list[tuple[str, int]]:
    """What the controller subscribes to: data through the shared group, status directly.

    Status goes to every instance because retained messages are not delivered to shared
    subscriptions (MQTT 5, 4.8.2), and a controller must learn every kit's presence at start.
    """
    return [
        (shared(wildcard(Channel.TELEMETRY), group), 1),
        (shared(wildcard(Channel.EVENTS), group), 1),
        (wildcard(Channel.STATUS), 1),
    ]


class Ingest:
    """Subscribes and validates here; a writer process commits; acks go out after each commit.

    It is handed the sessions, the metrics and the CRL keeper (`controller.runtime` builds them)
    and owns only its MQTT client, its writer process and the threads that talk to it.
    """

    def __init__(
        self,
        *,
        settings: ControllerSettings,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        crl: CrlKeeper,
    ) -> None:
        self._settings = settings
        self._pki = pki.PkiPaths(settings.pki_dir)
        self._acks: dict[str, tuple[int, str | None]] = {}
        self._acks_due = 0.0
        self._housekeeping_at = 0.0
        self._event_handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {}
        self._sessions = sessions
        self._metrics = metrics
        self._received = {c: metrics.received.labels(channel=c) for c in [*_CHANNELS, "other"]}
        self._pending: list[RawMessage] = []
        self._pending_cv = threading.Condition()
        self._stopping = threading.Event()
        self._gauges_at = 0.0
        self._writer: BaseProcess | None = None
        self._to_writer: Connection | None = None
        self._from_writer: Connection | None = None
        self._pipe_lock = threading.Lock()
        self._forwarder = threading.Thread(target=self._forward_loop, name="forwarder", daemon=True)
        self._results = threading.Thread(target=self._results_loop, name="results", daemon=True)
        self.tls = not settings.plain and self._pki.exists()
        self._crl = crl
        if self.tls:
            # Only a broker that checks certificates proves who asks: no renewal without it.
            self._event_handlers["cert_renew_request"] = self._renew_certificate
        self._mqtt = MqttClient(
            client_id=settings.mqtt_client_id,
            broker=(settings.mqtt_host, settings.mqtt_port),
            keepalive=30,
            reconnect=RECONNECT,
            max_inflight=MAX_INFLIGHT,
            tls=tls_context(
                ca=self._pki.ca_cert, cert=self._pki.controller_cert, key=self._pki.controller_key
            )
            if self.tls
            else None,
            subscriptions=subscriptions(pki.share_group(self._pki) if self.tls else SHARE_GROUP),
            receive_maximum=MAX_INFLIGHT,
            who="the controller",
            on_message=self._handle_message,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            count_error=metrics.callback_errors.inc,
        )
        self._client = self._mqtt.client
        self.connected = self._mqtt.connected
        self._arrived = 0
        self._rate_mark = (time.monotonic(), 0)
        self._clocks = clock.ClockWatch()
        self._connected_at = time.monotonic()
        self._quotas = quotas(settings)
        self._complaints = OncePer()
        self._retention = Retention(
            Policy(
                settings.telemetry_retention_days,
                settings.events_retention_days,
                settings.hourly_retention_days,
            ),
            settings.retention_interval,
        )

    def start(self) -> None:
        """Start the writer process, then connect in the background (retrying until `stop`)."""
        self._refresh_kit_gauges()
        if self.tls:  # before connecting: with an expired CRL the broker refuses us too
            self._crl.keep_fresh(datetime.now(UTC), starting=True)
        self._start_writer()
        self._forwarder.start()
        self._results.start()
        self._mqtt.start()

    def stop(self) -> None:
        """Stop taking messages, let the writer commit what it has, publish the last acks."""
        # Messages arriving from now on are not queued: not acknowledged either, so kits resend
        # them (the subscription stays in the persistent session for the next start).
        self._stopping.set()
        with self._pending_cv:
            self._pending_cv.notify_all()
        self._forwarder.join(timeout=30)
        self._results.join(timeout=60)
        self._publish_acks(wait=True)
        self._mqtt.stop()
        if self._writer is not None:
            self._writer.join(timeout=10)
        self._metrics.mqtt_connected.set(0)

    # The writer process and the two threads that talk to it.

    def _start_writer(self) -> None:
        context = multiprocessing.get_context("spawn")
        to_writer_r, to_writer_w = context.Pipe(duplex=False)
        from_writer_r, from_writer_w = context.Pipe(duplex=False)
        process = context.Process(
            target=writer.run,
            args=(
                self._settings.model_dump_json(),
                to_writer_r,
                from_writer_w,
                logging.getLogger().getEffectiveLevel(),
            ),
            name="kitkeeper-writer",
            daemon=True,
        )
        process.start()
        to_writer_r.close()
        from_writer_w.close()
        with self._pipe_lock:
            self._writer, self._to_writer, self._from_writer = process, to_writer_w, from_writer_r

    def _forward_loop(self) -> None:
        while True:
            with self._pending_cv:
                if not self._pending and not self._stopping.is_set():
                    self._pending_cv.wait(timeout=0.05)
                batch, self._pending = self._pending, []
                self._pending_cv.notify_all()
                stopping = self._stopping.is_set()
            self._metrics.queue_depth.set(len(batch))
            with self._pipe_lock:
                conn = self._to_writer
            if conn is None:
                continue
            try:
                if batch:
                    conn.send_bytes(pickle.dumps(batch))
                if stopping:
                    conn.send_bytes(b"")  # the writer commits what it has, then ends
                    return
            except (BrokenPipeError, OSError):
                # The writer died: the results thread restarts it. These messages were never
                # acknowledged to their kits, which will send them again.
                _LOGGER.warning(
                    "writer unavailable; %d messages left for the kits to resend", len(batch)
                )
                if stopping:
                    return
                time.sleep(0.5)

    def _results_loop(self) -> None:
        while True:
            with self._pipe_lock:
                conn = self._from_writer
            assert conn is not None
            try:
                if conn.poll(0.2):
                    data = conn.recv_bytes()
                    if not data:
                        return  # the writer finished after stop()
                    self._apply(pickle.loads(data))  # noqa: S301 - our own child process
            except (EOFError, OSError):
                if self._stopping.is_set():
                    return
                _LOGGER.exception("the ingest writer process died; starting it again")
                self._metrics.write_errors.inc()
                time.sleep(1)
                self._start_writer()
            now = time.monotonic()
            if self._acks and now >= self._acks_due:
                self._publish_acks()
            if now - self._housekeeping_at >= HOUSEKEEPING_S:
                self._housekeeping_at = now
                self._housekeeping()
            self._record_clocks()

    def _apply(self, summary: writer.Summary) -> None:
        self._metrics.batch_seconds.observe(summary.seconds)
        for channel, n in summary.stored.items():
            self._metrics.stored.labels(channel=channel).inc(n)
        self._metrics.duplicates.inc(summary.duplicates)
        self._metrics.quarantined.inc(summary.quarantined)
        self._metrics.batch_splits.inc(summary.splits)
        self._metrics.hole_rows_scanned.inc(summary.scanned)
        if summary.status_changed or time.monotonic() - self._gauges_at > 5:
            self._refresh_kit_gauges()
        if summary.watermarks:
            if not self._acks:
                self._acks_due = time.monotonic() + self._settings.ack_delay
            self._acks.update(summary.watermarks)
        for kit_id, kind, data in summary.events:
            try:
                self._event_handlers[kind](kit_id, data)
            except Exception:
                _LOGGER.exception("handling %s from %s failed", kind, kit_id)

    def _record_clocks(self) -> None:
        rows = self._clocks.take()
        if not rows:
            return
        try:
            with self._sessions.begin() as session:
                record_events(session, rows)
        except SQLAlchemyError:  # advisory: recorded again within the hour while it lasts
            _LOGGER.exception("cannot record %d clock events", len(rows))
            return
        for row in rows:
            _LOGGER.warning("kit %s: %s", row["kit_id"], row["message"])
        self._metrics.clock_events.inc(len(rows))
        self._metrics.kits_clock_skewed.set(self._clocks.skewed())

    # MQTT hooks and the message callback (guarded by MqttClient: counted, logged, never raised).

    def _on_connected(self) -> None:
        self._connected_at = time.monotonic()
        self._metrics.mqtt_connected.set(1)

    def _on_disconnected(self) -> None:
        self._metrics.mqtt_connected.set(0)

    def _reject(self, topic: str, reason: str, detail: object) -> None:
        """Count a refused message; log it once per kit and reason a minute, never a traceback."""
        self._metrics.rejected.labels(reason=reason).inc()
        kit = topic.split("/", 2)[1] if topic.count("/") == 2 else topic[:80]
        skipped = self._complaints.due(f"{kit} {reason}", time.monotonic())
        if skipped is not None:
            more = f" (and {skipped} more since the last report)" if skipped else ""
            _LOGGER.warning("rejected message on %s: %s%s", topic[:200], detail, more)

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        last = parts[-1]
        self._received[last if last in _CHANNELS else "other"].inc()
        if self._stopping.is_set():
            return
        payload = bytes(msg.payload)
        self._arrived += 1
        if len(parts) == 3 and not self._quotas.allow(
            parts[1], last, len(payload), time.monotonic()
        ):  # before any parsing: a flooding kit costs a dictionary look-up per message
            self._reject(msg.topic, RATE_LIMITED, f"kit over its {last} rate")
            return
        received = time.time()
        now = datetime.fromtimestamp(received, UTC)
        try:
            _, message = validation.check(msg.topic, payload, now=now)
        except TsRefusedError as exc:  # the writer keeps or settles it (clock.settle)
            if exc.reason is RejectReason.TS_AHEAD:
                self._metrics.restamped.inc()
                _LOGGER.debug("restamped message on %s: %s", msg.topic, exc)
            else:
                self._reject(msg.topic, exc.reason.value, exc)
            message = exc.envelope
        except ProtocolError as exc:
            self._reject(msg.topic, exc.reason.value, exc)
            return
        settled = (
            time.monotonic() - self._connected_at > clock.SETTLE_S
            and len(self._pending) < clock.SHORT_QUEUE
        )
        self._clocks.observe(
            message, now, live=clock.live(message, retained=msg.retain, settled=settled)
        )
        with self._pending_cv:
            while len(self._pending) >= QUEUE_LIMIT and not self._stopping.is_set():
                self._pending_cv.wait(timeout=1)  # the broker holds the rest meanwhile
            self._pending.append((msg.topic, payload, received))
            self._pending_cv.notify_all()

    def _publish_acks(self, *, wait: bool = False) -> None:
        acks, self._acks = self._acks, {}
        sent = []
        now = datetime.now(UTC)
        for kit_id, (watermark, epoch) in acks.items():
            message = AckMessage(
                kit_id=kit_id,
                msg_id=new_msg_id(),
                seq=0,
                ts=now,
                body=Ack(watermark=watermark, epoch=epoch),
            )
            sent.append(
                self._client.publish(
                    kit_topic(kit_id, Channel.ACK), message.to_bytes(), qos=1, retain=True
                )
            )
        self._metrics.acks_published.inc(len(acks))
        for info in sent if wait and self.connected.is_set() else []:
            try:
                info.wait_for_publish(2)
            except (RuntimeError, ValueError):
                break

    def send_command(self, kit_id: str, command: Command, msg_id: str | None = None) -> str:
        """Publish a command to one kit (queued by the broker if the kit is away); its id."""
        message = CommandMessage(
            kit_id=kit_id, msg_id=msg_id or new_msg_id(), seq=0, ts=datetime.now(UTC), body=command
        )
        self._client.publish(kit_topic(kit_id, Channel.CMD), message.to_bytes(), qos=1)
        return message.msg_id

    def publish_schedule(self, kit_id: str, schedule: Schedule) -> None:
        """Publish a kit's upcoming lessons, retained, so the kit has them whenever it connects."""
        message = ScheduleMessage(
            kit_id=kit_id, msg_id=new_msg_id(), seq=0, ts=datetime.now(UTC), body=schedule
        )
        self._client.publish(
            kit_topic(kit_id, Channel.SCHEDULE), message.to_bytes(), qos=1, retain=True
        )

    def publish_manifest(self, kit_id: str, pointer: ManifestPointer) -> None:
        """Announce a kit's newest content manifest, retained (`controller.content.publisher`)."""
        message = ManifestMessage(
            kit_id=kit_id, msg_id=new_msg_id(), seq=0, ts=datetime.now(UTC), body=pointer
        )
        self._client.publish(
            kit_topic(kit_id, Channel.MANIFEST), message.to_bytes(), qos=1, retain=True
        )

    def flooded(self) -> bool:
        """Whether messages arrive faster than FLOOD_RATE since the last question (a replay)."""
        now, arrived = time.monotonic(), self._arrived
        then, before = self._rate_mark
        self._rate_mark = (now, arrived)
        return now > then and (arrived - before) / (now - then) > FLOOD_RATE

    def _renew_certificate(self, kit_id: str, data: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        try:  # limited per kit; supersedes its other certificates and publishes the CRL
            cert_pem = trust.renew_kit(
                self._sessions, kit_id=kit_id, data=data, settings=self._settings, now=now
            )
        except trust.TrustError as exc:
            _LOGGER.warning("refused to renew kit %s: %s", kit_id, exc)
            return
        self.send_command(
            kit_id,
            Command(
                kind="install_certificate",
                expires_at=now + timedelta(days=1),
                args={"certificate_pem": cert_pem.decode()},
            ),
        )

    def _housekeeping(self) -> None:
        now = datetime.now(UTC)
        try:
            with self._sessions.begin() as session:
                gone = mark_silent_kits_offline(
                    session, now=now, factor=self._settings.offline_factor
                )
        except SQLAlchemyError:
            _LOGGER.exception("housekeeping failed")
            return
        try:  # bounded passes, one per housekeeping round while rows remain
            deleted = self._retention.tick(self._sessions, now=now, monotonic=time.monotonic())
        except SQLAlchemyError as exc:  # the writer holds the database: next round
            _LOGGER.warning("retention pass failed, retried later: %s", exc)
            deleted = {}
        for table, n in deleted.items():
            self._metrics.retention_deleted.labels(table=table).inc(n)
        if self.tls:
            self._crl.keep_fresh(now)
        if gone:
            _LOGGER.info("offline (silent too long): %s", ", ".join(gone))
            self._refresh_kit_gauges()

    def _refresh_kit_gauges(self) -> None:
        self._gauges_at = time.monotonic()
        try:
            with self._sessions() as session:
                known, online = count_kits(session)
        except SQLAlchemyError:
            _LOGGER.exception("cannot count kits")
            return
        self._metrics.kits_known.set(known)
        self._metrics.kits_online.set(online)
