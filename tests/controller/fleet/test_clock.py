"""Kits' clocks: what a message says of its kit's clock, and when that becomes an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.fleet.clock import (
    REPEAT,
    SKEW_ALERT,
    ClockWatch,
    Drift,
    Flag,
    Reading,
    decide,
    drift,
    live,
    reading,
    refused_in_place,
    settle,
)
from protocol.codec import TsRefusedError, decode
from protocol.models import Envelope, Event, EventMessage, Status, StatusMessage

NOW = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
"""The controller's clock, injected."""


def event(ts: datetime, kit_id: str = "kit-1") -> Envelope:
    return EventMessage(kit_id=kit_id, msg_id="m", seq=1, ts=ts, body=Event(kind="test"))


def status(ts: datetime, state: str = "online") -> Envelope:
    return StatusMessage(kit_id="kit-1", msg_id="s", seq=0, ts=ts, body=Status(state=state))  # type: ignore[arg-type]


LIVE = [
    (status(NOW), False, True, True),
    (status(NOW), True, True, False),  # a retained copy: sent whenever the kit last connected
    (status(NOW), False, False, False),  # the broker's backlog right after the controller connects
    (status(NOW, "offline"), False, True, False),  # a Last Will is written at connect time
    (event(NOW), False, True, False),  # data may have waited in the kit's outbox
]


@pytest.mark.parametrize(("message", "retained", "settled", "expected"), LIVE)
def test_only_a_live_online_status_tells_a_clock_behind(
    message: Envelope, retained: bool, settled: bool, expected: bool
) -> None:
    assert live(message, retained=retained, settled=settled) is expected


READINGS = [
    # (kit's ts minus arrival, live, the skew read or None)
    (timedelta(hours=2), False, timedelta(hours=2)),  # ahead: nothing waiting explains it
    (timedelta(minutes=4), False, None),  # within the alert: says nothing of a waited message
    (-timedelta(days=90), False, None),  # behind, or a replay after months: cannot tell
    (-timedelta(hours=2), True, -timedelta(hours=2)),  # behind, said as it connected
    (timedelta(seconds=-0.2), True, timedelta(seconds=-0.2)),  # a right clock, live
]


@pytest.mark.parametrize(("skew", "is_live", "expected"), READINGS)
def test_what_a_message_says_of_its_kits_clock(
    skew: timedelta, is_live: bool, expected: timedelta | None
) -> None:
    found = reading(event(NOW + skew), NOW, live=is_live)
    assert (found.skew if found else None) == expected


def at(minutes: float, skew: timedelta) -> Reading:
    return Reading("kit-1", skew, NOW + timedelta(minutes=minutes))


AHEAD = timedelta(hours=2)
BEHIND = -timedelta(hours=2)
FINE = timedelta(seconds=1)

DECISIONS = [
    # (what was recorded, the reading, whether to record, the drift after)
    (None, at(0, FINE), False, Drift.OK),
    (None, at(0, AHEAD), True, Drift.AHEAD),
    (Flag(Drift.AHEAD, NOW), at(10, AHEAD), False, Drift.AHEAD),  # at most once an hour
    (Flag(Drift.AHEAD, NOW), at(59, AHEAD + timedelta(minutes=30)), False, Drift.AHEAD),
    (Flag(Drift.AHEAD, NOW), at(60, AHEAD), True, Drift.AHEAD),  # again after the hour
    (Flag(Drift.AHEAD, NOW), at(10, BEHIND), True, Drift.BEHIND),  # a change: at once
    (Flag(Drift.AHEAD, NOW), at(10, FINE), True, Drift.OK),  # right again: clock_ok
    (Flag(Drift.OK, NOW), at(10, FINE), False, Drift.OK),
    (Flag(Drift.OK, NOW), at(5, SKEW_ALERT + timedelta(seconds=1)), True, Drift.AHEAD),
    # a kit flipping its clock (or its claims) is heard at most every MIN_GAP
    (Flag(Drift.AHEAD, NOW), at(1, BEHIND), False, Drift.AHEAD),
    (Flag(Drift.OK, NOW), at(4.9, AHEAD), False, Drift.OK),
    (Flag(Drift.BEHIND, NOW), at(5, FINE), True, Drift.OK),
    (None, at(0, -SKEW_ALERT), False, Drift.OK),  # the threshold itself is fine
]


@pytest.mark.parametrize(("flag", "now", "record", "drift"), DECISIONS)
def test_an_event_on_a_change_and_at_most_hourly_while_it_lasts(
    flag: Flag | None, now: Reading, record: bool, drift: Drift
) -> None:
    after, recorded = decide(flag, now)
    assert recorded is record
    assert (after.drift if after else Drift.OK) is drift
    if recorded:
        assert after is not None
        assert after.recorded_at == now.at


def test_the_watch_queues_rows_once_and_counts_kits_off() -> None:
    watch = ClockWatch()
    for minute in range(0, 30, 5):  # a kit two hours fast, every five minutes
        arrived = NOW + timedelta(minutes=minute)
        watch.observe(event(arrived + AHEAD, "kit-fast"), arrived, live=False)
    watch.observe(event(NOW, "kit-right"), NOW, live=False)
    rows = watch.take()
    assert [(r["kit_id"], r["kind"], r["severity"]) for r in rows] == [
        ("kit-fast", "clock_skew", "warning")
    ]
    assert rows[0]["message"] == "the kit's clock is 2 h ahead of the controller's"
    assert rows[0]["body"]["skew_s"] == 7200.0
    assert rows[0]["seq"] == 0
    assert rows[0]["msg_id"].startswith("ctl-")
    assert watch.skewed() == 1
    assert watch.take() == []

    later = NOW + REPEAT + timedelta(minutes=1)
    watch.observe(status(later + timedelta(seconds=0.1)), later, live=True)
    watch.observe(event(later + AHEAD, "kit-fast"), later, live=False)
    kinds = [(r["kit_id"], r["kind"]) for r in watch.take()]
    assert kinds == [("kit-fast", "clock_skew")]  # the reminder; kit-1 right all along

    watch.observe(status(later + BEHIND - timedelta(minutes=3)), later, live=True)
    (row,) = watch.take()
    assert row["message"] == "the kit's clock is 2 h 3 min behind the controller's"
    assert watch.skewed() == 2


def refusal(message: Envelope) -> TsRefusedError:
    topic = f"kits/{message.kit_id}/{'status' if isinstance(message, StatusMessage) else 'x'}"
    try:
        decode(topic.replace("/x", "/events"), message.to_bytes(), now=NOW)
    except TsRefusedError as exc:
        return exc
    raise AssertionError("not refused")


def test_a_message_refused_for_its_ts_is_settled_by_an_event_at_its_seq() -> None:
    ahead = NOW + timedelta(days=2)
    settled = refused_in_place(refusal(event(ahead)), NOW)
    assert settled is not None
    assert (settled.kit_id, settled.msg_id, settled.seq, settled.ts) == ("kit-1", "m", 1, NOW)
    assert (settled.body.kind, settled.body.severity) == ("ts_refused", "warning")
    assert settled.body.data == {"claimed_ts": ahead.isoformat(), "refused": "ts_ahead"}
    assert "a test message was refused: ts_ahead" not in settled.body.message
    assert settled.body.message.startswith("a test message was refused: ts ")


def test_a_refused_status_has_no_seq_to_settle() -> None:
    assert refused_in_place(refusal(status(NOW + timedelta(days=2))), NOW) is None


def test_a_ts_outside_the_years_2000_to_2100_tells_a_wrong_clock_even_from_the_outbox() -> None:
    dead_battery = datetime(1970, 1, 1, tzinfo=UTC)
    found = reading(event(dead_battery), NOW, live=False)
    assert found is not None
    assert drift(found.skew) is Drift.BEHIND
    assert reading(event(NOW - timedelta(days=60)), NOW, live=False) is None, "may have waited"


def test_a_message_from_a_clock_a_day_ahead_is_kept_with_its_arrival_as_ts() -> None:
    ahead = NOW + timedelta(days=2)
    kept = settle(refusal(status(ahead)), NOW)
    assert kept is not None
    assert isinstance(kept, StatusMessage)
    assert (kept.ts, kept.body.state) == (NOW, "online"), "presence counts, with our time"
    kept = settle(refusal(event(ahead)), NOW)
    assert isinstance(kept, EventMessage)
    assert (kept.ts, kept.body.kind, kept.body.data) == (
        NOW,
        "test",
        {"claimed_ts": ahead.isoformat()},
    )
    far = settle(refusal(event(datetime(2101, 1, 1, tzinfo=UTC))), NOW)
    assert isinstance(far, EventMessage)
    assert far.body.kind == "ts_refused", "a far date is settled, not kept"
