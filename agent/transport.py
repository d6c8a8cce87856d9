"""The agent's one MQTT adapter: MQTT 5, QoS 1, Last Will, reconnect with backoff.

paho's network thread reconnects by itself (first connection included) with a delay that doubles
from `reconnect_min_delay` to `reconnect_max_delay`; every (re)connection re-announces the kit
through the `on_connect` hook, so the retained status is `online` again after a broker restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_LOGGER = logging.getLogger(__name__)

MAX_QUEUED = 1000
"""Messages paho keeps in memory while the broker is away (the durable outbox comes later)."""


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
        will: tuple[str, bytes] | None = None,
        on_connect: Callable[[MqttTransport], None] | None = None,
    ) -> None:
        self._host, self._port, self._keepalive = host, port, keepalive
        self._broker = (host, port)
        self._on_connect_hook = on_connect
        self.connected = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.reconnect_delay_set(
            min_delay=max(1, round(reconnect_min_delay)),
            max_delay=max(1, round(reconnect_max_delay)),
        )
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_connect_fail = self._handle_connect_fail

    def start(self) -> None:
        """Connect in the background; returns at once and keeps retrying until `stop`."""
        self._client.connect_async(self._host, self._port, keepalive=self._keepalive)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Queue a QoS 1 message; False if it could not even be queued."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _LOGGER.warning("publish to %s not queued: %s", topic, mqtt.error_string(info.rc))
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
        _LOGGER.info("connected to %s:%s", self._host, self._port)
        self.connected.set()
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook(self)
            except Exception:  # a hook must not kill paho's thread
                _LOGGER.exception("on_connect hook failed")

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
