"""Pupils' schedules through the real controller: drawn up, approved, imported, sent to the kit."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.controller.records import ALMATY, OTHER_PUPIL, SERVER, upcoming_schedule
from tests.support import BIN, Controller, call, put

FILES = Path(__file__).parent / "schedule_files"


@pytest.fixture
def on_loan(lent_contract: Controller) -> Controller:
    """Pupil p-001 (the teacher's) with kit-l1 under a signed contract; p-002 someone else's."""
    assert lent_contract.post("/api/v1/pupils", OTHER_PUPIL, "admin")[0] == 201
    return lent_contract


def test_a_schedule_is_drawn_up_approved_and_only_then_reaches_the_kit(on_loan: Controller) -> None:
    controller = on_loan
    status, body = controller.get("/api/v1/kits/kit-l1/schedule", "technician")
    assert status == 404
    assert body["detail"] == "the pupil of kit kit-l1 (p-001) has no approved schedule"
    status, saved = put(controller, "/api/v1/pupils/p-001/schedule", upcoming_schedule())
    assert status == 200, saved
    assert (saved["version"], saved["status"], saved["in_force_version"]) == (1, "draft", None)
    assert saved["kit_ids"] == ["kit-l1"]
    assert controller.get("/api/v1/kits/kit-l1/schedule")[0] == 404, "a draft is not sent"

    status, approved = controller.post(
        "/api/v1/pupils/p-001/schedule/approve", {"approved_by": "S. Nurlanov, director"}, "admin"
    )
    assert status == 200, approved
    assert (approved["status"], approved["approved_by"]) == ("approved", "S. Nurlanov, director")
    assert approved["in_force_version"] == 1
    status, again = controller.post("/api/v1/pupils/p-001/schedule/approve", {}, "admin")
    assert (status, again["detail"]) == (409, "version 1 of p-001's schedule is already approved")

    status, sent = controller.get("/api/v1/kits/kit-l1/schedule", "technician")
    assert status == 200, sent
    tomorrow = datetime.now(ALMATY).date() + timedelta(days=1)
    first, second = sent["lessons"][:2]
    start = datetime.combine(tomorrow, time(10), tzinfo=ALMATY)
    assert datetime.fromisoformat(first["start"]) == start
    assert (first["subject"], first["mode"], first["server"]) == ("Mathematics", "online", SERVER)
    assert (second["mode"], second["server"]) == ("home_visit", None)
    assert sent["timezone"] == "Asia/Almaty"
    assert (sent["guard_minutes"], sent["prelesson_minutes"]) == (15, 30)
    text = json.dumps(sent, ensure_ascii=False)
    for private in ("Bekova", "Saparov", "p-001", "Нұрланов", "Akhmetova"):
        assert private not in text, f"{private} must not reach the kit"

    # A new draft keeps the approved version in force; nothing is lost.
    changed = upcoming_schedule(slots=upcoming_schedule()["slots"][:1])
    status, draft = put(controller, "/api/v1/pupils/p-001/schedule", changed)
    assert (status, draft["version"], draft["in_force_version"]) == (200, 2, 1)
    assert len(controller.get("/api/v1/kits/kit-l1/schedule")[1]["lessons"]) == len(sent["lessons"])
    status, old = controller.get("/api/v1/pupils/p-001/schedule?version=1")
    assert (status, old["status"], len(old["schedule"]["slots"])) == (200, "approved", 2)
    _, log = controller.get("/api/v1/audit?entity=schedule&entity_id=p-001")
    assert [e["action"] for e in reversed(log)] == [
        "schedule_saved",
        "schedule_approved",
        "schedule_saved",
    ]
    assert log[0]["before"] == {"version": 1, "status": "approved"}
    assert log[0]["after"]["slots"] == 1


def test_a_bad_schedule_is_refused_with_each_problem(on_loan: Controller) -> None:
    controller = on_loan
    overlapping = upcoming_schedule()
    overlapping["slots"][1]["start"] = "10:30"
    status, body = put(controller, "/api/v1/pupils/p-001/schedule", overlapping)
    assert status == 422
    (problem,) = body["detail"]["problems"]
    assert problem["where"] == "slots[0], slots[1]"
    assert "weekly lessons overlap" in problem["message"]
    status, body = put(controller, "/api/v1/pupils/p-001/schedule", {"timezone": "Asia/Almati"})
    assert status == 422
    assert "unknown time zone" in json.dumps(body)
    assert put(controller, "/api/v1/pupils/p-404/schedule", upcoming_schedule())[0] == 404
    status, body = controller.post("/api/v1/pupils/p-001/schedule/approve", {}, "admin")
    assert (status, body["detail"]) == (404, "pupil p-001 has no schedule to approve")
    assert controller.get("/api/v1/pupils/p-001/schedule")[0] == 404
    _, log = controller.get("/api/v1/audit?entity=schedule")
    assert log == [], "nothing refused was stored or audited"


def test_each_role_sees_what_it_may(on_loan: Controller) -> None:
    controller = on_loan
    for ref in ("p-001", "p-002"):
        assert put(controller, f"/api/v1/pupils/{ref}/schedule", upcoming_schedule())[0] == 200
    assert (
        put(controller, "/api/v1/pupils/p-001/schedule", upcoming_schedule(), "technician")[0]
        == 403
    )
    assert controller.get("/api/v1/pupils/p-001/schedule", "teacher")[0] == 200, "their pupil"
    status, body = controller.get("/api/v1/pupils/p-002/schedule", "teacher")
    assert (status, body["detail"]) == (404, "no pupil 'p-002' that you may see")
    assert controller.get("/api/v1/pupils/p-002/lessons", "teacher")[0] == 404
    assert controller.get("/api/v1/pupils/p-002/schedule", "technician")[0] == 200
    assert controller.get("/api/v1/kits/kit-l1/schedule", "teacher")[0] == 403
    assert controller.get("/api/v1/pupils/p-001/schedule", None)[0] == 401


def post_file(controller: Controller, path: str, text: str, content_type: str) -> tuple[int, Any]:
    return call(controller, "POST", path, text.encode(), "admin", content_type)


def test_files_import_whole_or_not_at_all_and_lessons_read_in_both_times(
    on_loan: Controller,
) -> None:
    controller = on_loan
    good = (FILES / "p001_two_quarters.csv").read_text(encoding="utf-8-sig")
    bad = good.replace("бейсенбі;;;9:00", "бейсенбі;;;9:70")
    bad = bad.replace("webinar.school.kz:8443", "")
    status, report = post_file(controller, "/api/v1/pupils/p-001/schedule/import", bad, "text/csv")
    assert status == 422, report
    assert report["detail"] == "nothing imported: 2 error(s) in the csv file"
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(6, "start"), (12, "server")]
    assert controller.get("/api/v1/pupils/p-001/schedule")[0] == 404, "nothing stored"

    status, summary = post_file(
        controller, "/api/v1/pupils/p-001/schedule/import", good, "text/csv"
    )
    assert status == 200, summary
    assert summary | {"kit_ids": None} == {
        "pupil_ref": "p-001",
        "version": 1,
        "status": "draft",
        "in_force_version": None,
        "source": "csv",
        "timezone": "Asia/Almaty",
        "terms": 2,
        "slots": 4,
        "holidays": 1,
        "cancellations": 2,
        "moves": 1,
        "extras": 1,
        "first_day": "2026-09-01",
        "last_day": "2026-12-26",
        "lessons": 53,
        "kit_ids": None,
    }
    ics = (FILES / "almaty_two_quarters.ics").read_text()
    status, summary = post_file(
        controller,
        "/api/v1/pupils/p-001/schedule/import?format=ics&approve=true",
        ics,
        "application/octet-stream",
    )
    assert status == 200, summary
    assert (summary["version"], summary["status"], summary["source"]) == (2, "approved", "ics")
    assert (summary["lessons"], summary["kit_ids"]) == (53, ["kit-l1"])

    status, week = controller.get(
        "/api/v1/pupils/p-001/lessons?start=2026-09-14&end=2026-09-19", "teacher"
    )
    assert status == 200, week
    assert (week["version"], week["timezone"]) == (2, "Asia/Almaty")
    assert [
        (lesson["local_date"], lesson["local_start"], lesson["subject"], lesson["origin"])
        for lesson in week["lessons"]
    ] == [
        ("2026-09-16", "11:00", "Mathematics", "moved"),
        ("2026-09-16", "15:00", "Russian language", "slot"),
        ("2026-09-18", "10:00", "Reading", "slot"),
    ], "Tuesday's lesson moved to Wednesday, Thursday's cancelled"
    moved = week["lessons"][0]
    assert (moved["start"], moved["end"]) == ("2026-09-16T06:00:00Z", "2026-09-16T07:00:00Z")
    assert (moved["moved_from"], moved["teacher"]) == ("2026-09-15 09:00", "Aigerim Bekova")
    status, body = controller.get("/api/v1/pupils/p-001/lessons?start=2026-09-14&end=2026-01-01")
    assert status == 422
    assert "end must come after start" in body["detail"]


def test_the_cli_imports_approves_and_shows(on_loan: Controller) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kitkeeper-controller"), "schedule", *args, "--db", on_loan.db],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=on_loan.env,
        )

    done = cli("import", "p-001", str(FILES / "almaty_two_quarters.ics"), "--approve")
    assert done.returncode == 0, done.stderr
    assert "imported as version 1 (approved): 4 weekly lessons, 53 lessons" in done.stdout
    assert "kit-l1" in done.stdout
    shown = cli("show", "p-001")
    assert shown.returncode == 0, shown.stderr
    assert "pupil p-001: version 1 (approved); version 1 is in force" in shown.stdout
    assert "Tuesday   09:00-09:45  Mathematics  (Aigerim Bekova)  online" in shown.stdout
    assert "2026-09-15 09:00 -> 2026-09-16 11:00 (60 min)" in shown.stdout
    shown = cli("show", "p-001", "--json")
    assert json.loads(shown.stdout)["schedule"]["status"] == "approved"
    bad = FILES.parent / "schedule_files" / "p001_two_quarters.csv"
    refused = cli("import", "p-002", str(bad))
    assert refused.returncode == 3
    assert "for pupil 'p-001'; the file is imported for 'p-002'" in refused.stderr
    assert cli("show", "p-002").returncode == 3
    _, log = on_loan.get("/api/v1/audit?entity=schedule&entity_id=p-001")
    assert {e["actor"][:4] for e in log} == {"cli:"}
