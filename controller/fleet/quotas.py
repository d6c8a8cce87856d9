"""Per-kit rate limits: a token bucket per kit and channel, checked before anything else.

A kit that sends faster than its rate is dropped at the door, counted, and never queued: it
cannot fill the writer's queue nor delay other kits. Its messages are not acknowledged, so an
honest kit replaying an outage sends them again (its outbox keeps them) once its bucket refills.
Pure: the caller passes the monotonic time.
"""

from __future__ import annotations

from dataclasses import dataclass

COST_UNIT_BYTES = 8 * 1024
"""One token pays for a message of up to this size; a larger one costs a token per unit more."""
SWEEP_S = 60.0
"""How often buckets that are full again are forgotten (the memory stays bounded)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """Sustained messages per second and the burst allowed on top of it."""

    per_second: float
    burst: float


def cost(size: int) -> int:
    """Tokens one message of `size` bytes takes."""
    return 1 + size // COST_UNIT_BYTES


class Quotas:
    """Token buckets keyed by (kit, channel); a channel without a rate is not limited."""

    def __init__(self, rates: dict[str, Rate]) -> None:
        self._rates = rates
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        """(kit, channel) -> (tokens, when they were counted)."""
        self._swept_at = 0.0

    def allow(self, kit_id: str, channel: str, size: int, now: float) -> bool:
        """Take the message's tokens from its kit's bucket; False (nothing taken) if short."""
        rate = self._rates.get(channel)
        if rate is None:
            return True
        key = (kit_id, channel)
        tokens, then = self._buckets.get(key, (rate.burst, now))
        tokens = min(rate.burst, tokens + (now - then) * rate.per_second)
        needed = min(cost(size), rate.burst)  # never more than a full bucket
        allowed = tokens >= needed
        self._buckets[key] = (tokens - needed if allowed else tokens, now)
        if now - self._swept_at > SWEEP_S:
            self._sweep(now)
        return allowed

    def _sweep(self, now: float) -> None:
        """Forget the buckets that have refilled: a kit not in the table has a full bucket."""
        self._swept_at = now
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self._rates[key[1]].per_second < self._rates[key[1]].burst
        }

    def __len__(self) -> int:
        return len(self._buckets)


class OncePer:
    """Says when to log about a key: the first time, then at most once per `interval` seconds,
    with how many were passed over since (a flooding kit is one log line a minute, not one a
    message)."""

    def __init__(self, interval: float = 60.0, keys: int = 10_000) -> None:
        self._interval = interval
        self._keys = keys
        self._seen: dict[str, tuple[float, int]] = {}

    def due(self, key: str, now: float) -> int | None:
        """None if not due; else how many were passed over since the last time."""
        at, skipped = self._seen.get(key, (now - self._interval, 0))
        if now - at < self._interval:
            self._seen[key] = (at, skipped + 1)
            return None
        if len(self._seen) >= self._keys:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._interval}
        self._seen[key] = (now, 0)
        return skipped
