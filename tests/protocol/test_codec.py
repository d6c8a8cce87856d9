"""Decoding: every good message accepted, every bad one refused for its own reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.codec import decode
from protocol.errors import ProtocolError, RejectReason
from protocol.limits import MAX_PAYLOAD_BYTES
from protocol.models import (
    Event,
    EventMessage,
    Status,
    StatusMessage,
    Telemetry,
    TelemetryMessage,
    Unavailable,
)
from tests.protocol.messages import telemetry_body

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def envelope(body: Any, kit_id: str = "kit-1", **over: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "kit_id": kit_id,
        "msg_id": "m1",
        "seq": 7,
        "ts": "2026-11-25T09:00:00Z",
        "body": body,
    } | over


def raw(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def test_telemetry_round_trip() -> None:
    topic, message = decode("kits/kit-1/telemetry", raw(envelope(telemetry_body())))
    assert topic.kit_id == "kit-1"
    assert isinstance(message, TelemetryMessage)
    assert isinstance(message.body.swap, Unavailable)
    assert message.body.disks[0].used_percent == 91.0  # type: ignore[index]
    assert decode("kits/kit-1/telemetry", message.to_bytes())[1] == message


def test_event_and_status_are_typed() -> None:
    _, event = decode("kits/k/events", raw(envelope({"kind": "hotplug"}, kit_id="k")))
    assert isinstance(event, EventMessage)
    assert event.body.severity == "info"
    _, status = decode("kits/k/status", raw(envelope({"state": "offline"}, kit_id="k")))
    assert isinstance(status, StatusMessage)
    assert status.body.state == "offline"


def test_unknown_fields_are_ignored() -> None:
    body = telemetry_body() | {"gpu": {"percent": 3}}
    _, message = decode("kits/kit-1/telemetry", raw(envelope(body, future_field=1)))
    assert isinstance(message.body, Telemetry)


def test_models_build_what_decode_reads() -> None:
    message = StatusMessage(
        kit_id="k", msg_id="x", seq=0, ts=NOW, body=Status(state="online", agent_version="1")
    )
    assert decode("kits/k/status", message.to_bytes())[1] == message
    event = EventMessage(kit_id="k", msg_id="y", seq=1, ts=NOW, body=Event(kind="agent_started"))
    assert decode("kits/k/events", event.to_bytes())[1] == event


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("kits/kit-1/telemetry", b"{not json", RejectReason.MALFORMED_JSON),
        ("kits/kit-1/telemetry", b"\xff\xfe", RejectReason.MALFORMED_JSON),
        ("kits/kit-1/telemetry", b"[1, 2]", RejectReason.MALFORMED_JSON),
        (
            "kits/kit-1/telemetry",
            raw(envelope(telemetry_body(), schema=2)),
            RejectReason.SCHEMA_VERSION,
        ),
        ("kits/kit-1/telemetry", raw({"kit_id": "kit-1"}), RejectReason.SCHEMA_VERSION),
        (
            "kits/kit-1/telemetry",
            raw(envelope(telemetry_body(), kit_id="kit-2")),
            RejectReason.KIT_MISMATCH,
        ),
        ("kits/kit-1/telemetry", raw(envelope({"hostname": "x"})), RejectReason.INVALID),
        ("kits/kit-1/telemetry", raw(envelope(telemetry_body(), seq=-1)), RejectReason.INVALID),
        (
            "kits/kit-1/telemetry",
            raw(envelope(telemetry_body(), ts="2026-11-25T09:00:00")),
            RejectReason.INVALID,
        ),
        ("kits/kit-1/status", raw(envelope({"state": "sleeping"})), RejectReason.INVALID),
        ("kits/kit-1/events", raw(envelope({"kind": ""})), RejectReason.INVALID),
        ("kits/kit-1/cmd", raw(envelope({})), RejectReason.UNKNOWN_TOPIC),
        ("kits/kit-1/whatever", raw(envelope({})), RejectReason.UNKNOWN_TOPIC),
        ("kits/kit-1/telemetry", b" " * (MAX_PAYLOAD_BYTES + 1), RejectReason.OVERSIZED),
    ],
)
def test_bad_messages_are_refused_for_their_reason(
    topic: str, payload: bytes, reason: RejectReason
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(topic, payload)
    assert info.value.reason is reason
    assert info.value.detail


def test_limit_is_inclusive() -> None:
    body = raw(envelope(telemetry_body()))
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    decode("kits/kit-1/telemetry", padded)


@pytest.mark.parametrize(
    "data",
    [
        {"dropped": 3, "first_seq": "x", "last_seq": 5},
        {"dropped": 3, "first_seq": None, "last_seq": 5},
        {"dropped": 3, "first_seq": 1, "last_seq": 2**64},
        {"dropped": 3, "first_seq": 6, "last_seq": 5},
        {"dropped": 3, "first_seq": 1, "last_seq": 7},  # not before the event (seq 7)
        {"first_seq": 1, "last_seq": 3},
    ],
)
def test_a_gap_event_must_say_a_sane_span(data: dict[str, Any]) -> None:
    payload = raw(envelope({"kind": "gap", "data": data}, kit_id="k"))
    with pytest.raises(ProtocolError) as info:
        decode("kits/k/events", payload)
    assert info.value.reason is RejectReason.INVALID


@pytest.mark.parametrize(
    ("over", "body"),
    [
        ({"seq": 2**63}, None),
        ({"epoch": "NOT-HEX"}, None),
        ({}, telemetry_body() | {"agent_version": "v" * 65}),
        ({}, telemetry_body() | {"hostname": "h" * 256}),
    ],
)
def test_values_that_would_not_fit_the_database_are_refused(
    over: dict[str, Any], body: dict[str, Any] | None
) -> None:
    payload = raw(envelope(body or telemetry_body(), **over))
    with pytest.raises(ProtocolError) as info:
        decode("kits/kit-1/telemetry", payload)
    assert info.value.reason is RejectReason.INVALID
