"""Kits' clocks through the real broker and controller: far `ts` refused, skew flagged."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.support import Broker, Controller, kit, metric, mqtt_client, provision_kit, wait_for

FAR = {
    "0001-01-01T00:00:00Z": "ts_out_of_range",  # year 1: pydantic reads it, the bound does not
    "9999-12-31T23:59:59Z": "ts_out_of_range",
    "9999-12-31T23:59:59-14:00": "ts_out_of_range",  # has no UTC form at all
}


def event(kit_id: str, seq: int, ts: str, kind: str = "test") -> bytes:
    return json.dumps(
        {
            "schema": 1,
            "kit_id": kit_id,
            "msg_id": uuid.uuid4().hex,
            "seq": seq,
            "ts": ts,
            "body": {"kind": kind, "message": f"message {seq}"},
        }
    ).encode()


def connect(broker: Broker, tmp_path: Path, kit_id: str) -> tuple[mqtt.Client, list[Any]]:
    """A kit's own raw MQTT client, subscribed to its acks."""
    provision_kit(broker.pki, tmp_path / kit_id, kit_id)
    client, received = mqtt_client(broker, tmp_path / kit_id)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.subscribe(f"kits/{kit_id}/ack", qos=1)
    return client, received


def watermark(received: list[Any]) -> int:
    acks = [json.loads(m.payload)["body"]["watermark"] for m in received if "/ack" in m.topic]
    return max(acks, default=0)


def test_far_ts_are_refused_by_reason_and_counted_and_another_kit_is_unaffected(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    far, far_acks = connect(broker, tmp_path, "kit-far")
    good, acks = connect(broker, tmp_path, "kit-good")
    try:
        now = datetime.now(UTC)
        bad = {**FAR, (now + timedelta(days=2)).isoformat(): "ts_ahead"}
        for seq, ts in enumerate(bad, start=1):
            far.publish("kits/kit-far/events", event("kit-far", seq, ts), qos=1).wait_for_publish(5)
        for seq in range(1, 21):  # the other kit, in the same batches
            payload = event("kit-good", seq, datetime.now(UTC).isoformat())
            good.publish("kits/kit-good/events", payload, qos=1).wait_for_publish(5)
        wait_for(lambda: watermark(acks) == 20, 20, "every message of kit-good acknowledged")
        counted = {
            reason: metric(controller, "kitkeeper_messages_rejected_total", reason=reason)
            for reason in ("ts_out_of_range", "ts_ahead", "invalid")
        }
        assert counted == {"ts_out_of_range": 3, "ts_ahead": 0, "invalid": 0}
        assert metric(controller, "kitkeeper_messages_restamped_total") == 1
        status, page = controller.get("/api/v1/kits/kit-good/events?limit=100")
        assert status == 200
        assert [e["seq"] for e in page["items"]] == list(range(1, 21))
        # Refused, yet settled: the far kit may drop them rather than send them again for ever.
        wait_for(lambda: watermark(far_acks) == 4, 20, "kit-far's refused messages settled")
        status, page = controller.get("/api/v1/kits/kit-far/events?limit=100")
        assert status == 200
        items = page["items"]
        assert [(e["seq"], e["kind"], e["severity"]) for e in items] == [
            *((seq, "ts_refused", "warning") for seq in range(1, 4)),
            (4, "test", "info"),
        ], "a ts_refused event in the place of each far one; the one a day ahead kept"
        claimed = [
            (e["body"]["data"]["claimed_ts"][:4], e["body"]["data"].get("refused")) for e in items
        ]
        assert claimed == [
            (ts[:4], reason if reason != "ts_ahead" else None) for ts, reason in bad.items()
        ]
        assert all("message 1" not in json.dumps(e) for e in items[:3])
        assert items[3]["body"]["message"] == "message 4", (
            "a help request from a wrong clock counts"
        )
        assert abs(datetime.fromisoformat(items[3]["ts"]) - now) < timedelta(minutes=1)
        assert metric(controller, "kitkeeper_messages_quarantined_total") == 0
        assert metric(controller, "kitkeeper_ingest_write_errors_total") == 0
        log = controller.log()
        assert "Traceback" not in log
        assert log.count("ts_out_of_range") == 1, "logged once per kit and reason a minute"
        assert "is not in the years 2000 to 2100" in log
    finally:
        for client in (far, good):
            client.loop_stop()
            client.disconnect()


def test_a_kit_two_hours_fast_is_stored_and_its_clock_flagged(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    client, acks = connect(broker, tmp_path, "kit-fast")
    try:
        for seq in range(1, 4):
            ts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            client.publish("kits/kit-fast/events", event("kit-fast", seq, ts), qos=1)
        wait_for(lambda: watermark(acks) == 3, 20, "the fast kit's messages acknowledged")

        def flagged() -> list[dict[str, Any]]:
            return [e for e in kit(controller, "kit-fast")["events"] if e["kind"] == "clock_skew"]

        (row,) = wait_for(flagged, 10, "a clock_skew event for the kit")
        assert row["severity"] == "warning"
        assert row["message"] == "the kit's clock is 2 h ahead of the controller's"
        assert 7100 < row["body"]["skew_s"] <= 7200
        assert metric(controller, "kitkeeper_clock_skew_events_total") == 1, "once, not thrice"
        assert metric(controller, "kitkeeper_kits_clock_skewed") == 1
        assert metric(controller, "kitkeeper_messages_rejected_total", reason="ts_ahead") == 0
        assert "Traceback" not in controller.log()
    finally:
        client.loop_stop()
        client.disconnect()
