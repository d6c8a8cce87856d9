"""Numbers both sides agree on."""

from datetime import UTC, datetime, timedelta
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

MIN_TS: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest time a message, an API request or an import may carry (a clock that says 1970
has lost its battery). Messages a kit kept offline for months are well after it; its outbox
bounds their age (7 days by default)."""

MAX_TS: Final = datetime(2101, 1, 1, tzinfo=UTC)
"""The first time none may carry: years 2000 to 2100, so that no UTC conversion, database column
or `start + timedelta(...)` downstream can overflow."""

MAX_TS_AHEAD: Final = timedelta(days=1)
"""How far ahead of the receiver's clock a message's `ts` may be; later is a clock gone wrong
(a kit's data dated tomorrow would stand as its latest until then)."""

MAX_JSON_DEPTH: Final = 32
"""Deepest nesting of arrays and objects a receiver parses (the deepest snapshot is 5 levels);
deeper payloads are refused before any parser recurses into them."""
