"""The writer never raises on a message's time: a far `ts` is set aside, the batch stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.fleet import queries, store, writer
from controller.fleet.tables import Event
from protocol.models import Event as EventBody
from protocol.models import EventMessage
from protocol.topics import Channel
from tests.support import MigratedDb

T0 = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=14)))


@pytest.fixture
def sessions(migrated_db: MigratedDb) -> sessionmaker[Session]:
    return migrated_db.sessions


def message(kit_id: str, seq: int, ts: datetime) -> EventMessage:
    return EventMessage(
        kit_id=kit_id, msg_id=f"{kit_id}-{seq}", seq=seq, ts=ts, body=EventBody(kind="test")
    )


def test_a_far_ts_reaching_the_store_is_set_aside_and_the_batch_stored(
    sessions: sessionmaker[Session],
) -> None:
    items = [store.Received(Channel.EVENTS, message("kit-a", n, T0), T0) for n in range(1, 6)]
    items.insert(2, store.Received(Channel.EVENTS, message("kit-b", 1, FAR), T0))
    with sessions.begin() as session:
        result = store.store_batch(session, items)
    assert (result.stored[Channel.EVENTS], result.quarantined) == (5, 1)
    assert result.watermarks == {"kit-a": (5, None)}


def test_the_writer_checks_ts_again_and_settles_what_it_refuses(
    sessions: sessionmaker[Session],
) -> None:
    arrived = T0.timestamp()
    gap = EventMessage(
        kit_id="kit-b",
        msg_id="kit-b-gap",
        seq=4,
        ts=T0 + timedelta(days=3),
        body=EventBody(
            kind="gap", data={"dropped": 1, "first_seq": 3, "last_seq": 3, "reason": "outbox full"}
        ),
    )
    raw = [
        ("kits/kit-a/events", message("kit-a", 1, T0).to_bytes(), arrived),
        ("kits/kit-b/events", message("kit-b", 1, FAR).to_bytes(), arrived),
        ("kits/kit-b/events", message("kit-b", 2, T0 + timedelta(days=2)).to_bytes(), arrived),
        ("kits/kit-a/events", message("kit-a", 2, T0 + timedelta(hours=2)).to_bytes(), arrived),
        ("kits/kit-b/events", gap.to_bytes(), arrived),
    ]
    summary = writer.write(sessions, raw)
    assert summary.stored["events"] == 5
    assert summary.watermarks == {"kit-a": (2, None), "kit-b": (4, None)}, "kit-b not stuck"
    with sessions() as session:
        rows = session.scalars(select(Event).where(Event.seq > 0).order_by(Event.id)).all()
        kept = [(r.msg_id, r.kind, r.ts.replace(tzinfo=UTC)) for r in rows]
        assert kept == [
            ("kit-a-1", "test", T0),
            ("kit-b-1", "ts_refused", T0),
            ("kit-b-2", "test", T0),
            ("kit-a-2", "test", T0 + timedelta(hours=2)),
            ("kit-b-gap", "gap", T0),
        ], "refused or a day ahead: stamped with its arrival; a refused gap keeps its span"
        data = {r.msg_id: r.body["data"] for r in rows}
        assert data["kit-b-1"] == {"claimed_ts": FAR.isoformat(), "refused": "ts_out_of_range"}
        assert data["kit-b-2"] == {"claimed_ts": (T0 + timedelta(days=2)).isoformat()}
        gap_data = data["kit-b-gap"]
        assert (gap_data["first_seq"], gap_data["claimed_ts"]) == (3, gap.ts.isoformat())
    again = writer.write(sessions, raw[1:3])
    assert (again.duplicates, again.stored["events"]) == (2, 0), "sent again: absorbed"


def test_controller_events_add_a_kit_not_stored_yet(sessions: sessionmaker[Session]) -> None:
    row = store.presence_event("kit-new", online=True, reason="test", at=T0) | {"kind": "clock_ok"}
    with sessions.begin() as session:
        store.record_events(session, [row])
    with sessions() as session:
        assert queries.get_kit(session, kit_id="kit-new") is not None
        (event,) = queries.recent_events(session, kit_id="kit-new", limit=5)
        assert (event.kind, json.loads(json.dumps(event.body))["source"]) == (
            "clock_ok",
            "controller",
        )
