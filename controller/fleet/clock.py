"""Kits' clocks: how far a kit's clock is off, read from what it sends, and when to say so.

A kit decides offline whether a lesson is running by its own clock, so a clock that is off is a
fault worth a technician's look. Every message carries the kit's `ts` and the controller notes
when it arrived; their difference is the skew, plus however long the message waited (in the
kit's outbox, the broker or the controller's queue). A wait only makes `ts` look earlier, so:

- a `ts` later than its arrival shows the kit's clock is ahead by at least that much: any
  message says so;
- a clock that is behind cannot be told from a message that waited (a kit back after months
  replays its outbox), so only a message sent as it connects says it: an `online` status
  delivered live (not a retained copy), once the controller has been connected a while and its
  queue is short (a status the broker kept for it while it was away waited too).

A skew over `SKEW_ALERT` becomes a `clock_skew` event for the kit (warning), again at most once
an hour while it lasts; a live reading within it afterwards, a `clock_ok` event. The decision is
pure (`decide`); `ClockWatch` keeps the state of each kit and the rows to record. A `ts` more
than a day ahead is refused before it gets here (`protocol.limits.MAX_TS_AHEAD`).

A message refused for its `ts` alone (`TsRefusedError`) is never left as a hole in the kit's
sequence (`settle`): one from a clock over a day ahead is kept with its arrival as `ts`
(`restamped`; the clock_skew event says how far off the kit is), so a help request from a kit
with a wrong clock still counts; one dated outside the years 2000 to 2100 is settled by a
`ts_refused` event at its `seq`, stamped with its arrival (`refused_in_place`), so the kit's
watermark moves past it and the kit drops it instead of sending it again for ever. Its body is
not kept; a refused `gap` event keeps its span, which the watermark needs.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, Final

from protocol.codec import TsRefusedError
from protocol.errors import RejectReason
from protocol.models import (
    Envelope,
    Event,
    EventMessage,
    Severity,
    StatusMessage,
    TelemetryMessage,
)
from protocol.timebounds import within

SKEW_ALERT: Final = timedelta(minutes=5)
"""A clock off by more than this is flagged (the lesson guard is 15 minutes)."""
REPEAT: Final = timedelta(hours=1)
"""While a clock stays off, its event is recorded again at most this often."""
MIN_GAP: Final = timedelta(minutes=5)
"""Two events of one kit's clock are at least this far apart, whatever it does meanwhile."""
SETTLE_S: Final = 60.0
"""Seconds after the controller connects before a status counts as live (the broker first
delivers what it kept for the controller while it was away)."""
SHORT_QUEUE: Final = 1000
"""Messages waiting in the controller above which a status may have waited too."""


class Drift(IntEnum):
    """Which way a kit's clock is off."""

    BEHIND = -1
    OK = 0
    AHEAD = 1


@dataclass(frozen=True, slots=True)
class Reading:
    """What one message says of its kit's clock: `skew` is the kit's ts minus its arrival."""

    kit_id: str
    skew: timedelta
    at: datetime


@dataclass(frozen=True, slots=True)
class Flag:
    """What was last recorded of a kit's clock, and when."""

    drift: Drift
    recorded_at: datetime


def live(message: Envelope, *, retained: bool, settled: bool) -> bool:
    """Whether a message was sent as it arrived: a live `online` status once things settled."""
    return (
        isinstance(message, StatusMessage)
        and message.body.state == "online"
        and not retained
        and settled
    )


def reading(message: Envelope, received_at: datetime, *, live: bool) -> Reading | None:
    """The clock reading a message gives: any message's if ahead or outside the years 2000 to
    2100 (no outbox keeps a message that long: the clock is wrong), a live one's either way."""
    skew = message.ts - received_at
    if live or skew > SKEW_ALERT or not within(message.ts):
        return Reading(message.kit_id, skew, received_at)
    return None


def drift(skew: timedelta, alert: timedelta = SKEW_ALERT) -> Drift:
    """Ahead, behind or fine, by the alert threshold."""
    if skew > alert:
        return Drift.AHEAD
    if skew < -alert:
        return Drift.BEHIND
    return Drift.OK


def decide(
    flag: Flag | None,
    now: Reading,
    *,
    alert: timedelta = SKEW_ALERT,
    repeat: timedelta = REPEAT,
    gap: timedelta = MIN_GAP,
) -> tuple[Flag | None, bool]:
    """The kit's new flag, and whether to record an event: on a change (at most one per `gap`,
    so a kit flipping its clock cannot flood the events), or hourly while off."""
    drifting = drift(now.skew, alert)
    was = flag.drift if flag is not None else Drift.OK
    since = now.at - flag.recorded_at if flag is not None else None
    changed = drifting is not was and (since is None or since >= gap)
    lasting = drifting is not Drift.OK and since is not None and since >= repeat
    if changed or lasting:
        return Flag(drifting, now.at), True
    return flag, False


def _span(skew: timedelta) -> str:
    minutes = round(abs(skew).total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) or "less than a minute"


def event_row(now: Reading, drifting: Drift, kit_ts: datetime) -> dict[str, Any]:
    """A row for the events table saying how far the kit's clock is off (seq 0: ours)."""
    if drifting is Drift.OK:
        kind, severity, message = "clock_ok", "info", "the kit's clock agrees with the controller's"
    else:
        way = "ahead of" if drifting is Drift.AHEAD else "behind"
        kind, severity = "clock_skew", "warning"
        message = f"the kit's clock is {_span(now.skew)} {way} the controller's"
    return {
        "kit_id": now.kit_id,
        "seq": 0,
        "msg_id": f"ctl-{uuid.uuid4().hex}",
        "ts": now.at,
        "received_at": now.at,
        "kind": kind,
        "severity": severity,
        "message": message,
        "body": {
            "source": "controller",
            "skew_s": round(now.skew.total_seconds(), 3),
            "kit_ts": kit_ts.isoformat(),
            "received_at": now.at.isoformat(),
        },
    }


class ClockWatch:
    """Each kit's clock flag, fed from the MQTT thread; the rows to record, taken by another."""

    def __init__(self, *, alert: timedelta = SKEW_ALERT, repeat: timedelta = REPEAT) -> None:
        self._alert = alert
        self._repeat = repeat
        self._flags: dict[str, Flag] = {}
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def observe(self, message: Envelope, received_at: datetime, *, live: bool) -> None:
        """Note what a message says of its kit's clock; queue an event if one is due."""
        now = reading(message, received_at, live=live)
        if now is None:
            return
        with self._lock:
            flag, record = decide(
                self._flags.get(now.kit_id), now, alert=self._alert, repeat=self._repeat
            )
            if flag is not None:
                self._flags[now.kit_id] = flag
            if record and flag is not None:
                self._rows.append(event_row(now, flag.drift, message.ts))

    def take(self) -> list[dict[str, Any]]:
        """The event rows due since the last call."""
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def skewed(self) -> int:
        """How many kits' clocks were last seen off."""
        with self._lock:
            return sum(1 for flag in self._flags.values() if flag.drift is not Drift.OK)


def settle(refusal: TsRefusedError, received_at: datetime) -> Envelope | None:
    """What is stored for a message refused for its ts: restamped if ahead, else settled."""
    if refusal.reason is RejectReason.TS_AHEAD:
        return restamped(refusal.envelope, received_at)
    return refused_in_place(refusal, received_at)


def restamped(message: Envelope, received_at: datetime) -> Envelope:
    """A message from a clock over a day ahead, kept with its arrival as `ts` (an event keeps
    the kit's claim in its data): a help request from a kit whose clock is wrong still counts."""
    if isinstance(message, EventMessage):
        data = {**message.body.data, "claimed_ts": message.ts.isoformat()}
        return message.model_copy(
            update={"ts": received_at, "body": message.body.model_copy(update={"data": data})}
        )
    return message.model_copy(update={"ts": received_at})


def refused_in_place(refusal: TsRefusedError, received_at: datetime) -> EventMessage | None:
    """The event stored at a ts-refused message's `seq` (None for a status: no seq to settle)."""
    refused = refusal.envelope
    claimed = {"claimed_ts": refused.ts.isoformat(), "refused": refusal.reason.value}
    if isinstance(refused, EventMessage) and refused.body.kind == "gap":
        body = refused.body.model_copy(update={"data": {**refused.body.data, **claimed}})
    elif isinstance(refused, EventMessage | TelemetryMessage):
        what = "telemetry" if isinstance(refused, TelemetryMessage) else refused.body.kind
        body = Event(
            kind="ts_refused",
            severity=Severity.WARNING,
            message=f"a {what} message was refused: {refusal.detail}"[:2000],
            data=claimed,
        )
    else:
        return None
    return EventMessage(
        kit_id=refused.kit_id,
        msg_id=refused.msg_id,
        seq=refused.seq,
        ts=received_at,
        epoch=refused.epoch,
        body=body,
    )
