"""Topic builders and the parser, as tables."""

from __future__ import annotations

import pytest

from protocol.errors import ProtocolError, RejectReason
from protocol.topics import Channel, KitTopic, kit_topic, parse_topic, shared, wildcard


@pytest.mark.parametrize(
    ("kit_id", "channel", "topic"),
    [
        ("kit-001", Channel.TELEMETRY, "kits/kit-001/telemetry"),
        ("KZ.ALM_42", Channel.EVENTS, "kits/KZ.ALM_42/events"),
        ("a", Channel.STATUS, "kits/a/status"),
        ("k9", Channel.CMD, "kits/k9/cmd"),
        ("k9", Channel.SCHEDULE, "kits/k9/schedule"),
        ("k9", Channel.MANIFEST, "kits/k9/manifest"),
        ("k9", Channel.ACK, "kits/k9/ack"),
    ],
)
def test_build_and_parse_round_trip(kit_id: str, channel: Channel, topic: str) -> None:
    assert kit_topic(kit_id, channel) == topic
    assert parse_topic(topic) == KitTopic(kit_id, channel)
    assert str(parse_topic(topic)) == topic


@pytest.mark.parametrize(
    "kit_id", ["", "a/b", "+", "#", "kit 1", "-lead", ".lead", "x" * 65, "kit\x00", "ключ"]
)
def test_unsafe_kit_ids_are_refused(kit_id: str) -> None:
    with pytest.raises(ValueError, match="invalid kit id"):
        kit_topic(kit_id, Channel.TELEMETRY)


@pytest.mark.parametrize(
    "topic",
    [
        "kits/k1",
        "kits/k1/telemetry/extra",
        "devices/k1/telemetry",
        "kits/k1/unknown",
        "kits/+/telemetry",
        "kits/a b/telemetry",
        "",
        "/kits/k1/telemetry",
    ],
)
def test_parse_refuses_foreign_topics(topic: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_topic(topic)
    assert info.value.reason is RejectReason.UNKNOWN_TOPIC


def test_filters() -> None:
    assert wildcard(Channel.TELEMETRY) == "kits/+/telemetry"
    assert shared(wildcard(Channel.EVENTS)) == "$share/controllers/kits/+/events"
