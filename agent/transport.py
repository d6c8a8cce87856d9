"""The agent's one MQTT adapter: MQTT 5 over TLS, QoS 1, Last Will, reconnect with backoff.

The client itself is `common.mqtt.MqttClient` (the controller's shape too): paho's network thread
reconnects by itself (first connection included) with a delay that doubles from
`reconnect_min_delay` to `reconnect_max_delay`; every (re)connection re-subscribes and calls the
`on_connect` hook, so the retained status is `online` again after a broker restart. The session is
persistent (clean start off, with an expiry), so commands sent while the kit is away wait.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from common.mqtt import MqttClient, Reconnect

_LOGGER = logging.getLogger(__name__)

MAX_INFLIGHT = 100


class MqttTransport:
    """A connected-when-possible MQTT client for one kit."""

    def __init__(
        self,
        *,
        client_id: str,
        host: str,
        port: int,
        keepalive: int,
        reconnect_min_delay: float,
        reconnect_max_delay: float,
        tls: ssl.SSLContext | None = None,
        will: tuple[str, bytes] | None = None,
        subscriptions: list[str] | None = None,
        on_connect: Callable[[MqttTransport], None] | None = None,
        on_message: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self._on_connect_hook = on_connect
        self._on_message_hook = on_message
        self.callback_errors = 0
        """Callbacks that raised (each logged; paho's thread went on)."""
        self._mqtt = MqttClient(
            client_id=client_id,
            broker=(host, port),
            keepalive=keepalive,
            reconnect=Reconnect(reconnect_min_delay, reconnect_max_delay),
            max_inflight=MAX_INFLIGHT,
            tls=tls,
            will=will,
            subscriptions=[(t, 1) for t in subscriptions or []],
            on_message=self._handle_message,
            before_subscribe=self._forget_unsent,
            on_connected=self._connected,
            count_error=self._count_error,
        )
        self.connected: threading.Event = self._mqtt.connected
        self.tls = tls

    def start(self) -> None:
        """Connect in the background; returns at once and keeps retrying until `stop`."""
        self._mqtt.start()

    def restart(self) -> None:
        """Drop the connection and connect again (after the TLS identity changed)."""
        self._mqtt.stop()
        self.start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Hand a QoS 1 message to paho; False if it was not accepted (e.g. not connected)."""
        info = self._mqtt.publish(topic, payload, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            _LOGGER.debug("publish to %s not accepted: %s", topic, mqtt.error_string(info.rc))
            return False
        return True

    def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 5.0) -> None:
        """Publish a last retained message if connected (the clean `offline`), then disconnect."""
        self._mqtt.stop(final, timeout)

    # Hooks of the client (guarded by it: none may raise into paho's loop).

    def _count_error(self) -> None:
        self.callback_errors += 1

    def _connected(self) -> None:
        if self._on_connect_hook is not None:
            self._on_connect_hook(self)

    @staticmethod
    def _forget_unsent(client: mqtt.Client) -> None:
        """Drop paho's own copies of what was in flight when the connection broke.

        paho would send them again right after this callback, ahead of the outbox's replay,
        which starts from the oldest unacknowledged message: the two together would deliver out
        of order. The outbox has every one of them, so nothing is lost. paho offers no public
        call for this; the attributes are those of paho-mqtt 2.x, checked before use.
        """
        lock = getattr(client, "_out_message_mutex", None)
        messages = getattr(client, "_out_messages", None)
        if lock is None or messages is None:
            return
        with lock:
            if messages:
                _LOGGER.debug(
                    "dropping %d in-flight copies; the outbox replays them", len(messages)
                )
            messages.clear()
            client._inflight_messages = 0

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message_hook is not None:
            self._on_message_hook(msg.topic, bytes(msg.payload))
