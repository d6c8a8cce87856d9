"""The agent's one MQTT adapter: MQTT 5 over TLS, QoS 1, Last Will, reconnect with backoff.

paho's network thread reconnects by itself (first connection included) with a delay that doubles
from `reconnect_min_delay` to `reconnect_max_delay`; every (re)connection re-subscribes and calls
the `on_connect` hook, so the retained status is `online` again after a broker restart. The session
is persistent (clean start off, with an expiry), so commands sent while the kit is away wait.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_LOGGER = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
"""How long the broker keeps an absent kit's session (its subscriptions and queued commands)."""


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
        self._broker = (host, port)
        self._keepalive = keepalive
        self._subscriptions = subscriptions or []
        self._on_connect_hook = on_connect
        self._on_message_hook = on_message
        self.connected = threading.Event()
        self.tls = tls
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self._client.max_inflight_messages_set(100)
        self._client.reconnect_delay_set(
            min_delay=max(1, round(reconnect_min_delay)),
            max_delay=max(1, round(reconnect_max_delay)),
        )
        if tls is not None:
            self._client.tls_set_context(tls)
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_message = self._handle_message

    def start(self) -> None:
        """Connect in the background; returns at once and keeps retrying until `stop`."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            *self._broker, keepalive=self._keepalive, clean_start=False, properties=props
        )
        self._client.loop_start()

    def restart(self) -> None:
        """Drop the connection and connect again (after the TLS identity changed)."""
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        self.start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Hand a QoS 1 message to paho; False if it was not accepted (e.g. not connected)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            _LOGGER.debug("publish to %s not accepted: %s", topic, mqtt.error_string(info.rc))
            return False
        return True

    def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 5.0) -> None:
        """Publish a last retained message if connected (the clean `offline`), then disconnect."""
        if final is not None and self.connected.is_set():
            info = self._client.publish(final[0], final[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                _LOGGER.info("final message not confirmed: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    # paho callbacks: each catches and logs; none may raise into paho's loop.

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.warning("broker refused connection: %s", reason_code)
            return
        _LOGGER.info("connected to %s:%s", *self._broker)
        self._forget_unsent(client)
        if self._subscriptions:
            client.subscribe([(t, 1) for t in self._subscriptions])
        self.connected.set()
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook(self)
            except Exception:  # a hook must not kill paho's thread
                _LOGGER.exception("on_connect hook failed")

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

    def _handle_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        _LOGGER.warning("cannot reach broker %s:%s; retrying", *self._broker)

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self.connected.is_set():
            _LOGGER.warning("disconnected from broker (%s); reconnecting", reason_code)
        self.connected.clear()

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._on_message_hook is None:
            return
        try:
            self._on_message_hook(msg.topic, bytes(msg.payload))
        except Exception:
            _LOGGER.exception("handling a message on %s failed", msg.topic)
