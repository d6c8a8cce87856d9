"""Every endpoint with each role and with no credentials: who may do what."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Broker, Controller, mqtt_client, provision_kit, wait_for

# (path, admin, technician, teacher, none)
TABLE = [
    ("/healthz", 200, 200, 200, 200),
    ("/metrics", 200, 200, 200, 200),
    ("/api/v1/pki/ca.pem", 200, 200, 200, 200),
    ("/api/v1/probe?size=10", 200, 200, 200, 200),
    ("/api/v1/auth/me", 200, 200, 200, 401),
    ("/api/v1/kits", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth/telemetry", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth/events", 200, 200, 403, 401),
    ("/api/v1/audit", 200, 403, 403, 401),
    ("/api/v1/pupils", 200, 200, 200, 401),
    ("/api/v1/pupils/p-auth", 200, 200, 200, 401),
    ("/api/v1/guardians", 200, 200, 200, 401),
    ("/api/v1/components", 200, 200, 403, 401),
    ("/api/v1/contracts", 200, 200, 403, 401),
    ("/api/v1/contracts/c-auth", 200, 200, 403, 401),
    ("/api/v1/contracts/c-auth/documents/contract.pdf", 200, 403, 403, 401),
    ("/api/v1/register.csv", 200, 403, 403, 401),
    ("/api/v1/alerts", 200, 200, 403, 401),
]


@pytest.fixture
def with_a_kit(tmp_path: Path, broker: Broker, controller: Controller) -> Controller:
    provision_kit(broker.pki, tmp_path / "k", "kit-auth")
    client, _ = mqtt_client(broker, tmp_path / "k")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    body = (
        b'{"schema":1,"kit_id":"kit-auth","msg_id":"m1","seq":1,'
        b'"ts":"2026-11-25T09:00:00Z","body":{"kind":"x"}}'
    )
    client.publish("kits/kit-auth/events", body, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
    wait_for(lambda: controller.get("/api/v1/kits/kit-auth")[0] == 200, 10, "the kit")
    pupil = {
        "ref": "p-auth",
        "name": "Айгерім",
        "iin": "080215500016",
        "grade": 3,
        "program": "general",
        "basis": "disability",
        "school": "№1",
        "teacher": "teacher",
    }
    assert controller.post("/api/v1/pupils", pupil, "admin")[0] == 201
    guardian = {
        "ref": "g-auth",
        "pupil_ref": "p-auth",
        "relation": "father",
        "name": "Ерлан",
        "phone": "+77011112233",
        "address": "Астана, Мәңгілік Ел 1",
        "iin": "900101300017",
    }
    assert controller.post("/api/v1/guardians", guardian, "admin")[0] == 201
    part = {"serial": "SN-AUTH", "kind": "laptop", "model": "X", "kit_id": "kit-auth"}
    assert controller.post("/api/v1/components", part, "admin")[0] == 201
    contract = {
        "number": "c-auth",
        "school": "№1",
        "city": "Астана",
        "guardian_ref": "g-auth",
        "pupil_ref": "p-auth",
        "kit_id": "kit-auth",
        "start": "2026-09-01",
        "end": "2027-05-31",
    }
    assert controller.post("/api/v1/contracts", contract, "admin")[0] == 201
    return controller


def test_every_endpoint_with_every_role(with_a_kit: Controller) -> None:
    controller = with_a_kit
    failures = []
    for path, *expected in TABLE:
        for role, status in zip(("admin", "technician", "teacher", None), expected, strict=True):
            got, body = controller.get(path, role)
            if got != status:
                failures.append(f"{path} as {role or 'nobody'}: {got} (expected {status}) {body}")
    assert not failures, "\n".join(failures)


def test_the_openapi_schema_lists_no_endpoint_this_table_forgets(controller: Controller) -> None:
    _, schema = controller.get("/openapi.json", None)
    gets = {p for p, ops in schema["paths"].items() if "get" in ops}
    covered = {
        p.split("?")[0]
        .replace("kit-auth", "{kit_id}")
        .replace("p-auth", "{ref}")
        .replace("c-auth", "{number}")
        .replace("contract.pdf", "{kind}.pdf")
        for p, *_ in TABLE
    }
    assert gets <= covered, f"GET endpoints without an authorization row: {gets - covered}"


def test_a_wrong_password_and_a_forged_token_are_refused(controller: Controller) -> None:
    status, body = controller.post("/api/v1/auth/token", {"username": "admin", "password": "nope"})
    assert status == 401
    assert "wrong user name or password" in body["detail"]
    status, _ = controller.post("/api/v1/auth/token", {"username": "ghost", "password": "x" * 12})
    assert status == 401
    controller.tokens["forged"] = "not-a-token"
    assert controller.get("/api/v1/kits", "forged")[0] == 401


def test_sign_ins_and_kit_changes_are_in_the_audit_log(
    broker: Broker, controller: Controller
) -> None:
    result = controller.cli("enroll-token", "create", "--kit-id", "kit-audit")
    assert result.returncode == 0
    result = controller.cli(
        "kit", "mark", "--kit-id", "kit-audit", "lost", "--broker-dir", str(broker.dir)
    )
    assert result.returncode == 0
    _, log = controller.get("/api/v1/audit?entity=kit&entity_id=kit-audit")
    actions = [(e["action"], e["before"], e["after"]) for e in log]
    assert actions[0][0] == "lifecycle_changed"
    assert actions[0][1:] == ({"lifecycle": "active"}, {"lifecycle": "lost"})
    assert actions[1][0] == "enroll_token_created"
    assert all(e["actor"].startswith("cli:") for e in log)
    _, signins = controller.get("/api/v1/audit?entity=user")
    assert {e["entity_id"] for e in signins if e["action"] == "sign_in"} >= {"admin", "teacher"}
