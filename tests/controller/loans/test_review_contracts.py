"""Fixes after the loans review (issue 13), against the shared running controller.

- a kit may come back before the term starts: the return is recorded and its act prints (it
  was a 503 from the document's own rule);
- a contract number or terms version the documents cannot print is refused when entered;
- a signed contract (not handed over yet) has a part replaced under an annex;
- act notes and the claim are encrypted and shown to administrators only; a hand-over act takes
  no claim; names and notes are capped;
- only temporary home-schooling has an end date (the API agrees with the pupils import);
- signing refreshes the draft's components from the inventory: a part added to the kit or taken
  out of it while the contract was a draft is what the contract lends (audited).

Records of this module (IINs of April 2010): pupils rv-*, guardians rvg-*, kits kit-rv*,
contracts RV-*.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from controller.platform.iin import check_digit
from tests.controller.records import GUARDIAN, PUPIL, add_kits
from tests.support import Controller, days_from_today, http_post

pytestmark = pytest.mark.processes


@pytest.fixture
def running(shared_controller: Controller) -> Controller:
    """The controller the loans scenario modules share (tests/controller/loans/conftest.py)."""
    return shared_controller


def iin(serial: int) -> str:
    """A valid IIN of a boy born on 1 April 2010, told apart by `serial`."""
    serial *= 10
    while (digit := check_digit(f"1004015{serial:04d}")) is None:
        serial += 1
    return f"1004015{serial:04d}{digit}"


def draft(controller: Controller, n: int, parts: list[str], **contract: Any) -> str:
    """Pupil rv-n, guardian rvg-n, kit kit-rvn with `parts` (laptop serials) and a draft RV-n."""
    pupil = PUPIL | {"ref": f"rv-{n}", "iin": iin(n), "teacher": None}
    status, body = controller.post("/api/v1/pupils", pupil, "admin")
    assert status == 201, body
    guardian = GUARDIAN | {"ref": f"rvg-{n}", "pupil_ref": f"rv-{n}", "iin": iin(50 + n)}
    status, body = controller.post("/api/v1/guardians", guardian, "admin")
    assert status == 201, body
    kit = f"kit-rv{n}"
    add_kits(controller, kit)
    for serial in parts:
        add_part(controller, serial, kit)
    number = f"RV-{n}"
    data = {
        "number": number,
        "school": "№42 мектеп",
        "city": "Алматы",
        "guardian_ref": f"rvg-{n}",
        "pupil_ref": f"rv-{n}",
        "kit_id": kit,
        "start": days_from_today(-90),
        "end": days_from_today(270),
    } | contract
    status, body = controller.post("/api/v1/contracts", data, "admin")
    assert status == 201, body
    return number


def add_part(controller: Controller, serial: str, kit: str | None) -> None:
    part = {"serial": serial, "kind": "laptop", "model": "HP ProBook 450", "kit_id": kit}
    status, body = controller.post("/api/v1/components", part, "admin")
    assert status == 201, body


def step(controller: Controller, number: str, action: str, details: dict[str, Any]) -> Any:
    status, body = controller.post(f"/api/v1/contracts/{number}/actions/{action}", details, "admin")
    assert status == 200, (action, status, body)
    return body


def sign(controller: Controller, number: str) -> Any:
    return step(controller, number, "sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"})


def test_a_kit_back_before_the_term_starts_and_a_replacement_when_signed(
    running: Controller,
) -> None:
    number = draft(running, 1, ["RV-1-A"], start=days_from_today(30), end=days_from_today(300))
    sign(running, number)
    add_part(running, "RV-1-B", None)
    replacement = {"old_serial": "RV-1-A", "new_serial": "RV-1-B", "reason": "screen cracked"}
    status, body = running.post(f"/api/v1/contracts/{number}/replace", replacement, "admin")
    assert status == 200, ("a signed contract's kit is promised: replaced under an annex", body)
    assert [c["serial"] for c in body["components"]] == ["RV-1-B"]
    act = {"conditions": {"RV-1-B": "good"}, "signed_by": "Ә Н"}
    step(running, number, "hand_over", {"act": act, "training_recorded": True})
    body = step(running, number, "return_kit", {"act": act})
    assert body["state"] == "returned", "a return before the start is legal, never a 503"
    status, pdf = running.get(f"/api/v1/contracts/{number}/documents/return.pdf?lang=ru")
    assert status == 200
    assert isinstance(pdf, bytes)
    assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize(
    "change", [{"number": "合同-1"}, {"number": "عقد-1"}, {"terms_version": "版本"}]
)
def test_what_the_contract_prints_is_refused_when_unprintable(
    running: Controller, change: dict[str, str]
) -> None:
    contract = {
        "number": "RV-X",
        "school": "№42 мектеп",
        "city": "Алматы",
        "guardian_ref": "g-none",
        "pupil_ref": "p-none",
        "kit_id": "kit-none",
        "start": days_from_today(-1),
        "end": days_from_today(200),
    }
    status, body = http_post(
        f"{running.url}/api/v1/contracts",
        contract | change,
        running.context,
        running.tokens["admin"],
    )
    assert status == 422, body


def test_signing_lends_what_the_kit_holds_now(running: Controller) -> None:
    number = draft(running, 2, ["RV-2-A", "RV-2-B"])
    add_part(running, "RV-2-C", "kit-rv2")
    status, body = http_post(
        f"{running.url}/api/v1/components/RV-2-B",
        {"kit_id": None},
        running.context,
        running.tokens["admin"],
        method="PATCH",
    )
    assert status == 200, ("a draft's kit is not locked", body)
    body = sign(running, number)
    assert [c["serial"] for c in body["components"]] == ["RV-2-A", "RV-2-C"]
    act = {"conditions": {"RV-2-A": "good", "RV-2-C": "missing"}, "signed_by": "Ә Н"}
    step(running, number, "hand_over", {"act": act, "training_recorded": True})
    _, parts = running.get("/api/v1/components")
    where = {p["serial"]: (p["kit_id"], p["condition"]) for p in parts}
    assert where["RV-2-B"] == (None, "good"), "the part taken out is left as it was"
    assert where["RV-2-C"] == (None, "missing")
    assert where["RV-2-A"] == ("kit-rv2", "good")


def test_act_notes_and_claim_are_private_and_a_hand_over_takes_no_claim(
    running: Controller,
) -> None:
    number = draft(running, 3, ["RV-3-A"])
    too_long = {"guardian": "Ә" * 201, "school": "Директор"}
    status, _ = running.post(f"/api/v1/contracts/{number}/actions/sign", too_long, "admin")
    assert status == 422, "a signatory's name is capped"
    sign(running, number)
    note, claim = "corner dented by Nurlan", "the family pays 20000 tenge for the cable"
    act = {"conditions": {"RV-3-A": "good"}, "signed_by": "Ә Н", "notes": {"RV-3-A": note}}
    handover = {"act": act | {"claim": claim}, "training_recorded": True}
    status, body = running.post(f"/api/v1/contracts/{number}/actions/hand_over", handover, "admin")
    assert status == 422, body
    assert set(body["messages"]) == {"kk", "ru", "en"}, body
    assert "return act" in body["messages"]["en"]
    long_note = act | {"notes": {"RV-3-A": "x" * 501}}
    status, _ = running.post(
        f"/api/v1/contracts/{number}/actions/hand_over",
        {"act": long_note, "training_recorded": True},
        "admin",
    )
    assert status == 422, "a note is capped"
    step(running, number, "hand_over", {"act": act, "training_recorded": True})
    step(running, number, "return_kit", {"act": act | {"claim": claim}})
    shown = running.get(f"/api/v1/contracts/{number}", "technician")[1]
    assert "notes" not in shown["handover"]
    assert "notes" not in shown["return_act"]
    assert "claim" not in shown["return_act"]
    shown = running.get(f"/api/v1/contracts/{number}", "admin")[1]
    assert shown["handover"]["notes"] == {"RV-3-A": note}
    assert (shown["return_act"]["notes"], shown["return_act"]["claim"]) == ({"RV-3-A": note}, claim)
    with sqlite3.connect(running.db.removeprefix("sqlite:///")) as db:
        stored = db.execute(
            "SELECT handover, return_act FROM contracts WHERE number = ?", (number,)
        )
        kept = " ".join(stored.fetchone())
    assert note not in kept, "notes are encrypted at rest"
    assert "20000" not in kept, "the claim is encrypted at rest"
    status, pdf = running.get(f"/api/v1/contracts/{number}/documents/return.pdf?lang=ru")
    assert status == 200
    assert isinstance(pdf, bytes)


def test_only_temporary_home_schooling_has_an_end_date(running: Controller) -> None:
    """As the pupils import refuses it, so do the API's create and update."""
    pupil = PUPIL | {"ref": "rv-5", "iin": iin(5), "teacher": None}
    until = {"temporary_until": days_from_today(100)}
    status, _ = running.post("/api/v1/pupils", pupil | until, "admin")
    assert status == 422
    assert running.post("/api/v1/pupils", pupil, "admin")[0] == 201
    status, body = http_post(
        f"{running.url}/api/v1/pupils/rv-5",
        until,
        running.context,
        running.tokens["admin"],
        method="PATCH",
    )
    assert (status, body.get("reason")) == (422, "pupil.disability_no_end"), body
    assert set(body["messages"]) == {"kk", "ru", "en"}
