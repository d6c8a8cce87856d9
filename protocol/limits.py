"""Numbers both sides agree on."""

from typing import Final

SCHEMA_VERSION: Final = 1
"""Version of every envelope this code writes; the controller rejects any other."""

MAX_PAYLOAD_BYTES: Final = 64 * 1024
"""Largest payload either side accepts on any topic (a full snapshot is a few kilobytes)."""

KIT_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A kit id: a safe MQTT topic level and certificate CN (no '/', '+', '#', no spaces)."""

MAX_SEQ: Final = 2**63 - 1
"""Largest sequence number (a signed 64-bit column)."""

EPOCH_PATTERN: Final = r"^[0-9a-f]{8,32}$"
"""An outbox life: random hex made when the kit's outbox is created."""
