"""Why a message is refused; shared by decoding and the controller's counters."""

from enum import StrEnum


class RejectReason(StrEnum):
    """The reasons a received message is rejected (the label of the controller's counter)."""

    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_VERSION = "schema_version"
    INVALID = "invalid"
    KIT_MISMATCH = "kit_mismatch"
    UNKNOWN_TOPIC = "unknown_topic"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    """`ts` outside the years 2000 to 2100 (`protocol.limits.MIN_TS`, `MAX_TS`)."""
    TS_AHEAD = "ts_ahead"
    """`ts` more than `MAX_TS_AHEAD` ahead of the receiver's clock."""


class ProtocolError(ValueError):
    """A message or topic that does not follow the wire contract."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
