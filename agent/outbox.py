"""The durable outbox: every data message is written here before it is published.

A message leaves the outbox only when the controller's acknowledgement watermark covers it (the
highest `seq` up to which everything is committed on the controller): a PUBACK only means the broker
has it, and a broker killed with -9 loses what it held. The outbox also hands out the per-kit `seq`.

It is bounded by count, bytes and age. When a bound is hit, the oldest messages are dropped in one
chunk and a `gap` event is queued saying how many and which `seq` span and time span; a gap event
that is itself dropped later is folded into the next one, so the controller always learns the whole
span it must skip.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import ConfigError
from protocol.models import Envelope, Event, EventMessage, Severity, envelope_kwargs
from protocol.topics import Channel

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much the outbox keeps while the controller is unreachable."""

    max_messages: int = 25_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_s: float = 7 * 24 * 3600.0

    @property
    def drop_chunk(self) -> int:
        """How many messages one drop removes (a tenth of the bound, so gaps are few)."""
        return max(1, self.max_messages // 10)


@dataclass(frozen=True, slots=True)
class Pending:
    """One message waiting for the controller's acknowledgement."""

    seq: int
    channel: Channel
    payload: bytes


class Outbox:
    """A SQLite-backed, bounded, ordered store of unacknowledged messages."""

    def __init__(
        self,
        path: Path,
        *,
        kit_id: str,
        bounds: Bounds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kit_id = kit_id
        self.bounds = bounds or Bounds()
        self._clock = clock
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged add survives power loss
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the outbox {path}: {exc}") from exc
        self._last_seq = int(self._meta("last_seq", "0"))
        epoch = self._meta("epoch", "")
        if not epoch:  # a new outbox is a new life of the kit: its seq starts again
            epoch = secrets.token_hex(8)
            self._set_meta("epoch", epoch)
        self.epoch = epoch
        self._count, self._bytes = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM messages"
        ).fetchone()

    # --- state -------------------------------------------------------------------------------

    def _meta(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def last_seq(self) -> int:
        """The last `seq` handed out (0 before the first message)."""
        return self._last_seq

    def __len__(self) -> int:
        return int(self._count)

    @property
    def size_bytes(self) -> int:
        """Payload bytes held."""
        return int(self._bytes)

    def first_seq(self) -> int | None:
        """The oldest `seq` still waiting, or None when everything is acknowledged."""
        with self._lock:
            row = self._db.execute("SELECT min(seq) FROM messages").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    # --- adding --------------------------------------------------------------------------------

    def add(self, channel: Channel, build: Callable[[dict[str, object]], Envelope]) -> Envelope:
        """Assign the next `seq`, build the message with it, and store it durably before returning.

        `build` receives the envelope fields (`kit_id`, `msg_id`, `seq`, `ts`) and returns the
        message.
        """
        with self._lock:
            # One transaction: a reader never sees the outbox past its bound, and a failure
            # leaves neither the message nor a half-done drop behind.
            saved = (self._last_seq, self._count, self._bytes)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                message = self._insert(channel, build)
                self._enforce_bounds()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._last_seq, self._count, self._bytes = saved
                raise
            return message

    def _insert(self, channel: Channel, build: Callable[[dict[str, object]], Envelope]) -> Envelope:
        seq = self._last_seq + 1
        message = build(envelope_kwargs(self.kit_id, seq, self._clock(), self.epoch))
        payload = message.to_bytes()
        kind = getattr(message.body, "kind", "") if isinstance(message, EventMessage) else ""
        self._db.execute(
            "INSERT INTO messages(seq, msg_id, channel, kind, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, message.msg_id, channel.value, kind, payload, message.ts.timestamp()),
        )
        self._set_meta("last_seq", str(seq))
        self._last_seq = seq
        self._count += 1
        self._bytes += len(payload)
        return message

    def _enforce_bounds(self) -> None:
        now = self._clock().timestamp()
        (oldest,) = self._db.execute("SELECT min(created_at) FROM messages").fetchone()
        if oldest is not None and oldest < now - self.bounds.max_age_s:
            # Past the age bound: drop down to 90% of it at once, so gaps come in chunks.
            (aged,) = self._db.execute(
                "SELECT count(*) FROM messages WHERE created_at < ?",
                (now - 0.9 * self.bounds.max_age_s,),
            ).fetchone()
            self._drop(int(aged), reason="age")
        if self._count > self.bounds.max_messages:
            over = self._count - self.bounds.max_messages + 1  # +1: room for the gap event
            self._drop(max(over, self.bounds.drop_chunk), reason="size")
        elif self._bytes > self.bounds.max_bytes:
            self._drop(self._count_over_bytes(), reason="size")

    def _count_over_bytes(self) -> int:
        """How many of the oldest messages to drop to get a tenth under the byte bound."""
        target = self._bytes - int(self.bounds.max_bytes * 0.9)
        total, n = 0, 0
        for (size,) in self._db.execute("SELECT length(payload) FROM messages ORDER BY seq"):
            total += size
            n += 1
            if total >= target:
                break
        return max(n, 1)

    def _drop(self, n: int, *, reason: str) -> None:
        rows = self._db.execute(
            "SELECT seq, kind, payload, created_at, length(payload) FROM messages "
            "ORDER BY seq LIMIT ?",
            (n,),
        ).fetchall()
        if not rows:
            return
        first_seq, last_seq = rows[0][0], rows[-1][0]
        first_ts, last_ts = rows[0][3], rows[-1][3]
        dropped = 0
        for _, kind, payload, _, _ in rows:
            if kind == "gap":  # fold an older gap into this one: its span is older still
                data = json.loads(payload)["body"]["data"]
                first_seq = min(first_seq, int(data["first_seq"]))
                first_ts = min(first_ts, datetime.fromisoformat(data["from"]).timestamp())
                dropped += int(data["dropped"])  # what it reported; the gap event itself is news
            else:
                dropped += 1
        self._db.execute("DELETE FROM messages WHERE seq <= ?", (rows[-1][0],))
        self._count -= len(rows)
        self._bytes -= sum(r[4] for r in rows)
        span_from = datetime.fromtimestamp(first_ts, UTC)
        span_to = datetime.fromtimestamp(last_ts, UTC)
        _LOGGER.warning(
            "outbox full (%s): dropped %d messages, seq %d-%d", reason, dropped, first_seq, last_seq
        )
        event = Event(
            kind="gap",
            severity=Severity.WARNING,
            message=(
                f"{dropped} messages from {span_from:%Y-%m-%d %H:%M} to {span_to:%Y-%m-%d %H:%M} "
                f"UTC were dropped while the controller was unreachable ({reason} bound)"
            ),
            data={
                "dropped": dropped,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "from": span_from.isoformat(),
                "to": span_to.isoformat(),
                "reason": reason,
            },
        )
        self._insert(Channel.EVENTS, lambda fields: EventMessage(**fields, body=event))

    # --- sending and acknowledging -----------------------------------------------------------

    def pending_after(self, seq: int, limit: int) -> list[Pending]:
        """Up to `limit` waiting messages with `seq` greater than `seq`, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, channel, payload FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [Pending(int(s), Channel(c), bytes(p)) for s, c, p in rows]

    def acknowledge(self, watermark: int, epoch: str | None = None) -> int:
        """Forget every message up to `watermark`; returns how many were removed.

        An acknowledgement for another life of this outbox (another `epoch`, or a watermark above
        the last `seq` handed out) is about messages this outbox never had, and is ignored.
        """
        if epoch is not None and epoch != self.epoch:
            _LOGGER.info("ignoring an acknowledgement for another outbox life (%s)", epoch)
            return 0
        if watermark > self._last_seq:
            _LOGGER.warning(
                "ignoring acknowledgement %d beyond the last seq %d", watermark, self._last_seq
            )
            return 0
        with self._lock:
            count, size = self._db.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0) FROM messages WHERE seq <= ?",
                (watermark,),
            ).fetchone()
            if count:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM messages WHERE seq <= ?", (watermark,))
                self._db.execute("COMMIT")
                self._count -= count
                self._bytes -= size
            return int(count)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
