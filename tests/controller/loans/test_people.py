"""Pupils and guardians: encrypted at rest, each role sees what it may, keys rotate."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from controller.platform.crypto import generate_key
from tests.controller.records import GUARDIAN, OTHER_PUPIL, PUPIL
from tests.support import Broker, Controller


def iin_ok(controller: Controller) -> None:
    for body in (PUPIL, OTHER_PUPIL):
        status, out = controller.post("/api/v1/pupils", body, "admin")
        assert status == 201, out
    status, out = controller.post("/api/v1/guardians", GUARDIAN, "admin")
    assert status == 201, out


@pytest.fixture
def with_people(controller: Controller) -> Controller:
    iin_ok(controller)
    return controller


def test_the_database_file_holds_no_personal_data_in_clear(with_people: Controller) -> None:
    db = Path(with_people.db.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # with the WAL
    secrets = [
        PUPIL["name"],
        PUPIL["iin"],
        GUARDIAN["name"],
        GUARDIAN["iin"],
        "+77012345678",
        "7012345678",
        GUARDIAN["address"],
        "Нұрғалиева",
        "Абай",
    ]
    for value in secrets:
        assert value.encode() not in raw, f"{value!r} in clear in the database"
    # ...and all of it still reads through the API.
    _, pupils = with_people.get("/api/v1/pupils", "admin")
    assert {p["name"] for p in pupils} == {PUPIL["name"], OTHER_PUPIL["name"]}


def test_each_role_sees_what_it_may(with_people: Controller) -> None:
    _, admin = with_people.get("/api/v1/guardians", "admin")
    assert admin[0]["iin"] == GUARDIAN["iin"]
    assert admin[0]["address"] == GUARDIAN["address"]
    assert admin[0]["phone"] == "+77012345678"
    _, tech = with_people.get("/api/v1/guardians", "technician")
    assert tech[0]["phone"] == "+77012345678", "technicians call the family"
    assert tech[0]["iin"] is None
    assert tech[0]["address"] is None
    _, tech_pupils = with_people.get("/api/v1/pupils", "technician")
    assert all(p["iin"] is None for p in tech_pupils)
    _, teacher = with_people.get("/api/v1/pupils", "teacher")
    assert [p["ref"] for p in teacher] == ["p-001"], "a teacher sees only their own pupils"
    assert with_people.get("/api/v1/pupils/p-002", "teacher")[0] == 404
    assert with_people.get("/api/v1/pupils/p-001", "teacher")[1]["iin"] is None
    assert with_people.get("/api/v1/pupils", None)[0] == 401
    assert with_people.post("/api/v1/pupils", PUPIL | {"ref": "p-9"}, "technician")[0] == 403


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"iin": "080215500017"}, "check digit"),
        ({"iin": "12345"}, "12 digits"),
        ({"basis": "temporary", "program": "general"}, "end date"),
        ({"basis": "temporary", "temporary_until": "2027-01-31"}, "general program"),
        ({"grade": 12}, "grade"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    controller: Controller, change: dict[str, object], words: str
) -> None:
    status, body = controller.post("/api/v1/pupils", PUPIL | change, "admin")
    assert status == 422
    assert words in json.dumps(body, ensure_ascii=False)


def test_duplicates_are_refused(with_people: Controller) -> None:
    status, body = with_people.post("/api/v1/pupils", PUPIL | {"ref": "p-003"}, "admin")
    assert status == 409
    assert "IIN" in body["detail"]


def test_after_a_key_rotation_everything_still_reads(
    tmp_path: Path, broker: Broker, with_people: Controller
) -> None:
    controller = with_people
    old = json.loads(controller.env["KITKEEPER_PII_KEYS"])
    new = generate_key()
    controller.stop(signal.SIGTERM)
    rotated = controller.cli("keys", "rotate", env={"KITKEEPER_PII_KEYS": json.dumps([new, *old])})
    assert rotated.returncode == 0, rotated.stderr
    assert "3 people re-encrypted" in rotated.stdout
    controller.env["KITKEEPER_PII_KEYS"] = json.dumps([new])  # the old key is gone
    controller.start()
    _, guardians = controller.get("/api/v1/guardians", "admin")
    assert guardians[0]["name"] == GUARDIAN["name"]
    assert guardians[0]["iin"] == GUARDIAN["iin"]
    _, log = controller.get("/api/v1/audit?entity=pii")
    assert log[0]["action"] == "keys_rotated"


def test_the_audit_log_records_people_without_their_data(with_people: Controller) -> None:
    _, log = with_people.get("/api/v1/audit?entity=guardian&entity_id=g-001")
    assert log[0]["action"] == "guardian_created"
    assert log[0]["actor"] == "admin"
    assert log[0]["after"]["iin"] == "<encrypted>"
    assert GUARDIAN["name"] not in json.dumps(log, ensure_ascii=False)


def test_without_keys_the_people_endpoints_say_what_to_configure(
    tmp_path: Path, broker: Broker
) -> None:
    controller = Controller(tmp_path / "nokeys", broker, KITKEEPER_PII_KEYS="[]")
    (tmp_path / "nokeys").mkdir()
    controller.start()
    try:
        status, body = controller.get("/api/v1/pupils", "admin")
        assert status == 503
        assert "KITKEEPER_PII_KEYS" in body["detail"]
    finally:
        controller.stop()
