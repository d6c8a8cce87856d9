"""A hostile kit against the real broker and controller: it costs only itself.

Poison (text no database stores) and a 10,000-deep payload are refused on arrival, so the writer
never splits a batch for them and another kit's events go through as fast as in a clean run; a
kit flooding over its rate is cut at its bucket and counted while another kit's data is all
stored; a sequence hole is never a rescan of what is stored above it.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.protocol.messages import telemetry_body
from tests.support import Broker, Controller, metric, mqtt_client, provision_kit, wait_for


def message(kit_id: str, seq: int, body: str | None = None) -> bytes:
    """An envelope with this body (JSON text, given as is), by default a telemetry snapshot."""
    head = {"schema": 1, "kit_id": kit_id, "msg_id": uuid.uuid4().hex, "seq": seq}
    text = json.dumps(head | {"ts": datetime.now(UTC).isoformat()})[:-1]
    return f'{text}, "body": {body or SNAPSHOT}}}'.encode()


SNAPSHOT = json.dumps(telemetry_body())
EVENT = json.dumps({"kind": "test"})
POISON = '{"kind": "x", "data": {"a": "\\ud800"}}'
"""Valid JSON and a valid model, but no database stores a lone surrogate."""
DEEP = '{"kind": "x", "data": {"a": ' + "[" * 10_000 + "]" * 10_000 + "}}"


def connect(broker: Broker, tmp_path: Path, kit_id: str) -> tuple[mqtt.Client, list[Any]]:
    provision_kit(broker.pki, tmp_path / kit_id, kit_id)
    client, received = mqtt_client(broker, tmp_path / kit_id)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.subscribe(f"kits/{kit_id}/ack", qos=1)
    return client, received


def watermark(received: list[Any]) -> int:
    acks = [json.loads(m.payload)["body"]["watermark"] for m in list(received)]
    return max(acks, default=0)


def send(
    client: mqtt.Client, kit_id: str, seqs: range, channel: str, acks: list[Any] | None = None
) -> float:
    """Publish messages with these seqs; the seconds until all are acknowledged (if acks given)."""
    started = time.monotonic()
    body = SNAPSHOT if channel == "telemetry" else EVENT
    for seq in seqs:
        client.publish(f"kits/{kit_id}/{channel}", message(kit_id, seq, body), qos=1)
    if acks is not None:
        wait_for(lambda: watermark(acks) >= seqs[-1], 60, f"{kit_id} acknowledged")
    return time.monotonic() - started


def stored_seqs(controller: Controller, kit_id: str) -> list[int]:
    status, page = controller.get(f"/api/v1/kits/{kit_id}/events?limit=1000")
    if status == 404:  # not heard from yet
        return []
    assert status == 200, page
    return sorted(e["seq"] for e in page["items"] if e["seq"] > 0)


def test_a_hostile_kit_costs_only_itself(tmp_path: Path, broker: Broker) -> None:
    controller = Controller(
        tmp_path,
        broker,
        KITKEEPER_ACK_DELAY="0",
        KITKEEPER_KIT_TELEMETRY_BURST="100000",
        KITKEEPER_KIT_EVENTS_RATE="5",
        KITKEEPER_KIT_EVENTS_BURST="200",
    ).start()
    clients = [connect(broker, tmp_path, k) for k in ("kit-a", "kit-b", "kit-flood", "kit-h")]
    try:
        poison_costs_only_itself(controller, *clients[0], clients[1][0])
        flood_is_cut_and_holes_not_rescanned(controller, clients[2][0], *clients[3])
        log = controller.log()
        assert "Traceback" not in log
        assert log.count("rejected message on kits/kit-b/events") == 2, "once per kit and reason"
        assert log.count("kit over its events rate") == 1, "a flood is one line a minute"
    finally:
        for client, _ in clients:
            client.loop_stop()
            client.disconnect()
        controller.stop()


def poison_costs_only_itself(
    controller: Controller, good: mqtt.Client, acks: list[Any], bad: mqtt.Client
) -> None:
    """Kit-b's poison and 10,000-deep payloads among kit-a's 1,500 snapshots, against a
    clean run."""
    clean = send(good, "kit-a", range(1, 1501), "telemetry", acks)
    started = time.monotonic()
    for seq in range(1501, 3001):
        good.publish("kits/kit-a/telemetry", message("kit-a", seq), qos=1)
        if seq % 20 == 0:  # 75 hostile messages among kit-a's 1,500
            bad.publish("kits/kit-b/events", message("kit-b", seq, (POISON, DEEP)[seq % 40 == 0]))
    wait_for(lambda: watermark(acks) >= 3000, 60, "kit-a acknowledged")
    hostile = time.monotonic() - started

    counts: dict[str, float] = {}

    def arrived() -> bool:
        counts.update(
            (reason, metric(controller, "kitkeeper_messages_rejected_total", reason=reason))
            for reason in ("invalid", "malformed_json", "oversized", "rate_limited")
        )
        return sum(counts.values()) >= 75

    with contextlib.suppress(AssertionError):  # the counts below say what did arrive
        wait_for(arrived, 30, "kit-b's messages")
    assert counts == {"invalid": 37, "malformed_json": 38, "oversized": 0, "rate_limited": 0}
    assert metric(controller, "kitkeeper_ingest_batch_splits_total") == 0
    assert metric(controller, "kitkeeper_messages_quarantined_total") == 0
    assert hostile < 3 * clean + 1.0, f"{hostile:.2f}s with kit-b against {clean:.2f}s clean"
    assert stored_seqs(controller, "kit-b") == []


def flood_is_cut_and_holes_not_rescanned(
    controller: Controller, flood: mqtt.Client, good: mqtt.Client, acks: list[Any]
) -> None:
    """Kit-flood sends 1,000 events at once (its rate: 5 a second, 200 at once); kit-h leaves a
    hole under 40 events, filled at last."""
    started = time.monotonic()
    send(flood, "kit-flood", range(1, 1001), "events")
    for first in range(2, 42, 10):  # seq 1 is held back: a hole under 40 stored events
        send(good, "kit-h", range(first, first + 10), "events")
        wait_for(lambda f=first: len(stored_seqs(controller, "kit-h")) == f + 8, 30, "stored")

    def settled() -> float | None:
        rejected = metric(controller, "kitkeeper_messages_rejected_total", reason="rate_limited")
        return rejected if rejected + len(stored_seqs(controller, "kit-flood")) >= 1000 else None

    rejected = wait_for(settled, 30, "every flooding message stored or rejected")
    elapsed = time.monotonic() - started
    accepted = len(stored_seqs(controller, "kit-flood"))
    assert accepted + rejected == 1000
    assert 200 <= accepted <= 200 + 5 * elapsed + 1, f"{accepted} taken in {elapsed:.1f}s"
    assert stored_seqs(controller, "kit-h") == list(range(2, 42)), "the other kit: all of it"
    assert watermark(acks) == 0
    assert metric(controller, "kitkeeper_ingest_hole_rows_scanned_total") == 0
    send(good, "kit-h", range(1, 2), "events", acks)
    assert watermark(acks) == 41
    assert metric(controller, "kitkeeper_ingest_hole_rows_scanned_total") == 40
