"""Every endpoint with each role and with no credentials: who may do what."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.controller.records import add_kits
from tests.support import Broker, Controller, loan_period, mqtt_client, provision_kit, wait_for

RESOURCE = "c0ffee00c0ffee00c0ffee00c0ffee00"
"""A content resource's id that does not exist."""
BLOB = "0" * 64
"""A blob's sha256 no kit's manifest names."""

# (path, admin, technician, teacher, none)
TABLE = [
    ("/healthz", 200, 200, 200, 200),
    ("/metrics", 200, 200, 403, 401),  # or the metrics token (test_headers.py)
    ("/api/v1/pki/ca.pem", 200, 200, 200, 200),
    ("/api/v1/probe?size=10", 403, 403, 403, 403),  # enrolled kits only (test_headers.py)
    ("/api/v1/auth/me", 200, 200, 200, 401),
    ("/api/v1/kits", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth/telemetry", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth/events", 200, 200, 403, 401),
    ("/api/v1/audit", 200, 403, 403, 401),
    ("/api/v1/pupils", 200, 200, 200, 401),
    ("/api/v1/pupils/p-auth", 200, 200, 200, 401),
    ("/api/v1/guardians", 200, 200, 200, 401),
    ("/api/v1/pupils/p-auth/history", 200, 403, 200, 401),  # people: the teacher's own pupil
    ("/api/v1/guardians/g-auth/history", 200, 403, 200, 401),  # people
    ("/api/v1/components", 200, 200, 403, 401),
    ("/api/v1/contracts", 200, 200, 403, 401),
    ("/api/v1/contracts/c-auth", 200, 200, 403, 401),
    ("/api/v1/contracts/c-auth/documents/contract.pdf", 200, 403, 403, 401),
    ("/api/v1/contracts/c-auth/documents", 200, 403, 403, 401),
    ("/api/v1/register.csv", 200, 403, 403, 401),
    ("/api/v1/import/kits/template.csv", 200, 403, 403, 401),  # imports
    ("/api/v1/schedules/template.csv", 200, 403, 403, 401),  # imports
    ("/api/v1/alerts", 200, 200, 403, 401),
    ("/api/v1/tickets", 200, 200, 403, 401),  # tickets
    ("/api/v1/tickets/1", 200, 200, 403, 401),  # tickets
    ("/api/v1/pupils/p-auth/schedule", 404, 404, 404, 401),  # schedules: none drawn up yet
    ("/api/v1/pupils/p-auth/lessons", 200, 200, 200, 401),  # schedules
    ("/api/v1/kits/kit-auth/schedule", 404, 404, 403, 401),  # schedules: a draft contract
    ("/api/v1/incidents", 200, 200, 403, 401),  # remediation
    ("/api/v1/incidents/summary", 200, 200, 403, 401),  # remediation
    ("/api/v1/incidents/1", 404, 404, 403, 401),  # remediation: none yet
    ("/api/v1/playbooks", 200, 200, 403, 401),  # remediation
    ("/api/v1/rules", 200, 200, 403, 401),  # remediation
    ("/api/v1/kits/kit-auth/commands", 200, 200, 403, 401),  # remediation
    ("/api/v1/commands/c0", 404, 404, 403, 401),  # remediation: none yet
    ("/api/v1/kits/kit-auth/bundle", 200, 200, 403, 401),  # remediation
    ("/api/v1/kits/kit-auth/diagnostics", 200, 200, 403, 401),  # remediation
    ("/api/v1/diagnostics/1", 404, 404, 403, 401),  # remediation: none yet
    ("/api/v1/content", 200, 200, 200, 401),  # content catalogue
    ("/api/v1/content/facets", 200, 200, 200, 401),  # content catalogue
    ("/api/v1/content/" + RESOURCE, 404, 404, 404, 401),  # content catalogue: none such
    ("/api/v1/assignments", 200, 200, 200, 401),  # assignments
    ("/api/v1/assignments/1", 404, 404, 404, 401),  # assignments: none yet
    ("/api/v1/kits/kit-auth/content", 200, 200, 404, 401),  # a draft contract: no pupil's kit
    ("/api/v1/pupils/p-auth/content", 200, 200, 200, 401),  # the teacher's own pupil
    ("/api/v1/alerts/content", 200, 200, 403, 401),
    ("/api/v1/kits/kit-auth/manifest", 404, 403, 403, 403),  # the kit's certificate, or admins
    ("/api/v1/content/blobs/" + BLOB, 403, 403, 403, 403),  # kits only (their certificate)
]


@pytest.fixture
def with_a_kit(tmp_path: Path, broker: Broker, controller: Controller) -> Controller:
    provision_kit(broker.pki, tmp_path / "k", "kit-auth")
    client, _ = mqtt_client(broker, tmp_path / "k")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    body = json.dumps(
        {
            "schema": 1,
            "kit_id": "kit-auth",
            "msg_id": "m1",
            "seq": 1,
            "ts": datetime.now(UTC).isoformat(),
            "body": {"kind": "x"},
        }
    ).encode()
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
    add_kits(controller, "kit-auth")  # a component never creates its kit (issue 13)
    part = {"serial": "SN-AUTH", "kind": "laptop", "model": "X", "kit_id": "kit-auth"}
    assert controller.post("/api/v1/components", part, "admin")[0] == 201
    contract = {
        "number": "c-auth",
        "school": "№1",
        "city": "Астана",
        "guardian_ref": "g-auth",
        "pupil_ref": "p-auth",
        "kit_id": "kit-auth",
        **loan_period(),
    }
    assert controller.post("/api/v1/contracts", contract, "admin")[0] == 201
    ticket = {"kind": "help_request", "kit_id": "kit-auth", "title": "No sound"}  # tickets
    assert controller.post("/api/v1/tickets", ticket, "admin")[0] == 201  # ticket 1
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


def _openapi(controller: Controller) -> dict:
    """The schema, as staff see it (built on first asking: seconds on a busy machine)."""
    request = urllib.request.Request(
        controller.url + "/openapi.json",
        headers={"Authorization": f"Bearer {controller.tokens['admin']}"},
    )
    with urllib.request.urlopen(request, context=controller.context, timeout=60) as resp:
        schema: dict = json.load(resp)
    return schema


def test_the_openapi_schema_lists_no_endpoint_this_table_forgets(controller: Controller) -> None:
    schema = _openapi(controller)
    gets = {p for p, ops in schema["paths"].items() if "get" in ops}
    covered = {
        p.split("?")[0]
        .replace("kit-auth", "{kit_id}")
        .replace("p-auth", "{ref}")
        .replace("g-auth", "{ref}")
        .replace("c-auth", "{number}")
        .replace("contract.pdf", "{kind}.pdf")
        .replace("/import/kits/", "/import/{kind}/")
        .replace("/tickets/1", "/tickets/{ticket_id}")
        .replace("/incidents/1", "/incidents/{incident_id}")
        .replace("/commands/c0", "/commands/{command_id}")
        .replace("/diagnostics/1", "/diagnostics/{diagnostics_id}")
        .replace(RESOURCE, "{resource_id}")  # content catalogue
        .replace("/assignments/1", "/assignments/{assignment_id}")
        .replace(BLOB, "{sha256}")
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


# Every endpoint that changes something: (method, path, who may). The others get 403; nobody
# signed in gets 401; nothing is changed by a refused call.
WRITES = [
    ("POST", "/api/v1/pupils", {"admin"}),
    ("POST", "/api/v1/guardians", {"admin"}),
    # people: {} changes nothing (PATCH), lacks the reason (archive) or dry_run (promote), and
    # nobody is archived to restore (409)
    ("PATCH", "/api/v1/pupils/p-auth", {"admin"}),
    ("POST", "/api/v1/pupils/p-auth/archive", {"admin"}),
    ("POST", "/api/v1/pupils/p-auth/restore", {"admin"}),
    ("POST", "/api/v1/pupils/promote", {"admin"}),
    ("PATCH", "/api/v1/guardians/g-auth", {"admin"}),
    ("POST", "/api/v1/guardians/g-auth/archive", {"admin"}),
    ("POST", "/api/v1/guardians/g-auth/restore", {"admin"}),
    ("POST", "/api/v1/components", {"admin"}),
    ("PATCH", "/api/v1/components/SN-AUTH", {"admin"}),
    ("POST", "/api/v1/contracts", {"admin"}),
    ("POST", "/api/v1/contracts/c-auth/actions/sign", {"admin"}),
    ("POST", "/api/v1/import/kits", {"admin"}),
    ("POST", "/api/v1/contracts/c-auth/replace", {"admin"}),
    ("POST", "/api/v1/tickets", {"admin", "technician"}),  # tickets
    ("POST", "/api/v1/tickets/1/assign", {"admin", "technician"}),  # tickets
    ("POST", "/api/v1/tickets/1/transition", {"admin", "technician"}),  # tickets
    ("POST", "/api/v1/tickets/1/close", {"admin", "technician"}),  # tickets
    ("PUT", "/api/v1/pupils/p-auth/schedule", {"admin"}),  # schedules
    ("POST", "/api/v1/pupils/p-auth/schedule/approve", {"admin"}),  # schedules
    ("POST", "/api/v1/pupils/p-auth/schedule/import", {"admin"}),  # schedules
    # remediation: each allowed call fails after authorization (404/422), so nothing changes
    ("POST", "/api/v1/incidents/1/force", {"admin", "technician"}),
    ("POST", "/api/v1/incidents/1/resolve", {"admin", "technician"}),
    ("POST", "/api/v1/kits/kit-auth/playbooks/no-such-book/run", {"admin", "technician"}),
    ("POST", "/api/v1/kits/kit-gone/diagnostics", {"admin", "technician"}),
    # content catalogue: an upload without its form (422), no such resource (404)
    ("POST", "/api/v1/content", {"admin", "teacher"}),
    ("PATCH", "/api/v1/content/c0ffee00c0ffee00c0ffee00c0ffee00", {"admin", "teacher"}),
    ("POST", "/api/v1/content/c0ffee00c0ffee00c0ffee00c0ffee00/archive", {"admin", "teacher"}),
    ("POST", "/api/v1/content/c0ffee00c0ffee00c0ffee00c0ffee00/restore", {"admin", "teacher"}),
    # assignments: no body (422), no such assignment (404)
    ("POST", "/api/v1/assignments", {"admin", "teacher"}),
    ("POST", "/api/v1/assignments/1/cancel", {"admin", "teacher"}),
    # staff: no such user (404), a password change without a body (422)
    ("POST", "/api/v1/users/no-such-user/disable", {"admin"}),
    ("POST", "/api/v1/users/no-such-user/enable", {"admin"}),
    ("POST", "/api/v1/auth/password", {"admin", "technician", "teacher"}),
]
OPEN_WRITES = {"/api/v1/enroll", "/api/v1/auth/token"}  # a one-time token, credentials
OWN_SESSION = {"/api/v1/auth/logout"}  # signed-in users, themselves: trust/test_signin.py


def call(controller: Controller, method: str, path: str, role: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if role:
        headers["Authorization"] = f"Bearer {controller.tokens[role]}"
    request = urllib.request.Request(controller.url + path, b"{}", headers, method=method)
    try:
        with urllib.request.urlopen(request, context=controller.context, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_every_write_with_every_role(with_a_kit: Controller) -> None:
    controller = with_a_kit
    failures = []
    for method, path, allowed in WRITES:
        for role in ("admin", "technician", "teacher", None):
            got = call(controller, method, path, role)
            if role is None:
                expected_ok = got == 401
            elif role in allowed:
                expected_ok = got not in (401, 403)  # it is let in (a body is then checked)
            else:
                expected_ok = got == 403
            if not expected_ok:
                failures.append(f"{method} {path} as {role or 'nobody'}: {got}")
    assert not failures, "\n".join(failures)
    _, audit = controller.get("/api/v1/audit?limit=1000")
    changes = [e for e in audit if e["actor"] in ("technician", "teacher")]
    assert {e["action"] for e in changes} == {"sign_in"}, "a refused call changes nothing"


def test_the_write_table_covers_the_openapi_schema(controller: Controller) -> None:
    schema = _openapi(controller)
    writes = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("post", "patch", "put", "delete")
    }
    covered = {(m, _template(p)) for m, p, _ in WRITES}
    covered |= {("POST", p) for p in OPEN_WRITES | OWN_SESSION}
    assert writes <= covered, f"writes without an authorization row: {writes - covered}"


def _template(path: str) -> str:
    """The OpenAPI path of a concrete one in WRITES."""
    path = path.replace("SN-AUTH", "{serial}").replace("c-auth", "{number}")
    path = path.replace("/tickets/1", "/tickets/{ticket_id}")  # tickets
    path = path.replace("p-auth", "{ref}").replace("g-auth", "{ref}")  # schedules, people
    path = path.replace("/incidents/1", "/incidents/{incident_id}")  # remediation
    path = path.replace("kit-auth", "{kit_id}").replace("kit-gone", "{kit_id}")
    path = path.replace("no-such-book", "{playbook}").replace("no-such-user", "{username}")
    path = path.replace(RESOURCE, "{resource_id}")  # content catalogue
    path = path.replace("/assignments/1", "/assignments/{assignment_id}")
    if "/actions/" in path:
        path = path.rsplit("/", 1)[0] + "/{action}"
    if "/import/" in path:
        path = path.rsplit("/", 1)[0] + "/{kind}"
    return path


def test_signing_in_also_sets_a_session_cookie_for_pages(controller: Controller) -> None:
    request = urllib.request.Request(
        controller.url + "/api/v1/auth/token",
        b'{"username": "technician", "password": "correct horse battery staple technician"}',
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, context=controller.context, timeout=10) as resp:
        cookie = resp.headers["Set-Cookie"]
    assert "kitkeeper_session=" in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=strict"):
        assert flag.lower() in cookie.lower()
    value = cookie.split(";")[0]
    page = urllib.request.Request(controller.url + "/api/v1/auth/me", headers={"Cookie": value})
    with urllib.request.urlopen(page, context=controller.context, timeout=10) as resp:
        assert json.load(resp)["role"] == "technician"
