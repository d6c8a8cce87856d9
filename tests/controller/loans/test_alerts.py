"""Alerts from contracts and what kits report: reconciliation within one snapshot."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.controller.records import GOOD, add_kits, setup_loan, step
from tests.protocol.messages import telemetry_body
from tests.support import Broker, Controller, mqtt_client, provision_kit, wait_for

WEBCAM = {
    "vendor_id": "046d",
    "product_id": "0825",
    "serial": "WC-C270-0042",
    "device_class": "ef",
    "interface_classes": ["0e", "01"],
}
HEADSET = {
    "vendor_id": "046d",
    "product_id": "0a8f",
    "serial": "HS-H390-0917",
    "device_class": "00",
    "interface_classes": ["01", "03"],
}


def publish_snapshot(broker: Broker, cert_dir: Path, seq: int, usb: list[dict[str, Any]]) -> None:
    client, _ = mqtt_client(broker, cert_dir)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    body = telemetry_body() | {"peripherals": {"usb": usb, "devices": []}}
    envelope = {
        "schema": 1,
        "kit_id": "kit-l1",
        "msg_id": uuid.uuid4().hex,
        "seq": seq,
        "ts": datetime.now(UTC).isoformat(),
        "body": body,
    }
    client.publish("kits/kit-l1/telemetry", json.dumps(envelope), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def kinds(controller: Controller) -> list[tuple[str, str | None]]:
    return [(a["kind"], a["contract"]) for a in controller.get("/api/v1/alerts", "technician")[1]]


def test_a_component_the_kit_no_longer_reports_raises_an_alert_at_once(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    setup_loan(controller)
    provision_kit(broker.pki, tmp_path / "kit", "kit-l1")
    publish_snapshot(broker, tmp_path / "kit", 1, [WEBCAM, HEADSET])
    wait_for(lambda: controller.get("/api/v1/kits/kit-l1")[1]["last_seq"] == 1, 10, "snapshot")
    assert ("loaned_without_contract", None) in kinds(controller), "reporting, but only a draft"
    step(controller, "sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"})
    status, _ = step(
        controller,
        "hand_over",
        {"act": {"conditions": GOOD, "signed_by": "Ә Н"}, "training_recorded": True},
    )
    assert status == 200
    assert kinds(controller) == [], "everything the contract lends is there"
    publish_snapshot(broker, tmp_path / "kit", 2, [WEBCAM])  # the headset is gone
    wait_for(lambda: controller.get("/api/v1/kits/kit-l1")[1]["last_seq"] == 2, 10, "snapshot")
    alerts = controller.get("/api/v1/alerts", "technician")[1]
    assert [(a["kind"], a["contract"]) for a in alerts] == [("reconciliation", "2026-0042")]
    assert "HS-H390-0917" in alerts[0]["message"]
    foreign = HEADSET | {"serial": "HS-OTHER-1"}
    publish_snapshot(broker, tmp_path / "kit", 3, [WEBCAM, foreign])
    wait_for(lambda: controller.get("/api/v1/kits/kit-l1")[1]["last_seq"] == 3, 10, "snapshot")
    messages = " ".join(a["message"] for a in controller.get("/api/v1/alerts")[1])
    assert "HS-OTHER-1" in messages, "a foreign device in its place"


def test_contracts_ending_and_returns_overdue(controller: Controller) -> None:
    setup_loan(controller)
    today = date.today()
    status, _ = controller.post(
        "/api/v1/contracts",
        {
            "number": "c-soon",
            "school": "№1",
            "city": "Алматы",
            "guardian_ref": "g-001",
            "pupil_ref": "p-001",
            "kit_id": "kit-l1",
            "start": "2026-01-01",
            "end": (today + timedelta(days=10)).isoformat(),
        },
        "admin",
    )
    assert status == 409, "the kit is already under the draft 2026-0042"
    step(controller, "terminate", {"reason": "replaced by a shorter contract"})
    for number, end in (
        ("c-soon", today + timedelta(days=10)),
        ("c-late", today - timedelta(days=3)),
    ):
        kit = f"kit-{number}"
        add_kits(controller, kit)  # a component never creates its kit (issue 13)
        controller.post(
            "/api/v1/components",
            {"serial": f"SN-{number}", "kind": "laptop", "model": "X", "kit_id": kit},
            "admin",
        )
        status, body = controller.post(
            "/api/v1/contracts",
            {
                "number": number,
                "school": "№1",
                "city": "Алматы",
                "guardian_ref": "g-001",
                "pupil_ref": "p-001",
                "kit_id": kit,
                "start": "2025-09-01",
                "end": end.isoformat(),
            },
            "admin",
        )
        assert status == 201, body
        path = f"/api/v1/contracts/{number}/actions"
        controller.post(f"{path}/sign", {"guardian": "Ә Н", "school": "Д"}, "admin")
        status, body = controller.post(
            f"{path}/hand_over",
            {
                "act": {"conditions": {f"SN-{number}": "good"}, "signed_by": "Ә Н"},
                "training_recorded": True,
            },
            "admin",
        )
        assert status == 200, body
    found = kinds(controller)
    assert ("contract_ending", "c-soon") in found
    assert ("return_overdue", "c-late") in found
    assert ("contract_ending", "c-late") not in found
