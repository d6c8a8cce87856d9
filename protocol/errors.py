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


class ProtocolError(ValueError):
    """A message or topic that does not follow the wire contract."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
