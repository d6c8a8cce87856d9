"""Topic builders and the one topic parser (see DESIGN.md, "Topics")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import ProtocolError, RejectReason
from protocol.limits import KIT_ID_PATTERN

ROOT = "kits"
SHARE_GROUP = "controllers"
"""The shared-subscription group of a controller without TLS (development). With its device CA a
controller uses a group derived from the CA's key (`controller.trust.pki.share_group`), which kits
cannot name; the broker refuses them shared subscriptions anyway."""
_KIT_ID_RE = re.compile(KIT_ID_PATTERN)


class Channel(StrEnum):
    """The last level of a kit topic."""

    TELEMETRY = "telemetry"
    EVENTS = "events"
    STATUS = "status"
    CMD = "cmd"
    SCHEDULE = "schedule"
    MANIFEST = "manifest"
    ACK = "ack"


AGENT_TO_CONTROLLER: frozenset[Channel] = frozenset(
    {Channel.TELEMETRY, Channel.EVENTS, Channel.STATUS}
)
CONTROLLER_TO_AGENT: frozenset[Channel] = frozenset(
    {Channel.CMD, Channel.SCHEDULE, Channel.MANIFEST, Channel.ACK}
)


def is_valid_kit_id(kit_id: str) -> bool:
    """Tell whether a kit id is safe as a topic level and certificate CN."""
    return bool(_KIT_ID_RE.fullmatch(kit_id))


def validate_kit_id(kit_id: str) -> str:
    """Return the kit id unchanged, or raise ValueError saying what is wrong with it."""
    if not is_valid_kit_id(kit_id):
        raise ValueError(
            f"invalid kit id {kit_id!r}: 1-64 characters, letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return kit_id


def kit_topic(kit_id: str, channel: Channel) -> str:
    """Build `kits/{kit_id}/{channel}`."""
    return f"{ROOT}/{validate_kit_id(kit_id)}/{channel.value}"


def wildcard(channel: Channel) -> str:
    """The filter for one channel of every kit: `kits/+/{channel}`."""
    return f"{ROOT}/+/{channel.value}"


def shared(topic_filter: str, group: str = SHARE_GROUP) -> str:
    """Wrap a filter in a shared subscription so several controllers (of one `group`) split the
    load."""
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True, slots=True)
class KitTopic:
    """A parsed kit topic."""

    kit_id: str
    channel: Channel

    def __str__(self) -> str:
        return kit_topic(self.kit_id, self.channel)


def parse_topic(topic: str) -> KitTopic:
    """Parse `kits/{kit_id}/{channel}`; raise ProtocolError(UNKNOWN_TOPIC) for anything else."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != ROOT:
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, f"not a kit topic: {topic!r}")
    _, kit_id, channel = parts
    if not is_valid_kit_id(kit_id):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, f"invalid kit id in topic: {topic!r}")
    try:
        return KitTopic(kit_id, Channel(channel))
    except ValueError:
        raise ProtocolError(
            RejectReason.UNKNOWN_TOPIC, f"unknown channel {channel!r} in topic {topic!r}"
        ) from None
