"""Decoding what arrives on a kit topic: the one place the wire is checked."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import ValidationError

from protocol.content import ManifestMessage
from protocol.errors import ProtocolError, RejectReason
from protocol.limits import MAX_PAYLOAD_BYTES, MAX_TS_AHEAD, SCHEMA_VERSION
from protocol.models import (
    AckMessage,
    CommandMessage,
    Envelope,
    EventMessage,
    GapData,
    ScheduleMessage,
    StatusMessage,
    TelemetryMessage,
)
from protocol.timebounds import RANGE, within
from protocol.topics import AGENT_TO_CONTROLLER, Channel, KitTopic, parse_topic

MESSAGE_TYPES: dict[Channel, type[Envelope]] = {
    Channel.TELEMETRY: TelemetryMessage,
    Channel.EVENTS: EventMessage,
    Channel.STATUS: StatusMessage,
    Channel.ACK: AckMessage,
    Channel.CMD: CommandMessage,
    Channel.SCHEDULE: ScheduleMessage,
    Channel.MANIFEST: ManifestMessage,
}


def _short(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def decode(
    topic: str,
    payload: bytes,
    accept: frozenset[Channel] = AGENT_TO_CONTROLLER,
    *,
    now: datetime | None = None,
) -> tuple[KitTopic, Envelope]:
    """Check and parse one message on a channel in `accept` (by default what agents send).

    Its `ts` must lie in the years 2000 to 2100 and, given the receiver's `now` (the decoder
    reads no clock), at most `MAX_TS_AHEAD` ahead of it. Raises ProtocolError with the reason
    for anything else.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            RejectReason.OVERSIZED, f"{len(payload)} bytes > limit {MAX_PAYLOAD_BYTES}"
        )
    kit_topic = parse_topic(topic)
    model = MESSAGE_TYPES.get(kit_topic.channel)
    if model is None or kit_topic.channel not in accept:
        raise ProtocolError(
            RejectReason.UNKNOWN_TOPIC, f"{kit_topic.channel.value} is not accepted here"
        )
    try:
        # The common case first: one pass in pydantic's own JSON parser.
        message = model.model_validate_json(payload)
    except ValidationError:
        pass  # find out why below, for the right reason
    else:
        return kit_topic, _checked(kit_topic, message, now)
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(RejectReason.MALFORMED_JSON, str(exc)) from None
    if not isinstance(raw, dict):
        raise ProtocolError(RejectReason.MALFORMED_JSON, "payload is not a JSON object")
    if raw.get("schema") != SCHEMA_VERSION:
        raise ProtocolError(
            RejectReason.SCHEMA_VERSION,
            f"schema {raw.get('schema')!r}, this controller reads {SCHEMA_VERSION}",
        )
    try:
        message = model.model_validate(raw)
    except ValidationError as exc:
        raise ProtocolError(RejectReason.INVALID, _short(exc)) from None
    return kit_topic, _checked(kit_topic, message, now)


class TsRefusedError(ProtocolError):
    """A message sound in every way but its `ts`: the receiver may still settle its `seq`."""

    def __init__(self, refused: ProtocolError, envelope: Envelope) -> None:
        super().__init__(refused.reason, refused.detail)
        self.envelope = envelope


def check_ts(ts: datetime, now: datetime | None = None) -> None:
    """Refuse a `ts` outside the years 2000 to 2100 or, given `now`, too far ahead of it."""
    if not within(ts):
        raise ProtocolError(RejectReason.TS_OUT_OF_RANGE, f"ts {ts.isoformat()} is not in {RANGE}")
    if now is not None and ts - now > MAX_TS_AHEAD:
        raise ProtocolError(
            RejectReason.TS_AHEAD,
            f"ts {ts.isoformat()} is {ts - now} ahead of the receiver's clock "
            f"(at most {MAX_TS_AHEAD})",
        )


def _checked(kit_topic: KitTopic, message: Envelope, now: datetime | None) -> Envelope:
    if message.kit_id != kit_topic.kit_id:
        raise ProtocolError(
            RejectReason.KIT_MISMATCH,
            f"envelope kit_id {message.kit_id!r} on topic of kit {kit_topic.kit_id!r}",
        )
    if isinstance(message, EventMessage) and message.body.kind == "gap":
        try:
            gap = GapData.model_validate(message.body.data)
        except ValidationError as exc:
            raise ProtocolError(RejectReason.INVALID, f"gap event: {_short(exc)}") from None
        if gap.last_seq < gap.first_seq or gap.last_seq >= message.seq:
            raise ProtocolError(
                RejectReason.INVALID, "gap event: its span must be before the event itself"
            )
    try:  # last: a message refused for its ts alone is otherwise sound
        check_ts(message.ts, now)
    except ProtocolError as exc:
        raise TsRefusedError(exc, message) from None
    return message
