"""The outbox against a real SQLite file: order, persistence, acks, bounds and gap events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.outbox import Bounds, Outbox
from protocol.codec import decode
from protocol.models import Event, EventMessage
from protocol.topics import Channel


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def event(n: int) -> Event:
    return Event(kind="test", message=f"message {n}", data={"n": n})


def fill(outbox: Outbox, count: int, clock: Clock | None = None, step: float = 30) -> None:
    for n in range(count):
        outbox.add(Channel.EVENTS, lambda f, n=n: EventMessage(**f, body=event(n)))
        if clock is not None:
            clock.now += timedelta(seconds=step)


def bodies(outbox: Outbox) -> list[EventMessage]:
    out = []
    for p in outbox.pending_after(0, 10_000):
        _, message = decode(f"kits/k/{p.channel.value}", p.payload)
        assert isinstance(message, EventMessage)
        out.append(message)
    return out


def test_sequence_is_assigned_persisted_and_survives_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", kit_id="k")
    fill(outbox, 3)
    assert [p.seq for p in outbox.pending_after(0, 10)] == [1, 2, 3]
    outbox.close()
    again = Outbox(tmp_path / "o.db", kit_id="k")
    assert (again.last_seq, len(again)) == (3, 3)
    fill(again, 1)
    assert [p.seq for p in again.pending_after(1, 10)] == [2, 3, 4]


def test_ack_removes_what_it_covers_and_nothing_more(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", kit_id="k")
    fill(outbox, 5)
    assert outbox.acknowledge(3) == 3
    assert outbox.first_seq() == 4
    assert outbox.acknowledge(3) == 0  # a repeated ack is harmless
    assert outbox.acknowledge(99) == 0  # beyond what was handed out: another life of this kit
    assert len(outbox) == 2
    assert outbox.acknowledge(5) == 2
    assert outbox.first_seq() is None
    assert outbox.size_bytes == 0


def test_count_bound_drops_oldest_first_with_a_gap_event(tmp_path: Path) -> None:
    clock = Clock()
    start = clock.now
    outbox = Outbox(tmp_path / "o.db", kit_id="k", bounds=Bounds(max_messages=20), clock=clock)
    fill(outbox, 21, clock)
    messages = bodies(outbox)
    gap = messages[-1]
    assert gap.body.kind == "gap"
    assert gap.body.data["dropped"] == 2  # a chunk: a tenth of the bound
    assert (gap.body.data["first_seq"], gap.body.data["last_seq"]) == (1, 2)
    assert gap.body.data["from"] == start.isoformat()
    assert gap.body.data["reason"] == "size"
    assert [m.seq for m in messages] == list(range(3, 23))  # contiguous, oldest gone
    assert "2 messages" in gap.body.message


def test_a_dropped_gap_event_is_folded_into_the_next(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", kit_id="k", bounds=Bounds(max_messages=10))
    fill(outbox, 60)
    gaps = [m for m in bodies(outbox) if m.body.kind == "gap"]
    first = min(m.body.data["first_seq"] for m in gaps)
    assert first == 1, "the earliest span is still reported"
    # Every seq ever handed out is either waiting or inside a gap's span.
    waiting = {m.seq for m in bodies(outbox)}
    spans = [(m.body.data["first_seq"], m.body.data["last_seq"]) for m in gaps]
    covered = {s for a, b in spans for s in range(a, b + 1)}
    assert waiting | covered == set(range(1, outbox.last_seq + 1))
    # The count is of data lost: folded gap events are not lost, they are carried forward.
    waiting_data = [m for m in bodies(outbox) if m.body.kind != "gap"]
    assert sum(m.body.data["dropped"] for m in gaps) == 60 - len(waiting_data)
    assert len(outbox) <= 10


def test_age_bound_drops_what_is_too_old(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox(tmp_path / "o.db", kit_id="k", bounds=Bounds(max_age_s=3600), clock=clock)
    fill(outbox, 10, clock, step=600)  # 100 minutes of messages, one every 10 minutes
    messages = bodies(outbox)
    gap = messages[-1]
    assert gap.body.kind == "gap"
    assert gap.body.data["reason"] == "age"
    oldest_kept = min(m.ts for m in messages if m.body.kind != "gap")
    assert clock.now - oldest_kept <= timedelta(seconds=3600)


def test_byte_bound(tmp_path: Path) -> None:
    outbox = Outbox(
        tmp_path / "o.db", kit_id="k", bounds=Bounds(max_messages=10_000, max_bytes=64 * 1024)
    )
    big = "x" * 4000
    for _ in range(40):
        outbox.add(
            Channel.EVENTS,
            lambda f: EventMessage(
                **f, body=Event(kind="big", message=big[:2000], data={"pad": big})
            ),
        )
    assert outbox.size_bytes <= 64 * 1024 + 8192
    assert any(m.body.kind == "gap" for m in bodies(outbox))


def test_unusable_outbox_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "o.db").write_text("not a database")
    with pytest.raises(ConfigError, match="cannot open the outbox"):
        Outbox(tmp_path / "o.db", kit_id="k")


def test_acknowledgements_for_another_life_are_ignored(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", kit_id="k")
    fill(outbox, 5)
    assert len(outbox.epoch) == 16
    assert outbox.acknowledge(5, epoch="0123456789abcdef") == 0  # a reinstalled kit's old ack
    assert outbox.acknowledge(2, epoch=outbox.epoch) == 2
    message = bodies(outbox)[0]
    assert message.epoch == outbox.epoch
    outbox.close()
    assert Outbox(tmp_path / "o.db", kit_id="k").epoch == outbox.epoch, "kept across restarts"
    assert Outbox(tmp_path / "other.db", kit_id="k").epoch != outbox.epoch


def test_the_byte_bound_drops_only_what_it_must(tmp_path: Path) -> None:
    outbox = Outbox(
        tmp_path / "o.db", kit_id="k", bounds=Bounds(max_messages=10_000, max_bytes=200 * 1024)
    )
    big = "x" * 9000
    for _ in range(40):  # about 9 KB each: 360 KB for a bound of 200 KB
        outbox.add(
            Channel.EVENTS, lambda f: EventMessage(**f, body=Event(kind="big", data={"pad": big}))
        )
    assert 150 * 1024 < outbox.size_bytes <= 200 * 1024 + 9500
    assert len(outbox) > 15, "not emptied in one go"
