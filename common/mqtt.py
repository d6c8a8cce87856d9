"""The one shape of an MQTT client in kitkeeper, for the agent and the controller alike.

paho v2 callbacks, MQTT 5, TLS that trusts only the kitkeeper CA and presents our certificate, a
persistent session (clean start off, with an expiry) and paho's own reconnect loop, whose delay
doubles from `Reconnect.min_delay` to `Reconnect.max_delay` (the first connection included).
Every callback handed to paho is `guarded`: it catches, logs and counts, so one bad message or
hook never stops paho's network thread. Each program's adapter (`agent.transport`,
`controller.fleet.ingest`) wraps one `MqttClient` and adds what it alone does.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_LOGGER = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
"""How long the broker keeps an absent client's session (its subscriptions and queued messages)."""

_P = ParamSpec("_P")

OnMessage = Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]
"""paho's on_message: (client, userdata, message)."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """paho's reconnect backoff, in seconds (paho takes whole seconds, at least one)."""

    min_delay: float = 1.0
    max_delay: float = 10.0


def tls_context(*, ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """Trust only the CA at `ca`; present the certificate `cert` with its key `key`."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def guarded(
    callback: Callable[_P, None], *, count: Callable[[], object] | None = None
) -> Callable[_P, None]:
    """`callback` for paho's thread: an exception is logged (and counted), never raised."""
    name = callback.__name__

    @functools.wraps(callback)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            callback(*args, **kwargs)
        except Exception:
            if count is not None:
                count()
            topic = next((a.topic for a in args if isinstance(a, mqtt.MQTTMessage)), None)
            where = f" on {topic}" if topic is not None else ""
            _LOGGER.exception("MQTT callback %s failed%s", name, where)

    return run


class MqttClient:
    """One paho client, connected whenever the broker can be reached; see the module docstring."""

    def __init__(
        self,
        *,
        client_id: str,
        broker: tuple[str, int],
        keepalive: int,
        reconnect: Reconnect,
        max_inflight: int,
        tls: ssl.SSLContext | None = None,
        will: tuple[str, bytes] | None = None,
        subscriptions: Sequence[tuple[str, int]] = (),
        receive_maximum: int | None = None,
        who: str = "connection",
        on_message: OnMessage | None = None,
        before_subscribe: Callable[[mqtt.Client], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[], None] | None = None,
        count_error: Callable[[], object] | None = None,
    ) -> None:
        self.broker = broker
        self._keepalive = keepalive
        self._subscriptions = list(subscriptions)
        self._receive_maximum = receive_maximum
        self._who = who
        self._before_subscribe = before_subscribe
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.connected = threading.Event()
        self.tls = tls
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.reconnect_delay_set(
            min_delay=max(1, round(reconnect.min_delay)),
            max_delay=max(1, round(reconnect.max_delay)),
        )
        if tls is not None:
            self.client.tls_set_context(tls)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = guarded(self._handle_connect, count=count_error)
        self.client.on_disconnect = guarded(self._handle_disconnect, count=count_error)
        self.client.on_connect_fail = guarded(self._handle_connect_fail, count=count_error)
        if on_message is not None:
            self.client.on_message = guarded(on_message, count=count_error)

    def start(self) -> None:
        """Connect in the background; returns at once and keeps retrying until `stop`."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        if self._receive_maximum is not None:
            props.ReceiveMaximum = self._receive_maximum
        self.client.connect_async(
            *self.broker, keepalive=self._keepalive, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 5.0) -> None:
        """Publish a last retained message if connected (a clean `offline`), then disconnect."""
        if final is not None and self.connected.is_set():
            info = self.client.publish(final[0], final[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                _LOGGER.info("final message not confirmed: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand a QoS 1 message to paho (queued by paho while the connection is down)."""
        return self.client.publish(topic, payload, qos=1, retain=retain)

    # paho callbacks (each guarded where it is handed to paho).

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.warning("broker refused %s: %s", self._who, reason_code)
            return
        _LOGGER.info("connected to broker %s:%s", *self.broker)
        if self._before_subscribe is not None:
            self._before_subscribe(client)
        if self._subscriptions:
            client.subscribe(self._subscriptions)
        self.connected.set()
        if self._on_connected is not None:
            self._on_connected()

    def _handle_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        _LOGGER.warning("cannot reach broker %s:%s; retrying", *self.broker)

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
        if self._on_disconnected is not None:
            self._on_disconnected()
