"""People can be corrected (issue 13): edited, archived and restored, promoted, their history kept.

Each scenario reproduces a defect of the issue against one running controller, through its API:
a pupil or guardian could never be edited or archived; a pupil's teacher was never checked (a
pupil given to "aliya", who has no account, was invisible to the real teacher forever); a pupil
who left could not be re-created (the IIN is unique) and there was nothing else to do.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.platform.iin import check_digit
from tests.controller.records import CONTRACT, GUARDIAN, PUPIL, add_kits
from tests.support import BIN, Controller, call

pytestmark = pytest.mark.processes  # the shared controller and its broker


@pytest.fixture
def running(shared_controller: Controller) -> Controller:
    """The loans tests' shared controller (conftest.py): every record here is this module's own
    (refs e-*, t-*, a-*, y-*, kit kit-pr1, contract PR-2026-001, IINs of March 2010)."""
    return shared_controller


def iin(serial: int) -> str:
    """A valid IIN of a boy born on 1 March 2010, told apart by `serial`."""
    serial *= 10
    while True:
        first11 = f"1003015{serial:04d}"
        digit = check_digit(first11)
        if digit is not None:
            return f"{first11}{digit}"
        serial += 1


def pupil(ref: str, serial: int, **changes: Any) -> dict[str, Any]:
    return PUPIL | {"ref": ref, "iin": iin(serial)} | changes


def patch(controller: Controller, path: str, data: Any, role: str = "admin") -> tuple[int, Any]:
    return call(controller, "PATCH", path, json.dumps(data).encode(), role)


def refs(controller: Controller, path: str, role: str = "admin") -> list[str]:
    status, body = controller.get(path, role)
    assert status == 200, body
    return [p["ref"] for p in body]


def test_a_pupil_and_a_guardian_are_corrected_field_by_field(running: Controller) -> None:
    """Defect: no PATCH existed (405); now fields change, audited by name, values hidden."""
    assert running.post("/api/v1/pupils", pupil("e-1", 1, grade=4), "admin")[0] == 201
    guardian = GUARDIAN | {"ref": "e-g1", "pupil_ref": "e-1"}
    assert running.post("/api/v1/guardians", guardian, "admin")[0] == 201

    status, body = patch(running, "/api/v1/pupils/e-1", {"grade": 5, "name": "Дана Ерланқызы"})
    assert status == 200, body
    assert (body["grade"], body["name"], body["iin"]) == (5, "Дана Ерланқызы", iin(1))
    assert running.get("/api/v1/pupils/e-1")[1]["grade"] == 5

    # The same values again change nothing: no write, no history entry.
    assert patch(running, "/api/v1/pupils/e-1", {"grade": 5, "program": "correctional_1"})[0] == 200
    _, history = running.get("/api/v1/pupils/e-1/history")
    assert [h["action"] for h in history] == ["pupil_updated", "pupil_created"]
    assert history[0]["fields"] == ["grade", "name"]
    assert history[0]["before"] == {"grade": 4, "name": "<encrypted>"}
    assert history[0]["after"] == {"grade": 5, "name": "<encrypted>"}
    assert history[0]["actor"] == "admin"
    assert "Дана" not in json.dumps(history, ensure_ascii=False)

    # Its own teacher reads the history; a technician does not; only administrators write.
    assert running.get("/api/v1/pupils/e-1/history", "teacher")[0] == 200
    assert running.get("/api/v1/pupils/e-1/history", "technician")[0] == 403
    assert patch(running, "/api/v1/pupils/e-1", {"grade": 6}, "teacher")[0] == 403

    status, body = patch(running, "/api/v1/guardians/e-g1", {"phone": "+7 777 000 11 22"})
    assert status == 200, body
    assert (body["phone"], body["pupil_ref"]) == ("+77770001122", "e-1")
    _, history = running.get("/api/v1/guardians/e-g1/history")
    assert history[0]["fields"] == ["phone"]
    assert "77770001122" not in json.dumps(history)

    # Refused with the reason, never echoing what was sent.
    assert running.post("/api/v1/pupils", pupil("e-2", 2), "admin")[0] == 201
    status, body = patch(running, "/api/v1/pupils/e-2", {"iin": iin(1)})
    assert (status, body["reason"]) == (409, "pupil.iin_taken"), body
    assert "e-1" in body["detail"]
    assert iin(1) not in json.dumps(body)
    status, body = patch(running, "/api/v1/pupils/e-2", {"basis": "temporary"})
    assert (status, body["reason"]) == (422, "pupil.temporary_needs_end"), body
    assert patch(running, "/api/v1/pupils/e-2", {"name": None})[0] == 422
    assert patch(running, "/api/v1/pupils/e-2", {"iin": "080215500017"})[0] == 422
    assert patch(running, "/api/v1/guardians/e-g1", {"phone": "12"})[0] == 422
    assert patch(running, "/api/v1/pupils/nobody", {"grade": 2})[0] == 404


def test_a_pupils_teacher_must_be_a_teacher_account(running: Controller) -> None:
    """Defect: "teacher": "aliya" (no such account) was accepted; the pupil was seen by nobody."""
    status, body = running.post("/api/v1/pupils", pupil("t-1", 20, teacher="aliya"), "admin")
    assert (status, body["reason"]) == (422, "teacher.unknown"), body
    assert "aliya" in body["messages"]["kk"]
    assert "aliya" in body["messages"]["ru"]
    assert "t-1" not in refs(running, "/api/v1/pupils?archived=all")
    status, body = running.post("/api/v1/pupils", pupil("t-1", 20, teacher="technician"), "admin")
    assert (status, body["reason"]) == (422, "teacher.not_teacher"), body

    assert running.post("/api/v1/pupils", pupil("t-1", 20, teacher=None), "admin")[0] == 201
    assert patch(running, "/api/v1/pupils/t-1", {"teacher": "aliya"})[0] == 422
    assert patch(running, "/api/v1/pupils/t-1", {"teacher": "teacher"})[0] == 200
    assert "t-1" in refs(running, "/api/v1/pupils", "teacher")


def test_a_pupil_who_left_is_archived_and_comes_back(running: Controller) -> None:
    """Defect: a pupil could not be archived, nor re-created (the IIN is taken)."""
    assert running.post("/api/v1/pupils", pupil("a-1", 60), "admin")[0] == 201
    guardian = GUARDIAN | {"ref": "a-g1", "pupil_ref": "a-1"}
    assert running.post("/api/v1/guardians", guardian, "admin")[0] == 201
    add_kits(running, "kit-pr1")
    part = {
        "serial": "SN-PR-0001",
        "kind": "laptop",
        "model": "HP ProBook 450",
        "kit_id": "kit-pr1",
    }
    assert running.post("/api/v1/components", part, "admin")[0] == 201
    contract = CONTRACT | {"number": "PR-2026-001", "kit_id": "kit-pr1"}
    contract |= {"pupil_ref": "a-1", "guardian_ref": "a-g1"}
    status, body = running.post("/api/v1/contracts", contract, "admin")
    assert status == 201, body

    status, body = running.post("/api/v1/pupils/a-1/archive", {"reason": "moved"}, "admin")
    assert (status, body["reason"]) == (409, "pupil.open_contract"), body
    assert "PR-2026-001" in body["messages"]["ru"]
    status, body = running.post("/api/v1/guardians/a-g1/archive", {"reason": "other"}, "admin")
    assert (status, body["reason"]) == (409, "guardian.open_contract"), body
    terminate = {"reason": "the family moved"}
    assert (
        running.post("/api/v1/contracts/PR-2026-001/actions/terminate", terminate, "admin")[0]
        == 200
    )

    left = {"reason": "moved", "left_on": "2026-05-20"}
    status, body = running.post("/api/v1/pupils/a-1/archive", left, "admin")
    assert status == 200, body
    assert (body["archived"], body["left_on"], body["left_reason"]) == (True, "2026-05-20", "moved")
    assert "a-1" not in refs(running, "/api/v1/pupils")
    assert "a-1" in refs(running, "/api/v1/pupils?archived=true")
    assert "a-g1" not in refs(running, "/api/v1/guardians")
    assert "a-g1" in refs(running, "/api/v1/guardians?archived=all")
    assert running.get("/api/v1/contracts/PR-2026-001")[0] == 200, "its contracts stay"

    # Re-created by IIN: refused, naming the archived pupil to restore.
    status, body = running.post("/api/v1/pupils", pupil("a-new", 60), "admin")
    assert (status, body["reason"]) == (409, "pupil.iin_archived"), body
    assert "a-1" in body["detail"]
    assert "restore" in body["detail"]
    # No new guardian, no new contract.
    guardian = guardian | {"ref": "a-g2"}
    assert running.post("/api/v1/guardians", guardian, "admin")[1]["reason"] == "pupil.archived"
    again = contract | {"number": "PR-2026-002"}
    status, body = running.post("/api/v1/contracts", again, "admin")
    assert (status, body.get("reason")) == (409, "pupil.archived"), body

    status, body = running.post("/api/v1/pupils/a-1/restore", {}, "admin")
    assert (status, body["archived"]) == (200, False), body
    assert "a-1" in refs(running, "/api/v1/pupils")
    assert running.post("/api/v1/pupils/a-1/restore", {}, "admin")[0] == 409
    _, history = running.get("/api/v1/pupils/a-1/history")
    assert [h["action"] for h in history[:2]] == ["pupil_restored", "pupil_archived"]
    assert history[1]["after"] == {"archived": True, "reason": "moved", "left_on": "2026-05-20"}

    assert running.post("/api/v1/guardians/a-g1/archive", {"reason": "other"}, "admin")[0] == 200
    status, body = running.post("/api/v1/contracts", again, "admin")
    assert (status, body.get("reason")) == (409, "guardian.archived"), body
    assert running.post("/api/v1/guardians/a-g1/restore", {}, "admin")[0] == 200


def test_the_new_school_year_promotes_once(running: Controller) -> None:
    """Next year's grade could not be set at all; now in bulk, once per school year."""
    school = "Promotion school"
    for ref, grade, serial in (("y-10", 10, 40), ("y-11", 11, 50)):
        body = pupil(ref, serial, grade=grade, school=school)
        assert running.post("/api/v1/pupils", body, "admin")[0] == 201
    ask = {"school": school, "dry_run": True}
    status, report = running.post("/api/v1/pupils/promote", ask, "admin")
    assert status == 200, report
    year = report["school_year"]
    start = datetime.now(UTC).year
    assert year in {f"{y}-{y + 1}" for y in (start - 1, start)}, "from May on, next September's"
    lines = {line["ref"]: (line["from_grade"], line["to_grade"]) for line in report["pupils"]}
    assert lines == {"y-10": (10, 11), "y-11": (11, "graduates")}
    assert running.get("/api/v1/pupils/y-10")[1]["grade"] == 10, "a dry run changes nothing"

    status, report = running.post("/api/v1/pupils/promote", ask | {"dry_run": False}, "admin")
    assert (status, report["promoted"], report["graduated"]) == (200, 1, 1), report
    assert running.get("/api/v1/pupils/y-10")[1]["grade"] == 11
    graduate = running.get("/api/v1/pupils/y-11")[1]
    assert (graduate["archived"], graduate["left_reason"]) == (True, "graduated")
    assert running.get("/api/v1/pupils/y-10/history")[1][0]["action"] == "pupil_promoted"

    status, body = running.post("/api/v1/pupils/promote", ask | {"dry_run": False}, "admin")
    assert (status, body["reason"]) == (409, "promotion.done_school"), body
    assert year in body["detail"]
    assert "force" in body["detail"]
    forced = ask | {"dry_run": False, "force": True}
    status, report = running.post("/api/v1/pupils/promote", forced, "admin")
    assert (status, report["pupils"]) == (200, []), "nobody goes up twice in one school year"
    assert running.get("/api/v1/pupils/y-10")[1]["grade"] == 11, "not graduated by a second run"
    assert running.post("/api/v1/pupils/promote", ask, "teacher")[0] == 403

    # The command line does the same: refused in a school year done, unless forced.
    command = [str(BIN / "kitkeeper-controller"), "pupils", "promote", "--school", school]
    done = subprocess.run(
        [*command, "--dry-run", "--db", running.db],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=running.env,
    )
    assert (done.returncode, done.stdout) == (3, ""), done.stderr
    assert f"already promoted for the school year {year}" in done.stderr
