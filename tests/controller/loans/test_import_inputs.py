"""Inputs a user need not guess (issue 13), against one running controller.

- a template per kind to download (UTF-8 with a byte-order mark), which imports as it is;
- a file uploaded as a form (multipart, as a browser sends it) imports like a raw body;
- every row error comes in one round (the parse's and the database's together), each with its
  line, column and reason in kk, ru and en, listing the accepted values: never a pattern, a
  pydantic link or `row: null`;
- references in Cyrillic ("ШК-2025-017") for pupils, guardians and contracts;
- the kits file's `lifecycle` column (its old name `status` still read);
- `?update=true` updates what is recorded, each row saying created, updated or unchanged.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.controller.records import upload
from tests.support import Controller, loan_period

pytestmark = pytest.mark.processes

KINDS = ("kits", "components", "pupils", "guardians")
PUPIL = "ШК-2025-017"  # in the pupils and guardians templates


@pytest.fixture
def running(shared_controller: Controller) -> Controller:
    """The controller this module shares with its sibling (tests/controller/loans/conftest.py)."""
    return shared_controller


def download(controller: Controller, path: str) -> bytes:
    request = urllib.request.Request(
        controller.url + path, headers={"Authorization": f"Bearer {controller.tokens['admin']}"}
    )
    with urllib.request.urlopen(request, context=controller.context, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/csv")
        return bytes(resp.read())


def form(data: bytes, filename: str = "file.csv", content_type: str = "text/csv") -> tuple:
    """A multipart/form-data body with the file in the part `file`, as a browser makes it."""
    boundary = "----e88b0d1c2f3a4b5c6d7e8f90"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post_form(controller: Controller, path: str, data: bytes, **kw: str) -> tuple[int, Any]:
    body, content_type = form(data, **kw)
    return upload(controller, path, body, content_type)


def outcomes(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(r["row"], r["key"], r["outcome"]) for r in report["rows"]]


def test_the_templates_download_and_import_as_forms(running: Controller) -> None:
    kits = b"kit_id,profile,status\nkit-form,base,active\n"  # the lifecycle's old name
    status, report = post_form(running, "/api/v1/import/kits", kits)
    assert status == 200, "a form's file is read, not its boundary lines as columns"
    assert outcomes(report) == [(2, "kit-form", "created")]
    templates = {kind: download(running, f"/api/v1/import/{kind}/template.csv") for kind in KINDS}
    for kind, raw in templates.items():
        assert raw.startswith(b"\xef\xbb\xbf"), f"{kind}: a byte-order mark for Excel"
        status, report = post_form(running, f"/api/v1/import/{kind}", raw)
        assert status == 200, (kind, report)
        assert report["errors"] == []
        assert {r["outcome"] for r in report["rows"]} == {"created"}, kind
    assert templates["kits"].decode("utf-8-sig").startswith("kit_id,profile,lifecycle")
    assert running.get(f"/api/v1/pupils/{urllib.parse.quote(PUPIL)}")[0] == 200
    schedule = download(running, "/api/v1/schedules/template.csv")
    assert schedule.startswith(b"\xef\xbb\xbf")
    path = f"/api/v1/pupils/{urllib.parse.quote(PUPIL)}/schedule/import?timezone=Asia/Almaty"
    status, summary = post_form(running, path, schedule, filename="schedule.csv")
    assert status == 200, summary
    contract = {
        "number": "ШК-2025-017",
        "school": "№ 7 мектеп-гимназия",
        "city": "Алматы",
        "guardian_ref": "G-017",
        "pupil_ref": PUPIL,
        "kit_id": "kit-001",
        **loan_period(),
    }
    status, body = running.post("/api/v1/contracts", contract, "admin")
    assert status == 201, body
    number = urllib.parse.quote(contract["number"])
    assert running.get(f"/api/v1/contracts/{number}")[1]["number"] == "ШК-2025-017"
    status, body = running.post("/api/v1/contracts", contract | {"number": "ШК 2025/1"}, "admin")
    assert status == 422, "no spaces or slashes in a reference"


def test_every_row_error_comes_at_once_in_plain_words(running: Controller) -> None:
    header = "pupil_ref,name,grade,program,basis,temporary_until,school,iin\n"
    known = "p-30,Ерлан Бекұлы,2,general,disability,,№7 мектеп,080229500429\n"
    assert upload(running, "/api/v1/import/pupils", (header + known).encode())[0] == 200
    pupils = (
        header + "p-20,Айбек Серікұлы,14,general,disability,,№7 мектеп,080215500016\n"
        "p-21,Мадина Қайратқызы,7,zpr,disability,,№7 мектеп,100515500122\n"
        "p 22,Дана Ерланқызы,3,general,disability,,№7 мектеп,070101500014\n"
        "p-23,Тимур Ахметов,2,general,disability,,№7 мектеп,050315605234\n" + known
    )
    status, report = upload(running, "/api/v1/import/pupils", pupils.encode())
    assert status == 422, report
    assert report["imported"] == 0
    found = {(e["row"], e["column"]): e for e in report["errors"]}
    assert set(found) == {(2, "grade"), (3, "program"), (4, "pupil_ref"), (6, "pupil_ref")}, found
    # p-30 is recorded already: the database's refusal comes in the same round, on its line
    assert "?update=true" in found[6, "pupil_ref"]["reason"]
    assert "general, delayed_development, correctional_1" in found[3, "program"]["reason"]
    assert "letters (of any alphabet)" in found[4, "pupil_ref"]["reason"]
    text = json.dumps(report, ensure_ascii=False)
    for leak in ("pattern", "pydantic", "https://", "^[", "Айбек", "080215500016"):
        assert leak not in text, leak
    for error in report["errors"]:
        assert isinstance(error["row"], int)
        assert set(error["messages"]) == {"kk", "ru", "en"}
        assert error["messages"]["ru"] != error["messages"]["en"], error
    teacher = header.replace("iin", "iin,teacher") + known.replace("p-30", "p-31").replace(
        "080229500429", "050315605234"
    ).replace("\n", ",aliya\n")
    status, report = upload(running, "/api/v1/import/pupils", teacher.encode())
    assert status == 422, report
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "teacher")]
    assert set(report["errors"][0]["messages"]) == {"kk", "ru", "en"}
    kits = "kit_id,profile,status\nkit-9,base,broken\n"
    _, report = upload(running, "/api/v1/import/kits", kits.encode())
    (error,) = report["errors"]
    assert error["column"] == "lifecycle"
    assert "active, in_repair, lost, retired, returned" in error["reason"]


def test_an_import_updates_when_asked_row_by_row(running: Controller) -> None:
    raw = download(running, "/api/v1/import/pupils/template.csv").decode("utf-8-sig")
    if running.get(f"/api/v1/pupils/{urllib.parse.quote(PUPIL)}")[0] == 404:
        assert upload(running, "/api/v1/import/pupils", raw.encode())[0] == 200
    next_year = raw.replace(f"{PUPIL},Айбек Серікұлы,9,", f"{PUPIL},Айбек Серікұлы,10,")
    status, report = upload(running, "/api/v1/import/pupils?update=true", next_year.encode())
    assert status == 200, report
    assert outcomes(report) == [(2, PUPIL, "updated"), (3, "p-012", "unchanged")]
    assert running.get(f"/api/v1/pupils/{urllib.parse.quote(PUPIL)}")[1]["grade"] == 10
    parts = download(running, "/api/v1/import/components/template.csv").decode("utf-8-sig")
    upload(running, "/api/v1/import/kits", b"kit_id,profile,lifecycle\nkit-001,base,active\n")
    upload(running, "/api/v1/import/components", parts.encode())
    worn = parts.replace("Logitech C920,new", "Logitech C920,worn")
    status, report = upload(running, "/api/v1/import/components?update=true", worn.encode())
    assert status == 200, report
    assert [o for _, _, o in outcomes(report)] == ["unchanged", "updated", "unchanged"]
