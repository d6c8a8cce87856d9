"""Per-kit limits, validation before the writer, retention and hole-filling, without processes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from controller.fleet import retention, store, validation
from controller.fleet.quotas import OncePer, Quotas, Rate, cost
from controller.fleet.tables import Event, Telemetry, TelemetryHourly
from protocol.errors import ProtocolError, RejectReason
from protocol.models import Event as EventBody
from protocol.models import EventMessage, TelemetryMessage
from protocol.topics import Channel
from tests.protocol.messages import telemetry_body
from tests.support import MigratedDb

NOW = datetime(2031, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(migrated_db: MigratedDb) -> sessionmaker[Session]:
    return migrated_db.sessions


# --- rate limits ---------------------------------------------------------------------------


def test_a_bucket_lets_a_burst_through_then_the_rate_and_kits_do_not_share() -> None:
    quotas = Quotas({"events": Rate(per_second=2, burst=5)})
    assert [quotas.allow("kit-a", "events", 100, 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert quotas.allow("kit-b", "events", 100, 0.0), "another kit has its own bucket"
    assert quotas.allow("kit-a", "events", 100, 0.5), "refilled at 2 a second"
    assert not quotas.allow("kit-a", "events", 100, 0.5)
    assert quotas.allow("kit-a", "telemetry", 100, 0.5), "a channel without a rate is free"
    assert (cost(100), cost(60 * 1024)) == (1, 8), "a large message costs more"
    assert quotas.allow("kit-a", "events", 60 * 1024, 100.0)
    assert not quotas.allow("kit-a", "events", 100, 100.0), "the large one took the burst"


def test_full_buckets_are_forgotten() -> None:
    quotas = Quotas({"events": Rate(per_second=1, burst=5)})
    for n in range(100):
        quotas.allow(f"kit-{n}", "events", 10, 0.0)
    assert len(quotas) == 100
    quotas.allow("kit-late", "events", 10, 1000.0)
    assert len(quotas) == 1


def test_complaints_are_logged_once_per_interval_with_a_count() -> None:
    once = OncePer(interval=60)
    assert once.due("kit-b invalid", 0.0) == 0
    assert [once.due("kit-b invalid", t) for t in (1.0, 2.0, 59.0)] == [None] * 3
    assert once.due("kit-c invalid", 2.0) == 0
    assert once.due("kit-b invalid", 61.0) == 3


# --- validation before the writer ----------------------------------------------------------


def envelope(body: Any, kit_id: str = "kit-b") -> bytes:
    head = {"schema": 1, "kit_id": kit_id, "msg_id": uuid.uuid4().hex, "seq": 1}
    text = json.dumps(head | {"ts": NOW.isoformat()})[:-1]
    return f'{text}, "body": {body}}}'.encode()


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        ('{"kind": "x", "data": {"a": "\\ud800"}}', RejectReason.INVALID, "lone surrogate"),
        ('{"kind": "x", "message": "a\\u0000b"}', RejectReason.INVALID, "NUL"),
        (
            '{"kind": "x", "data": {"a": ' + "[" * 10_000 + "]" * 10_000 + "}}",
            RejectReason.MALFORMED_JSON,
            "nested deeper than 32",
        ),
        (
            '{"kind": "x", "data": {"a": ' + "{" * 5_000 + "}" * 5_000 + "}}",
            RejectReason.MALFORMED_JSON,
            "nested deeper than 32",
        ),
    ],
)
def test_what_the_store_would_refuse_is_refused_on_arrival(
    body: str, reason: RejectReason, detail: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        validation.check("kits/kit-b/events", envelope(body), now=NOW)
    assert caught.value.reason is reason
    assert detail in str(caught.value)


def test_sound_messages_pass_and_brackets_in_strings_do_not_count() -> None:
    body = json.dumps({"kind": "x", "message": "[" * 100 + "\u00e9", "data": {"a": [[1]]}})
    _, message = validation.check("kits/kit-b/events", envelope(body), now=NOW)
    assert isinstance(message, EventMessage)
    assert not validation.too_deep(b'"\\"' * 20_000 + b"[" * 40)
    assert validation.too_deep(b"[" * 33 + b"]" * 33)
    assert not validation.too_deep(b"[" * 32 + b"]" * 32)


def test_a_profile_longer_than_its_column_is_refused() -> None:
    profile = {"profile": "p" * 65, "complete": True, "missing": []}
    body = json.dumps(telemetry_body() | {"profile": profile})
    with pytest.raises(ProtocolError, match="profile"):
        validation.check("kits/kit-b/telemetry", envelope(body), now=NOW)


# --- retention -----------------------------------------------------------------------------


def snapshot(kit_id: str, seq: int, at: datetime, cpu: float) -> store.Received:
    body = telemetry_body() | {"cpu": {"percent": cpu}}
    message = TelemetryMessage.model_validate(
        {"kit_id": kit_id, "msg_id": f"t{seq}", "seq": seq, "ts": at, "body": body}
    )
    return store.Received(Channel.TELEMETRY, message, at)


def happening(kit_id: str, seq: int, at: datetime) -> store.Received:
    message = EventMessage(
        kit_id=kit_id, msg_id=f"e{seq}", seq=seq, ts=at, body=EventBody(kind="test")
    )
    return store.Received(Channel.EVENTS, message, at)


def test_retention_folds_old_telemetry_into_hours_and_deletes_old_events(
    sessions: sessionmaker[Session],
) -> None:
    old = NOW - timedelta(days=40)
    items = [snapshot("kit-a", n, old + timedelta(minutes=10 * n), 10.0 * n) for n in range(1, 9)]
    items += [snapshot("kit-a", 9, NOW - timedelta(days=1), 99.0)]
    items += [happening("kit-a", 10, NOW - timedelta(days=200))]
    items += [happening("kit-a", 11, NOW - timedelta(days=100))]
    with sessions.begin() as session:
        store.store_batch(session, items)
    policy = retention.Policy(telemetry_days=30, events_days=180, hourly_days=730)
    keeper = retention.Retention(policy, interval=3600, batch=3)
    passes = []
    for tick in range(10):  # three rows a pass: again right away while rows remain
        passes.append(keeper.tick(sessions, now=NOW, monotonic=float(tick)))
    assert [p.get("telemetry") for p in passes[:4]] == [3, 3, 2, None]
    assert sum(p.get("events", 0) for p in passes) == 1
    with sessions() as session:
        assert session.scalars(select(Telemetry.seq)).all() == [9]
        assert session.scalars(select(Event.seq).where(Event.seq > 0)).all() == [11]
        hours = session.scalars(select(TelemetryHourly).order_by(TelemetryHourly.hour)).all()
        summary = [(h.hour.hour, h.samples, h.cpu_avg, h.cpu_max) for h in hours]
        hour = old.hour
        assert summary == [(hour, 5, 30.0, 50.0), ((hour + 1) % 24, 3, 70.0, 80.0)], (
            "folded across passes into one row per hour"
        )
    later = NOW + timedelta(days=800)
    with sessions.begin() as session:
        deleted = retention.apply(session, now=later, policy=policy)
    assert (deleted["telemetry"], deleted["telemetry_hourly"]) == (1, 3), "the last one folded too"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TelemetryHourly)) == 0


# --- hole-filling at bounded cost ----------------------------------------------------------


def test_a_hole_does_not_make_every_batch_rescan_what_is_stored_above_it(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    original = store._stored_seqs

    def counting(session: Session, kit: Any, above: int) -> Any:
        seqs, gaps = original(session, kit, above)
        read.append(len(seqs) + len(gaps))
        return seqs, gaps

    monkeypatch.setattr(store, "_stored_seqs", counting)
    at = NOW - timedelta(hours=1)
    for first in range(2, 3002, 100):  # seq 1 never came: a hole under 3,000 messages
        with sessions.begin() as session:
            result = store.store_batch(
                session, [happening("kit-h", n, at) for n in range(first, first + 100)]
            )
        assert result.watermarks["kit-h"] == (0, None)
    assert sum(read) == 0, "an open hole costs a look-up, not a scan of the rows above it"
    with sessions.begin() as session:
        filled = store.store_batch(session, [happening("kit-h", 1, at)])
    assert filled.watermarks["kit-h"] == (1 + store.HOLE_WINDOW, None), "a bounded window"
    with sessions.begin() as session:
        later = store.store_batch(session, [happening("kit-h", 3002, at)])
    assert later.watermarks["kit-h"] == (3002, None), "and on from there in the next batch"
    assert sum(read) == 3001
