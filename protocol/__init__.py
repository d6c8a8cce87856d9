"""The wire contract shared by the agent and the controller: topics, messages, limits. No I/O."""

from protocol.errors import ProtocolError, RejectReason
from protocol.limits import MAX_PAYLOAD_BYTES, SCHEMA_VERSION

__all__ = ["MAX_PAYLOAD_BYTES", "SCHEMA_VERSION", "ProtocolError", "RejectReason"]
