"""A real agent, a real Mosquitto, the real controller: the kit shows up over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from agent.collectors.connectivity import throughput_mbps
from protocol.limits import MAX_PAYLOAD_BYTES
from tests.support import (
    Agent,
    Broker,
    Controller,
    http_get,
    kit,
    metric,
    mqtt_client,
    provision_kit,
    ssl_context,
    wait_for,
)


def test_agent_reports_real_figures_through_the_broker(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    agent = Agent(tmp_path, broker, "kit-e2e", interval=0.5).start()
    try:
        wait_for(
            lambda: len(kit(controller, "kit-e2e")["history"]) >= 4,
            20,
            "the kit with a few snapshots",
        )
        listed = controller.get("/api/v1/kits")[1]["items"]
        summary = listed[0]
        assert summary["kit_id"] == "kit-e2e"
        assert summary["online"] is True
        assert summary["hostname"] == socket.gethostname()
        assert 0 < summary["memory_percent"] <= 100
        assert 0 < summary["disk_used_percent"] <= 100
        assert summary["cpu_percent"] is not None
        assert "camera" in summary["profile_missing"], "the fleet list says what the kit lacks"
        assert summary["profile"] == "base"

        detail = kit(controller, "kit-e2e")
        assert detail is not None
        latest = detail["latest"]
        assert latest["memory"]["total_bytes"] == psutil.virtual_memory().total
        # The inventory parts travel too: services, the agent itself, peripherals, the profile.
        assert {s["role"] for s in latest["services"]} == {"agent", "network", "audio", "time"}
        assert latest["agent_process"]["rss_bytes"] > 0
        assert "devices" in latest["peripherals"] or "unavailable" in latest["peripherals"]
        assert latest["profile"]["profile"] == "base"
        assert "camera" in latest["profile"]["missing"]
        assert len(detail["history"]) >= 3
        kinds = [e["kind"] for e in detail["events"]]
        assert {"kit_online", "agent_started", "profile_incomplete"} <= set(kinds)

        status, page = controller.get("/api/v1/kits/kit-e2e/telemetry?after_seq=0&limit=2")
        assert status == 200
        assert len(page["items"]) == 2
        seqs = [i["seq"] for i in page["items"]]
        assert seqs == sorted(seqs)
        assert all(len(i["msg_id"]) == 32 for i in page["items"])
        status, rest = controller.get(
            f"/api/v1/kits/kit-e2e/telemetry?after_seq={page['next_after_seq']}&limit=1000"
        )
        assert rest["next_after_seq"] is None
        assert all(i["seq"] > seqs[-1] for i in rest["items"])

        assert metric(controller, "kitkeeper_kits_online") == 1
        assert metric(controller, "kitkeeper_messages_stored_total", channel="telemetry") >= 3
    finally:
        assert agent.stop(signal.SIGTERM) == 0
    # A clean stop says offline at once.
    wait_for(lambda: kit(controller, "kit-e2e")["online"] is False, 10, "clean offline")


def test_last_will_marks_a_killed_agent_offline(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    agent = Agent(tmp_path, broker, "kit-will", interval=1).start()
    wait_for(lambda: (k := kit(controller, "kit-will")) and k["online"], 20, "kit online")
    agent.stop(signal.SIGKILL)
    wait_for(lambda: kit(controller, "kit-will")["online"] is False, 10, "Last Will: offline")
    wait_for(lambda: metric(controller, "kitkeeper_kits_online") == 0, 10, "online gauge at 0")


def _good(kit_id: str) -> dict:
    return {
        "schema": 1,
        "kit_id": kit_id,
        "msg_id": uuid.uuid4().hex,
        "seq": 1,
        "ts": datetime.now(UTC).isoformat(),
        "body": {"kind": "test", "message": "still listening"},
    }


BAD_INPUTS = [
    ("malformed_json", "kits/kit-x/telemetry", b"{this is not json"),
    (
        "schema_version",
        "kits/kit-x/telemetry",
        json.dumps(_good("kit-x") | {"schema": 99}).encode(),
    ),
    ("oversized", "kits/kit-x/telemetry", b"x" * (MAX_PAYLOAD_BYTES + 1000)),
    ("kit_mismatch", "kits/kit-x/events", json.dumps(_good("kit-other")).encode()),
    ("invalid", "kits/kit-x/events", json.dumps(_good("kit-x") | {"seq": "seven"}).encode()),
]


@pytest.mark.parametrize(("reason", "topic", "payload"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_rejected_counted_and_logged_and_the_controller_keeps_serving(
    tmp_path: Path,
    broker: Broker,
    controller: Controller,
    reason: str,
    topic: str,
    payload: bytes,
) -> None:
    # A kit with a valid certificate that sends garbage on its own topics.
    provision_kit(broker.pki, tmp_path / "kit-x", "kit-x")
    client, _ = mqtt_client(broker, tmp_path / "kit-x")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
        wait_for(
            lambda: metric(controller, "kitkeeper_messages_rejected_total", reason=reason) == 1,
            10,
            f"rejection counted as {reason}",
        )
        lines = [ln for ln in controller.log().splitlines() if "rejected message" in ln]
        assert len(lines) == 1, lines
        assert reason in lines[0]
        assert "Traceback" not in controller.log()
        # Still alive and still ingesting: a good message after the bad one is stored.
        assert kit(controller, "kit-x") is None
        client.publish("kits/kit-x/events", json.dumps(_good("kit-x")), qos=1).wait_for_publish(5)
        wait_for(lambda: kit(controller, "kit-x"), 10, "a good message after the bad one")
        assert controller.running
        assert controller.get("/healthz")[0] == 200
    finally:
        client.loop_stop()
        client.disconnect()


def test_api_refuses_bad_requests_clearly(controller: Controller) -> None:
    assert controller.get("/api/v1/kits/nobody")[0] == 404
    assert "nobody" in controller.get("/api/v1/kits/nobody")[1]["detail"]
    assert controller.get("/api/v1/kits/nobody/telemetry")[0] == 404
    assert controller.get("/api/v1/kits/bad%2Bid")[0] == 422
    assert controller.get("/api/v1/kits/k/telemetry?after_seq=-1")[0] == 422
    assert controller.get("/api/v1/kits/k/telemetry?limit=5000")[0] == 422
    assert controller.get("/api/v1/kits")[1] == {"count": 0, "online": 0, "items": []}


@pytest.mark.slow
@pytest.mark.soak  # `make test-slow`: a 30-second outage by design
def test_broker_down_for_30_seconds_then_everyone_reconnects(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    agent = Agent(tmp_path, broker, "kit-outage", interval=1).start()
    try:
        wait_for(lambda: (k := kit(controller, "kit-outage")) and k["last_seq"] >= 2, 20, "data")
        broker.stop()
        wait_for(lambda: controller.get("/healthz")[0] == 503, 10, "controller sees the outage")
        assert controller.get("/api/v1/kits")[0] == 200  # still serving what it has
        time.sleep(30)
        before = kit(controller, "kit-outage")["latest_ts"]
        broker.start()
        wait_for(lambda: controller.get("/healthz")[0] == 200, 30, "controller reconnected")
        wait_for(
            lambda: kit(controller, "kit-outage")["latest_ts"] > before,
            30,
            "telemetry resumed after the broker came back",
        )
        assert agent.running
        assert controller.running
        assert kit(controller, "kit-outage")["online"] is True
    finally:
        agent.stop()


def test_a_kit_can_measure_its_throughput_from_the_controller(
    tmp_path: Path, controller: Controller
) -> None:
    provision_kit(controller.pki, tmp_path / "kit", "kit-probe")
    as_the_kit = ssl_context(controller.pki, tmp_path / "kit")  # the probe is for enrolled kits
    mbps = throughput_mbps(f"{controller.url}/api/v1/probe?size=2000000", context=as_the_kit)
    assert mbps is not None
    assert mbps > 1
    status, _ = http_get(f"{controller.url}/api/v1/probe?size=20000000", as_the_kit)
    assert status == 422, "capped at 10 MB"
