"""The agent's main loop: announce presence, then publish a snapshot every interval."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Literal

from agent import __version__
from agent.collectors import SystemCollector
from agent.config import AgentSettings
from agent.sequence import SequenceCounter
from agent.transport import MqttTransport
from protocol.models import (
    Envelope,
    Event,
    EventMessage,
    Status,
    StatusMessage,
    TelemetryMessage,
    envelope_kwargs,
)
from protocol.topics import Channel, kit_topic

_LOGGER = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class Agent:
    """One kit's agent: owns the collector, the sequence counter and the transport."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._seq = SequenceCounter(settings.state_dir)
        self._collector = SystemCollector()
        self._transport = MqttTransport(
            client_id=f"kit-{settings.kit_id}",
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            keepalive=settings.keepalive,
            reconnect_min_delay=settings.reconnect_min_delay,
            reconnect_max_delay=settings.reconnect_max_delay,
            will=self._status("offline"),
            on_connect=self._announce,
        )

    def _status(self, state: Literal["online", "offline"]) -> tuple[str, bytes]:
        # Status is state, not history: it carries the last data seq and is not acknowledged.
        message = StatusMessage(
            **envelope_kwargs(self.settings.kit_id, self._seq.last, _now()),
            body=Status(
                state=state,
                agent_version=__version__,
                interval_s=self.settings.interval,
            ),
        )
        return kit_topic(self.settings.kit_id, Channel.STATUS), message.to_bytes()

    def _announce(self, transport: MqttTransport) -> None:
        topic, payload = self._status("online")
        transport.publish(topic, payload, retain=True)

    def _publish(self, channel: Channel, message: Envelope) -> None:
        self._transport.publish(kit_topic(self.settings.kit_id, channel), message.to_bytes())

    def publish_event(self, event: Event) -> None:
        """Send one event on the kit's events topic."""
        message = EventMessage(
            **envelope_kwargs(self.settings.kit_id, self._seq.next(), _now()), body=event
        )
        self._publish(Channel.EVENTS, message)

    def publish_snapshot(self) -> None:
        """Collect and send one telemetry snapshot."""
        body = self._collector.collect(self.settings.interval)
        message = TelemetryMessage(
            **envelope_kwargs(self.settings.kit_id, self._seq.next(), _now()), body=body
        )
        self._publish(Channel.TELEMETRY, message)

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set: snapshot at once, then every interval without drift."""
        _LOGGER.info(
            "agent %s for kit %s: broker %s:%s, every %ss",
            __version__,
            self.settings.kit_id,
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            self.settings.interval,
        )
        self._collector.prime()
        self._transport.start()
        self.publish_event(
            Event(kind="agent_started", message=f"kitkeeper agent {__version__} started")
        )
        next_at = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    self.publish_snapshot()
                except Exception:  # one failed snapshot must not stop the agent
                    _LOGGER.exception("snapshot failed")
                next_at += self.settings.interval
                now = time.monotonic()
                if next_at < now:  # fell behind (suspend, overload): skip, do not burst
                    next_at = now + self.settings.interval
                stop.wait(next_at - now)
        finally:
            self._transport.stop(final=self._status("offline"))
            _LOGGER.info("agent stopped")
