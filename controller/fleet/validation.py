"""Everything a received message must pass before it is queued for the writer.

The wire contract (`protocol.codec.decode`: size, JSON, schema, model, kit id, `ts`) plus what
the database would refuse later: a payload nested too deep for a parser to recurse into, text
no database can store (a lone surrogate, a NUL) and values longer than the kit columns hold. A
message refused here costs only itself: the writer never sees it, so it never has to split a
batch to find it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic_core import PydanticSerializationError

from protocol.codec import TsRefusedError, decode
from protocol.errors import ProtocolError, RejectReason
from protocol.inventory import ProfileCheck
from protocol.limits import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES
from protocol.models import Envelope, TelemetryMessage
from protocol.topics import KitTopic

PROFILE_MAX = 64
"""Longest profile name the kits table holds (`kits.profile`)."""

# A JSON string (to its closing quote or, unterminated, to the end: linear either way) or a
# bracket. Strings are matched whole so that brackets inside them are not counted.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.?)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def too_deep(payload: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in `payload` nest deeper than `limit` (without parsing it).

    Counting brackets settles the common case in C; only a payload with more brackets than the
    limit is scanned, once, linearly.
    """
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(payload):
        first = token.group()[0]
        if first in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif first in _CLOSE:
            depth -= 1
    return False


def _storable(message: Envelope, payload: bytes) -> None:
    """Refuse what the store would refuse: unencodable text, NULs, an overlong profile."""
    if b"\\u" in payload:  # lone surrogates and NULs can only arrive escaped
        try:
            text = message.model_dump_json()
        except (PydanticSerializationError, UnicodeError):
            raise ProtocolError(
                RejectReason.INVALID, "text that is not valid Unicode (a lone surrogate)"
            ) from None
        if "\\u0000" in text:
            raise ProtocolError(RejectReason.INVALID, "text with a NUL character")
    if isinstance(message, TelemetryMessage):
        profile = message.body.profile
        if isinstance(profile, ProfileCheck) and len(profile.profile) > PROFILE_MAX:
            raise ProtocolError(
                RejectReason.INVALID, f"body.profile.profile: longer than {PROFILE_MAX}"
            )


def check(topic: str, payload: bytes, *, now: datetime) -> tuple[KitTopic, Envelope]:
    """Decode one received message and make sure the store can take it.

    Raises ProtocolError with the reason (TsRefusedError, carrying the envelope, for a message
    sound but for its `ts`, which the writer settles).
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            RejectReason.OVERSIZED, f"{len(payload)} bytes > limit {MAX_PAYLOAD_BYTES}"
        )
    if too_deep(payload):
        raise ProtocolError(RejectReason.MALFORMED_JSON, f"nested deeper than {MAX_JSON_DEPTH}")
    try:
        kit_topic, message = decode(topic, payload, now=now)
    except TsRefusedError as exc:
        _storable(exc.envelope, payload)
        raise
    except RecursionError:  # too_deep keeps it from happening; never a traceback if it does
        raise ProtocolError(RejectReason.MALFORMED_JSON, "nested too deep") from None
    _storable(message, payload)
    return kit_topic, message
