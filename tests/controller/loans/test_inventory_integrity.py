"""The inventory cannot drift from the contracts (issue 13), against one running controller.

- a mistyped kit id is refused (POST /components, PATCH /components/{serial}, the components CSV),
  with the way out (enrol the kit or import it in the kits CSV), and no phantom kit appears;
- a part of a kit under a signed contract does not move by PATCH (that is a replacement under an
  annex): the refusal names the contract and the replace endpoint; its condition is recorded;
- kinds and conditions come from the controlled vocabulary;
- the register CSV opens in Excel with Cyrillic intact: it starts with a UTF-8 byte-order mark.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from tests.controller.records import CONTRACT, add_kits, lend, upload
from tests.support import Controller, http_post

pytestmark = pytest.mark.processes


@pytest.fixture
def running(shared_controller: Controller) -> Controller:
    """The controller this module shares with its sibling (tests/controller/loans/conftest.py)."""
    return shared_controller


def patch(controller: Controller, serial: str, change: dict[str, Any]) -> tuple[int, Any]:
    return http_post(
        f"{controller.url}/api/v1/components/{serial}",
        change,
        controller.context,
        controller.tokens["admin"],
        method="PATCH",
    )


def in_every_language(body: dict[str, Any]) -> None:
    assert set(body["messages"]) == {"kk", "ru", "en"}, body


def test_a_mistyped_kit_id_is_refused_and_no_phantom_kit_appears(running: Controller) -> None:
    add_kits(running, "kit-a1")
    part = {"serial": "SN-A1-LT", "kind": "laptop", "model": "HP ProBook 450", "kit_id": "kit-a1"}
    assert running.post("/api/v1/components", part, "admin")[0] == 201
    status, body = running.post(
        "/api/v1/components", part | {"serial": "SN-X", "kit_id": "kit-al"}, "admin"
    )
    assert status == 422, body
    assert "kit-al" in body["detail"]
    assert "kits CSV" in body["detail"], "it says how to record a kit"
    in_every_language(body)
    status, body = patch(running, "SN-A1-LT", {"kit_id": "kit-al"})
    assert status == 422, body
    in_every_language(body)
    csv = "serial,kind,model,condition,kit_id\nSN-A1-WC,webcam,Logitech C270,good,kit-al\n"
    status, report = upload(running, "/api/v1/import/components", csv.encode())
    assert status == 422, report
    (error,) = report["errors"]
    assert (error["row"], error["column"]) == (2, "kit_id")
    assert "kits CSV" in error["reason"]
    assert running.get("/api/v1/kits/kit-al")[0] == 404, "no phantom kit"
    assert running.get("/api/v1/components?kit_id=kit-a1")[1][0]["kit_id"] == "kit-a1"
    status, body = running.post(
        "/api/v1/components", part | {"serial": "SN-Y", "kind": "cam"}, "admin"
    )
    assert status == 422, "a kind outside the vocabulary"
    bad = part | {"serial": "SN-Z", "condition": "so-so"}
    assert running.post("/api/v1/components", bad, "admin")[0] == 422


def test_a_part_of_a_lent_kit_moves_only_by_replacement(running: Controller) -> None:
    lend(running)  # contract 2026-0042, signed: kit-l1 is promised to its pupil
    number = CONTRACT["number"]
    status, body = patch(running, "HS-H390-0917", {"kit_id": None})
    assert status == 409, body
    assert number in body["detail"]
    assert f"/contracts/{number}/replace" in body["detail"]
    in_every_language(body)
    spare = {"serial": "HS-SPARE-1", "kind": "headset", "model": "Logitech H390"}
    assert running.post("/api/v1/components", spare, "admin")[0] == 201
    status, body = patch(running, "HS-SPARE-1", {"kit_id": "kit-l1"})
    assert status == 409, "nor does a part join it on the side"
    status, body = running.post(
        "/api/v1/components", spare | {"serial": "HS-SPARE-2", "kit_id": "kit-l1"}, "admin"
    )
    assert status == 409, body
    status, body = patch(running, "HS-H390-0917", {"condition": "damaged"})
    assert status == 200, "its condition may still be recorded"
    _, parts = running.get("/api/v1/components?kit_id=kit-l1")
    assert {p["serial"]: p["condition"] for p in parts}["HS-H390-0917"] == "damaged"
    assert sorted(p["serial"] for p in parts) == sorted(
        c["serial"] for c in running.get(f"/api/v1/contracts/{number}")[1]["components"]
    ), "the inventory still holds what the contract lends"


def test_the_register_csv_starts_with_a_byte_order_mark(running: Controller) -> None:
    if running.get(f"/api/v1/contracts/{CONTRACT['number']}")[0] == 404:
        lend(running)
    request = urllib.request.Request(
        running.url + "/api/v1/register.csv",
        headers={"Authorization": f"Bearer {running.tokens['admin']}"},
    )
    with urllib.request.urlopen(request, context=running.context, timeout=30) as resp:
        raw = resp.read()
        assert resp.headers["Content-Type"].startswith("text/csv")
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel reads it as UTF-8 only with the mark"
    text = raw.decode("utf-8-sig")
    assert text.startswith("number,state,kit_id")
    assert "Алматы" in text, "Cyrillic written as UTF-8"
    assert "№42 мектеп" in text
