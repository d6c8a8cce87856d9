"""CSV import through the API: one bad row imports nothing, and says which and why."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.trust import pki
from tests.controller.records import crl_serials, enrol, revoke_reasons, setup_loan, upload
from tests.support import BIN, HOSTS, Broker, Controller, connects, wait_for

PUPILS = (
    "pupil_ref,name,grade,program,basis,temporary_until,school,iin\n"
    "p-10,Айбек Серікұлы,4,general,disability,,№7 мектеп,080215500016\n"
    "p-11,Мадина Қайратқызы,7,correctional_2,disability,,№7 мектеп,070101500013\n"
    "p-12,Тимур Ахметов,2,general,temporary,2027-02-01,№7 мектеп,900101300017\n"
)


def post_csv(controller: Controller, path: str, text: str) -> tuple[int, dict]:
    return upload(controller, path, text.encode())


def test_one_bad_iin_among_good_rows_imports_nothing_and_names_the_row(
    controller: Controller,
) -> None:
    status, report = post_csv(controller, "/api/v1/import/pupils", PUPILS)
    assert status == 422
    assert report["imported"] == 0
    (error,) = report["errors"]
    assert error["row"] == 3, "the line of the file (the header is line 1)"
    assert "IIN" in error["reason"] or error["column"] == "iin"
    assert "digit is probably mistyped" in error["reason"]
    assert error["messages"]["ru"].startswith("неверный ИИН"), "in every language"
    assert controller.get("/api/v1/pupils")[1] == [], "nothing imported"
    status, report = post_csv(controller, "/api/v1/import/pupils?partial=true", PUPILS)
    assert (status, report["imported"]) == (200, 2)
    assert {p["ref"] for p in controller.get("/api/v1/pupils")[1]} == {"p-10", "p-12"}


def test_a_good_file_imports_and_a_repeat_is_refused(controller: Controller) -> None:
    good = PUPILS.replace("070101500013", "070101500014")
    created = [{"row": n, "key": f"p-{n + 8}", "outcome": "created"} for n in (2, 3, 4)]
    assert post_csv(controller, "/api/v1/import/pupils", good) == (
        200,
        {"imported": 3, "errors": [], "rows": created},
    )
    status, report = post_csv(controller, "/api/v1/import/pupils", good)
    assert status == 422
    assert report["imported"] == 0
    assert "already recorded" in report["errors"][0]["reason"]
    assert "?update=true" in report["errors"][0]["reason"]


def test_the_contract_register_exports_as_csv(controller: Controller) -> None:
    setup_loan(controller)
    status, text = controller.get("/api/v1/register.csv")
    assert status == 200
    lines = text.strip().splitlines()
    assert lines[0].startswith("\ufeffnumber,state,kit_id"), "a byte-order mark for Excel"
    assert lines[1].startswith("2026-0042,draft,kit-l1,p-001,g-001")
    assert "SN-5CG1234XYZ" in lines[1]
    assert "Нұрғалиева" not in text, "no personal data in the register"


LOST_KIT = "kit_id,profile,status\n{kit_id},base,lost\n"


def test_a_kit_imported_as_lost_loses_its_identity_at_once(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    state_dir = tmp_path / "kit-imp"
    serial = enrol(controller.db, broker.pki, state_dir, "kit-imp")
    assert connects(broker, state_dir)
    status, report = post_csv(controller, "/api/v1/import/kits", LOST_KIT.format(kit_id="kit-imp"))
    updated = [{"row": 2, "key": "kit-imp", "outcome": "updated"}]
    assert (status, report) == (200, {"imported": 1, "errors": [], "rows": updated})
    assert revoke_reasons(controller.db, "kit-imp") == ["lost"]
    assert serial in crl_serials(broker.pki), "the CRL lists its certificate"
    wait_for(lambda: not connects(broker, state_dir), 10, "the broker refusing the lost kit")
    _, log = controller.get("/api/v1/audit?entity=kit&entity_id=kit-imp")
    assert (log[0]["action"], log[0]["after"]) == ("lifecycle_changed", {"lifecycle": "lost"})
    assert controller.get("/api/v1/kits/kit-imp")[1]["lifecycle"] == "lost"


@pytest.mark.processes
def test_the_command_line_import_revokes_a_lost_kit_too(tmp_path: Path) -> None:
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))
    db = f"sqlite:///{tmp_path / 'k.db'}"
    serial = enrol(db, paths, tmp_path / "kit-cli", "kit-cli")
    kits = tmp_path / "kits.csv"
    kits.write_text(LOST_KIT.format(kit_id="kit-cli"), encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "kitkeeper-controller"), "import", "kits", str(kits), "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "KITKEEPER_PKI_DIR": str(paths.root),
            "KITKEEPER_BROKER_DIR": str(tmp_path / "broker"),  # no broker running: no reload
        },
    )
    assert done.returncode == 0, done.stderr
    assert "1 kits imported" in done.stdout
    assert revoke_reasons(db, "kit-cli") == ["lost"]
    assert serial in crl_serials(paths), "the CRL lists its certificate"
