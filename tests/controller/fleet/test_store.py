"""Storing batches: duplicates absorbed, latest state right, against a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controller.fleet import queries, store
from protocol.models import Event, EventMessage, Status, StatusMessage, TelemetryMessage
from protocol.topics import Channel
from tests.protocol.messages import telemetry_body
from tests.support import MigratedDb

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(migrated_db: MigratedDb) -> sessionmaker[Session]:
    return migrated_db.sessions


def tel(kit_id: str, seq: int, minutes: int = 0, cpu: float = 10.0) -> store.Received:
    body = telemetry_body() | {"cpu": {"percent": cpu}}
    msg = TelemetryMessage.model_validate(
        {
            "kit_id": kit_id,
            "msg_id": f"{kit_id}-{seq}",
            "seq": seq,
            "ts": T0 + timedelta(minutes=minutes),
            "body": body,
        }
    )
    return store.Received(Channel.TELEMETRY, msg, T0 + timedelta(minutes=minutes, seconds=1))


def status(kit_id: str, state: str) -> store.Received:
    msg = StatusMessage(kit_id=kit_id, msg_id="s", seq=0, ts=T0, body=Status(state=state))  # type: ignore[arg-type]
    return store.Received(Channel.STATUS, msg, T0)


def test_duplicates_are_absorbed_within_and_across_batches(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        first = store.store_batch(s, [tel("k1", 1), tel("k1", 2), tel("k1", 1)])
    assert first.stored[Channel.TELEMETRY] == 2
    assert first.duplicates == 1
    with sessions.begin() as s:
        again = store.store_batch(s, [tel("k1", 2), tel("k1", 3)])
    assert (again.stored[Channel.TELEMETRY], again.duplicates) == (1, 1)
    with sessions() as s:
        rows = queries.telemetry_page(s, kit_id="k1", after_seq=0, limit=100)
        assert [r.seq for r in rows] == [1, 2, 3]
        assert queries.get_kit(s, kit_id="k1").last_seq == 3  # type: ignore[union-attr]


def test_an_old_snapshot_arriving_late_does_not_replace_the_latest(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        store.store_batch(s, [tel("k1", 5, minutes=5, cpu=55)])
    with sessions.begin() as s:
        store.store_batch(s, [tel("k1", 4, minutes=4, cpu=44)])
    with sessions() as s:
        kit = queries.get_kit(s, kit_id="k1")
        assert kit is not None
        assert (kit.cpu_percent, kit.last_seq, kit.latest_ts) == (55, 5, T0 + timedelta(minutes=5))
        assert kit.disk_used_percent == 91.0
        assert kit.battery_percent is None


def test_status_follows_arrival_order_and_is_not_history(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        result = store.store_batch(s, [status("k1", "online"), status("k1", "offline")])
    assert result.status_changed
    with sessions() as s:
        assert queries.get_kit(s, kit_id="k1").online is False  # type: ignore[union-attr]
        assert queries.count_kits(s) == (1, 0)
        assert queries.telemetry_page(s, kit_id="k1", after_seq=0, limit=10) == []


def test_events_are_stored_with_their_kind(sessions: sessionmaker[Session]) -> None:
    msg = EventMessage(
        kit_id="k2", msg_id="e1", seq=9, ts=T0, body=Event(kind="hotplug", message="webcam")
    )
    with sessions.begin() as s:
        store.store_batch(s, [store.Received(Channel.EVENTS, msg, T0)] * 2)
    with sessions() as s:
        events = queries.event_page(s, kit_id="k2", after_seq=0, limit=10)
        assert [(e.kind, e.message, e.seq) for e in events] == [("hotplug", "webcam", 9)]
        # The controller's own record: a kit heard from for the first time is online.
        assert [e.kind for e in queries.recent_events(s, kit_id="k2", limit=10)] == [
            "kit_online",
            "hotplug",
        ]


def gap(kit_id: str, seq: int, first: int, last: int) -> store.Received:
    msg = EventMessage(
        kit_id=kit_id,
        msg_id=f"gap-{seq}",
        seq=seq,
        ts=T0,
        body=Event(
            kind="gap", data={"first_seq": first, "last_seq": last, "dropped": last - first + 1}
        ),
    )
    return store.Received(Channel.EVENTS, msg, T0)


@pytest.mark.parametrize(
    ("batches", "watermark"),
    [
        ([[1, 2, 3]], 3),
        ([[1, 3]], 1),  # 2 is missing: stop before it
        ([[1, 3], [2]], 3),  # it arrives later: pass over what is already stored
        ([[3, 2, 1]], 3),  # order within a batch does not matter
        ([[2, 3]], 0),
    ],
)
def test_the_watermark_covers_only_what_is_stored(
    sessions: sessionmaker[Session], batches: list[list[int]], watermark: int
) -> None:
    result = None
    for batch in batches:
        with sessions.begin() as s:
            result = store.store_batch(s, [tel("k1", seq) for seq in batch])
    assert result is not None
    assert result.watermarks == {"k1": (watermark, None)}


def test_a_gap_event_lets_the_watermark_pass_the_dropped_span(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        store.store_batch(s, [tel("k1", 1), tel("k1", 2)])
    with sessions.begin() as s:  # 3..10 dropped on the kit; 11 says so; 12 follows
        result = store.store_batch(s, [tel("k1", 12), gap("k1", 11, 3, 10)])
    assert result.watermarks == {"k1": (12, None)}
    with sessions.begin() as s:  # a late copy of a dropped message changes nothing
        late = store.store_batch(s, [tel("k1", 7)])
    assert late.watermarks == {"k1": (12, None)}


def life(epoch: str, seqs: range | list[int], minutes: int = 0) -> list[store.Received]:
    items = [tel("k1", n, minutes=minutes) for n in seqs]
    for item in items:
        object.__setattr__(item.message, "epoch", epoch)
        object.__setattr__(item.message, "msg_id", f"{epoch}-{item.message.seq}")
    return items


def test_a_reinstalled_kit_counts_again_in_its_new_outbox_life(
    sessions: sessionmaker[Session],
) -> None:
    old, new = "aaaaaaaa", "bbbbbbbb"
    with sessions.begin() as s:
        assert store.store_batch(s, life(old, range(1, 6))).watermarks == {"k1": (5, old)}
    with sessions.begin() as s:  # reinstalled: numbers from 1 again, in a new epoch
        result = store.store_batch(s, life(new, [1, 2], minutes=60))
    assert result.watermarks == {"k1": (2, new)}, "not 5: the new life has sent only 1 and 2"
    with sessions.begin() as s:  # late copies from the earlier life never switch it back
        result = store.store_batch(s, life(old, [3, 9]))
    assert result.watermarks == {"k1": (2, new)}
    with sessions.begin() as s:
        result = store.store_batch(s, life(new, [4, 5, 6], minutes=62))
    assert result.watermarks == {"k1": (2, new)}, "3 of the new life is still missing"
    with sessions.begin() as s:
        result = store.store_batch(s, life(new, [3], minutes=63))
    assert result.watermarks == {"k1": (6, new)}
