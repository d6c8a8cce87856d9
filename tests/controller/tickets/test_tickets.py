"""Tickets: the pure state machine, then their whole life through the real controller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.tickets import machine
from controller.tickets import service as tickets
from controller.tickets.errors import TicketsError
from controller.tickets.machine import TicketFacts, TicketKind, TicketState, TicketTransitionError
from controller.tickets.tables import Ticket
from policy.ladder import Priority
from tests.controller.records import add_kits
from tests.support import Controller, days_from_today, loan_period, pdf_text

S = TicketState

# --- the pure state machine --------------------------------------------------------------------

LEGAL = {
    (S.OPEN, S.ASSIGNED),
    (S.OPEN, S.CANCELLED),
    (S.ASSIGNED, S.IN_PROGRESS),
    (S.ASSIGNED, S.CANCELLED),
    (S.IN_PROGRESS, S.WAITING),
    (S.IN_PROGRESS, S.RESOLVED),
    (S.IN_PROGRESS, S.CANCELLED),
    (S.WAITING, S.IN_PROGRESS),
    (S.WAITING, S.CANCELLED),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.IN_PROGRESS),
}


def facts(state: TicketState, kind: TicketKind = TicketKind.REPAIR, **more: Any) -> TicketFacts:
    return TicketFacts(state=state, kind=kind, kit_id="kit-1", **more)


def details(to: TicketState) -> dict[str, str]:
    """Everything a step to `to` may need, so only legality decides."""
    return {"assignee": "tech"} if to is S.ASSIGNED else {"note": "parts ordered"}


@pytest.mark.parametrize(("state", "to"), [(a, b) for a in TicketState for b in TicketState])
def test_every_pair_of_states_is_legal_or_refused_with_a_reason(
    state: TicketState, to: TicketState
) -> None:
    if (state, to) in LEGAL:
        assert machine.advance(facts(state), to, **details(to)).state is to
        assert to in machine.allowed_targets(state)
        return
    with pytest.raises(TicketTransitionError) as caught:
        machine.advance(facts(state), to, **details(to))
    assert (caught.value.reason, caught.value.status) == ("not_allowed", 409)
    assert state.value.replace("_", " ") in str(caught.value)
    assert to not in machine.allowed_targets(state)


@pytest.mark.parametrize(
    ("before", "to", "given", "reason", "words"),
    [
        (facts(S.OPEN), S.ASSIGNED, {}, "missing_assignee", "user name"),
        (facts(S.OPEN), S.ASSIGNED, {"assignee": "  "}, "missing_assignee", "user name"),
        (facts(S.IN_PROGRESS), S.WAITING, {}, "missing_note", "on what"),
        (facts(S.WAITING), S.CANCELLED, {"note": " "}, "missing_note", "reason"),
        (facts(S.ASSIGNED), S.IN_PROGRESS, {"assignee": "x"}, "bad_detail", "assignee"),
        (facts(S.RESOLVED), S.CLOSED, {}, "missing_resolution", "resolution"),
        (
            facts(S.RESOLVED),
            S.CLOSED,
            {"note": "fixed", "replacement_serial": "X"},
            "bad_detail",
            "repair ticket takes no replacement",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT, component_serial="WC-1"),
            S.CLOSED,
            {"note": "swapped"},
            "missing_replacement",
            "replacement_serial",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT, component_serial="WC-1"),
            S.CLOSED,
            {"note": "swapped", "replacement_kit_id": "kit-2"},
            "bad_detail",
            "not the whole kit",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT, component_serial="WC-1"),
            S.CLOSED,
            {"note": "swapped", "replacement_serial": "WC-1"},
            "bad_detail",
            "itself",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT),
            S.CLOSED,
            {"note": "swapped"},
            "missing_replacement",
            "replacement_kit_id",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT),
            S.CLOSED,
            {"note": "swapped", "replacement_serial": "WC-2"},
            "bad_detail",
            "whole kit",
        ),
        (
            facts(S.RESOLVED, TicketKind.REPLACEMENT),
            S.CLOSED,
            {"note": "swapped", "replacement_kit_id": "kit-1"},
            "bad_detail",
            "itself",
        ),
    ],
)
def test_a_step_without_what_it_needs_is_refused_as_unprocessable(
    before: TicketFacts, to: TicketState, given: dict[str, str], reason: str, words: str
) -> None:
    with pytest.raises(TicketTransitionError) as caught:
        machine.advance(before, to, **given)
    assert (caught.value.reason, caught.value.status) == (reason, 422)
    assert words in str(caught.value)


def test_resolution_replacement_reopening_and_reassignment() -> None:
    resolved = machine.advance(facts(S.IN_PROGRESS), S.RESOLVED, note="driver reinstalled")
    assert resolved.resolution == "driver reinstalled"
    closed = machine.advance(resolved, S.CLOSED)
    assert (closed.state, closed.resolution) == (S.CLOSED, "driver reinstalled")
    assert machine.advance(resolved, S.IN_PROGRESS).resolution is None, "reopened"
    part = facts(S.RESOLVED, TicketKind.REPLACEMENT, component_serial="WC-1")
    swapped = machine.advance(part, S.CLOSED, note="new webcam", replacement_serial="WC-2")
    assert swapped.replacement_serial == "WC-2"
    whole = facts(S.RESOLVED, TicketKind.REPLACEMENT)
    assert machine.advance(
        whole, S.CLOSED, note="ok", replacement_kit_id="kit-2"
    ).replacement_kit_id
    assert machine.assign_to(facts(S.OPEN), "aidar") == facts(S.ASSIGNED, assignee="aidar")
    moved = machine.assign_to(facts(S.WAITING, assignee="aidar"), "dana")
    assert (moved.state, moved.assignee) == (S.WAITING, "dana"), "changes hands, same state"
    for done in (S.RESOLVED, S.CLOSED, S.CANCELLED):
        with pytest.raises(TicketTransitionError):
            machine.assign_to(facts(done), "dana")


DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "due_by", "now", "breached"),
    [
        (S.OPEN, DUE, DUE + timedelta(seconds=1), True),
        (S.WAITING, DUE, DUE + timedelta(hours=1), True),
        (S.OPEN, DUE, DUE, False),
        (S.OPEN, None, DUE, False),
        (S.RESOLVED, DUE, DUE + timedelta(hours=1), False),
        (S.CANCELLED, DUE, DUE + timedelta(hours=1), False),
    ],
)
def test_a_breach_is_an_unsettled_ticket_past_its_deadline(
    state: TicketState, due_by: datetime | None, now: datetime, breached: bool
) -> None:
    assert machine.is_breached(state=state, due_by=due_by, now=now) is breached


def test_the_more_urgent_priority_wins() -> None:
    p = Priority
    assert machine.more_urgent(p.NORMAL, p.URGENT) is p.URGENT
    assert machine.more_urgent(p.HIGH, p.LOW) is p.HIGH


# --- through the real controller ---------------------------------------------------------------

PUPIL: dict[str, Any] = {
    "ref": "p-t1",
    "name": "Нұрлан Жұмабаев",
    "iin": "080215500016",
    "grade": 5,
    "program": "general",
    "basis": "disability",
    "school": "№42 мектеп",
    "teacher": "teacher",
}
GUARDIAN: dict[str, str] = {
    "ref": "g-t1",
    "pupil_ref": "p-t1",
    "relation": "mother",
    "name": "Әлия Нұрғалиева",
    "phone": "8 (701) 234-56-78",
    "address": "Алматы қ., Абай даңғылы 150, 12 пәтер",
    "iin": "900101400023",
}
PARTS = [
    {"serial": "SN-T-LAPTOP", "kind": "laptop", "model": "HP ProBook 450", "kit_id": "kit-t1"},
    {"serial": "WC-T-0042", "kind": "webcam", "model": "Logitech C270", "kit_id": "kit-t1"},
    {"serial": "HS-T-0917", "kind": "headset", "model": "Logitech H390", "kit_id": "kit-t1"},
]
NUMBER = "2026-T01"


def lend(controller: Controller) -> None:
    """kit-t1 with three parts, lent under an active contract signed by GUARDIAN."""
    for path, body in (("/api/v1/pupils", PUPIL), ("/api/v1/guardians", GUARDIAN)):
        assert controller.post(path, body, "admin")[0] == 201
    add_kits(controller, "kit-t1")  # a component never creates its kit (issue 13)
    for part in PARTS:
        assert controller.post("/api/v1/components", part, "admin")[0] == 201
    contract = {
        "number": NUMBER,
        "school": "№42 мектеп",
        "city": "Алматы",
        "guardian_ref": "g-t1",
        "pupil_ref": "p-t1",
        "kit_id": "kit-t1",
        **loan_period(),
    }
    assert controller.post("/api/v1/contracts", contract, "admin")[0] == 201
    good = {p["serial"]: "good" for p in PARTS}
    for action, body in (
        ("sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"}),
        ("hand_over", {"act": {"conditions": good, "signed_by": "Ә Н"}, "training_recorded": True}),
    ):
        status, out = controller.post(f"/api/v1/contracts/{NUMBER}/actions/{action}", body, "admin")
        assert status == 200, out


def move(controller: Controller, ticket: int, to: str, note: str | None = None) -> tuple[int, Any]:
    return controller.post(
        f"/api/v1/tickets/{ticket}/transition", {"to": to, "note": note}, "technician"
    )


def work_on(controller: Controller, ticket: int) -> None:
    """Assign to the technician, start, resolve."""
    status, body = controller.post(
        f"/api/v1/tickets/{ticket}/assign", {"assignee": "technician"}, "technician"
    )
    assert (status, body["state"]) == (200, "assigned"), body
    assert move(controller, ticket, "in_progress")[1]["state"] == "in_progress"
    assert move(controller, ticket, "resolved", "swapped on a home visit")[1]["state"] == "resolved"


def test_a_help_request_by_phone_through_its_whole_life(controller: Controller) -> None:
    lend(controller)
    request = {
        "kind": "help_request",
        "kit_id": "kit-t1",
        "title": "No sound in the webinar",
        "detail": "The mother called: the pupil hears nothing.",
        "priority": "high",
        "due_by": f"{days_from_today(3)}T09:00:00+05:00",
    }
    assert controller.post("/api/v1/tickets", request, "teacher")[0] == 403
    assert controller.get("/api/v1/tickets", "teacher")[0] == 403
    assert controller.post("/api/v1/tickets", request | {"kit_id": "kit-none"}, "admin")[0] == 404
    assert controller.post("/api/v1/tickets", request | {"kind": "wish"}, "admin")[0] == 422
    naive = request | {"due_by": f"{days_from_today(3)}T09:00:00"}
    assert controller.post("/api/v1/tickets", naive, "admin")[0] == 422, "due_by needs a zone"
    status, ticket = controller.post("/api/v1/tickets", request, "technician")
    assert status == 201, ticket
    assert (ticket["state"], ticket["contract_number"]) == ("open", NUMBER)
    assert ticket["due_by"].startswith(f"{days_from_today(3)}T04:00:00"), "kept in UTC"
    assert ticket["allowed_transitions"] == ["assigned", "cancelled"]
    tid = ticket["id"]

    status, body = move(controller, tid, "in_progress")
    assert status == 409
    assert "assign it to a technician first" in body["detail"]
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/assign", {"assignee": "teacher"}, "admin"
    )
    assert status == 422, "only a technician takes tickets"
    assert controller.post("/api/v1/tickets/999/assign", {"assignee": "x"}, "admin")[0] == 404
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/assign", {"assignee": "technician"}, "admin"
    )
    assert (status, body["state"], body["assignee"]) == (200, "assigned", "technician")
    assert move(controller, tid, "in_progress")[1]["state"] == "in_progress"
    status, body = move(controller, tid, "waiting")
    assert status == 422
    assert "on what" in body["detail"]
    assert move(controller, tid, "waiting", "parent calls back at 15:00")[1]["state"] == "waiting"
    assert move(controller, tid, "in_progress")[1]["state"] == "in_progress"
    status, body = move(controller, tid, "resolved", "headset unmuted in the sound settings")
    assert (status, body["resolution"]) == (200, "headset unmuted in the sound settings")
    assert body["resolved_at"] is not None
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/close", {"resolution": "confirmed by the parent"}, "technician"
    )
    assert (status, body["state"], body["allowed_transitions"]) == (200, "closed", [])
    status, body = move(controller, tid, "in_progress")
    assert status == 409
    assert "it is finished" in body["detail"]

    status, seen = controller.get(f"/api/v1/tickets/{tid}", "technician")
    assert status == 200, seen
    assert seen["contract_number"] == NUMBER
    assert seen["contact"] == {
        "contract_number": NUMBER,
        "ref": "g-t1",
        "pupil_ref": "p-t1",
        "relation": "mother",
        "name": GUARDIAN["name"],
        "phone": "+77012345678",
    }
    for role in ("technician", "admin"):
        text = json.dumps(controller.get(f"/api/v1/tickets/{tid}", role)[1], ensure_ascii=False)
        for secret in (GUARDIAN["iin"], GUARDIAN["address"], PUPIL["iin"], "Абай"):
            assert secret not in text, f"{role} must not see {secret} on a ticket"
    assert controller.get(f"/api/v1/tickets/{tid}", "teacher")[0] == 403
    assert [(e["from_state"], e["to_state"]) for e in seen["history"]] == [
        (None, "open"),
        ("open", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "waiting"),
        ("waiting", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    assert seen["history"][3]["detail"] == {"note": "parent calls back at 15:00"}
    assert seen["history"][0]["actor"] == "technician"

    assert [t["id"] for t in controller.get("/api/v1/tickets?state=closed", "technician")[1]] == [
        tid
    ]
    assert controller.get("/api/v1/tickets?state=open", "technician")[1] == []
    assert len(controller.get("/api/v1/tickets?assignee=technician&kit_id=kit-t1")[1]) == 1
    assert controller.get("/api/v1/tickets?state=nonsense")[0] == 422
    _, log = controller.get(f"/api/v1/audit?entity=ticket&entity_id={tid}")
    assert [e["action"] for e in reversed(log)] == [
        "ticket_opened",
        "ticket_assigned",
        "ticket_in_progress",
        "ticket_waiting",
        "ticket_in_progress",
        "ticket_resolved",
        "ticket_closed",
    ]
    assert "parent calls back" not in json.dumps(log), "notes stay in the ticket's history"


@contextmanager
def db(controller: Controller) -> Iterator[Session]:
    """A transaction on the controller's own database, as the escalation engine has one."""
    engine = make_engine(controller.db)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def engine_opens(
    session: Session,
    kind: str,
    priority: str,
    due_by: datetime | None,
    *,
    kit_id: str = "kit-t1",
    incident_id: int | None = 41,
    component_serial: str | None = None,
) -> Ticket:
    """What the escalation engine calls when an incident climbs to a ticket."""
    return tickets.open_ticket(
        session,
        kind=kind,
        kit_id=kit_id,
        title="Webcam not detected",
        detail="profile_incomplete: camera missing",
        priority=priority,
        due_by=due_by,
        incident_id=incident_id,
        component_serial=component_serial,
        actor="escalation",
        now=DUE - timedelta(days=1),
    )


def test_the_escalation_engine_opens_once_per_incident_and_breaches_are_marked_once(
    controller: Controller,
) -> None:
    add_kits(controller, "kit-t1")  # a component never creates its kit (issue 13)
    assert controller.post("/api/v1/components", PARTS[1], "admin")[0] == 201
    with db(controller) as session:
        first = engine_opens(session, "repair", "normal", DUE)
        again = engine_opens(session, "repair", "urgent", DUE - timedelta(hours=2))
        assert again.id == first.id, "the same incident: the same ticket"
        assert (again.priority, again.due_by) == ("urgent", DUE - timedelta(hours=2))
        calmer = engine_opens(session, "repair", "low", DUE + timedelta(days=1))
        assert (calmer.id, calmer.priority, calmer.due_by) == (first.id, "urgent", again.due_by)
        other = engine_opens(session, "replacement", "high", DUE, component_serial="WC-T-0042")
        assert other.id != first.id, "another kind: another ticket"
        with pytest.raises(TicketsError) as caught:
            engine_opens(session, "repair", "normal", None, kit_id="kit-none", incident_id=None)
        assert caught.value.status == 404
        with pytest.raises(TicketsError) as caught:
            engine_opens(session, "repair", "whenever", None, incident_id=None)
        assert caught.value.status == 422
        first_id, other_id = first.id, other.id
        assert [t.id for t in tickets.tickets_for_kit(session, kit_id="kit-t1")] == [
            other_id,
            first_id,
        ]
    with db(controller) as session:
        assert tickets.mark_breaches(session, now=DUE - timedelta(hours=3)) == []
    with db(controller) as session:
        late = tickets.mark_breaches(session, now=DUE - timedelta(hours=1))
        assert [t.id for t in late] == [first_id], "due two hours before the lesson"
    with db(controller) as session:
        late = tickets.mark_breaches(session, now=DUE + timedelta(minutes=1))
        assert [t.id for t in late] == [other_id]
    with db(controller) as session:
        assert tickets.mark_breaches(session, now=DUE + timedelta(days=2)) == [], "once"

    _, breached = controller.get("/api/v1/tickets?breached=true", "technician")
    assert [t["id"] for t in breached] == [first_id, other_id], "the most urgent first"
    assert breached[0]["breached_at"] is not None
    _, log = controller.get("/api/v1/audit?entity=ticket")
    marks = [e for e in log if e["action"] == "ticket_sla_breached"]
    assert sorted(e["entity_id"] for e in marks) == sorted([str(first_id), str(other_id)])
    assert {e["actor"] for e in marks} == {"system"}
    _, seen = controller.get(f"/api/v1/tickets/{first_id}", "technician")
    assert [e["action"] for e in seen["history"]] == ["opened", "escalated", "sla_breached"]
    assert seen["contact"] is None, "the kit is not lent"
    assert seen["contact_note"]

    status, body = move(controller, first_id, "cancelled", "duplicate of a parent's call")
    assert (status, body["state"]) == (200, "cancelled")
    with db(controller) as session:
        fresh = engine_opens(session, "repair", "normal", DUE)
        assert fresh.id not in (first_id, other_id), "the old one is finished: a new one opens"

    # A kit not on loan: the replacement only moves the inventory, no contract gets an annex.
    spare = {"serial": "WC-T-SPARE", "kind": "webcam", "model": "Logitech C270"}
    assert controller.post("/api/v1/components", spare, "admin")[0] == 201
    work_on(controller, other_id)
    done = {"resolution": "new webcam", "replacement_serial": "WC-T-SPARE"}
    status, body = controller.post(f"/api/v1/tickets/{other_id}/close", done, "technician")
    assert (status, body["contract_number"]) == (200, None), body
    _, parts = controller.get("/api/v1/components")
    where = {p["serial"]: (p["kit_id"], p["condition"]) for p in parts}
    assert where == {"WC-T-SPARE": ("kit-t1", "good"), "WC-T-0042": (None, "faulty")}
    _, log = controller.get("/api/v1/audit?entity=component&entity_id=WC-T-0042")
    assert log[0]["action"] == "component_moved"


def test_closing_a_replacement_ticket_moves_the_component_and_annexes_the_contract(
    controller: Controller, tmp_path: Path
) -> None:
    lend(controller)
    spare = {"serial": "HS-T-1001", "kind": "headset", "model": "Logitech H390"}
    assert controller.post("/api/v1/components", spare, "admin")[0] == 201
    request = {
        "kind": "replacement",
        "kit_id": "kit-t1",
        "title": "Headset microphone dead",
        "component_serial": "HS-T-0917",
        "priority": "urgent",
    }
    wrong = request | {"component_serial": "HS-T-1001"}
    assert controller.post("/api/v1/tickets", wrong, "technician")[0] == 422, "not in this kit"
    status, ticket = controller.post("/api/v1/tickets", request, "technician")
    assert status == 201, ticket
    tid = ticket["id"]
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/close", {"resolution": "swapped"}, "technician"
    )
    assert status == 409, "not resolved yet"
    work_on(controller, tid)
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/close", {"resolution": "swapped"}, "technician"
    )
    assert status == 422
    assert "replacement_serial" in body["detail"]
    webcam = {"serial": "WC-T-SPARE", "kind": "webcam", "model": "Logitech C270"}
    assert controller.post("/api/v1/components", webcam, "admin")[0] == 201
    other_kind = {"resolution": "swapped", "replacement_serial": "WC-T-SPARE"}
    status, body = controller.post(f"/api/v1/tickets/{tid}/close", other_kind, "technician")
    assert status == 422
    assert "cannot replace a headset" in body["detail"]
    assert "гарнитура" in body["messages"]["ru"], "the kinds in the reader's language"
    assert "веб-камера" in body["messages"]["kk"]
    assert "webcam" not in body["messages"]["ru"] + body["messages"]["kk"]
    add_kits(controller, "kit-t9")
    lent = {"serial": "HS-T-9", "kind": "headset", "model": "Logitech H390", "kit_id": "kit-t9"}
    assert controller.post("/api/v1/components", lent, "admin")[0] == 201
    in_kit = {"resolution": "swapped", "replacement_serial": "HS-T-9"}
    status, body = controller.post(f"/api/v1/tickets/{tid}/close", in_kit, "technician")
    assert status == 409
    assert "not to spare stock" in body["detail"]
    assert controller.get(f"/api/v1/tickets/{tid}")[1]["state"] == "resolved", "unchanged"

    done = {"resolution": "swapped on a home visit", "replacement_serial": "HS-T-1001"}
    status, body = controller.post(f"/api/v1/tickets/{tid}/close", done, "technician")
    assert status == 200, body
    assert (body["state"], body["replacement_serial"]) == ("closed", "HS-T-1001")
    _, parts = controller.get("/api/v1/components")
    where = {p["serial"]: (p["kit_id"], p["condition"]) for p in parts}
    assert where["HS-T-1001"][0] == "kit-t1", "the new headset joins the kit"
    assert where["HS-T-0917"] == (None, "faulty"), "the old one leaves it, for repair"
    _, contract = controller.get(f"/api/v1/contracts/{NUMBER}")
    serials = [c["serial"] for c in contract["components"]]
    assert "HS-T-1001" in serials
    assert "HS-T-0917" not in serials
    annex = contract["annexes"][0]
    assert (annex["old_serial"], annex["new_serial"]) == ("HS-T-0917", "HS-T-1001")
    assert f"ticket {tid}" in annex["reason"]
    assert annex["ticket"] == tid
    _, kept = controller.get(f"/api/v1/contracts/{NUMBER}/documents")
    frozen = {(d["kind"], d["annex"], d["lang"]) for d in kept}
    assert {("annex", 1, "kk"), ("annex", 1, "ru")} <= frozen, "the annex is frozen at once"
    cited = {  # pdftotext may break the justified line anywhere: phrase by phrase
        "ru": ("по заявке на", "техническое обслуживание № " + str(tid)),
        "kk": (f"№ {tid} техникалық", "қызмет көрсету өтінімі бойынша"),
    }
    for lang, phrases in cited.items():
        status, pdf = controller.get(
            f"/api/v1/contracts/{NUMBER}/documents/annex.pdf?annex=1&lang={lang}"
        )
        assert status == 200
        text = pdf_text(pdf, tmp_path)
        assert all(phrase in text for phrase in phrases), text
        assert "ticket" not in text.lower(), "the ticket's English title is not printed"
    _, log = controller.get(f"/api/v1/audit?entity=contract&entity_id={NUMBER}")
    assert (log[0]["action"], log[0]["actor"]) == ("contract_annex", "technician")
    _, log = controller.get(f"/api/v1/audit?entity=ticket&entity_id={tid}")
    assert log[0]["action"] == "ticket_closed"
    assert log[0]["after"]["replacement_serial"] == "HS-T-1001"


def test_closing_a_whole_kit_replacement_moves_the_contract_to_the_new_kit(
    controller: Controller,
) -> None:
    lend(controller)
    add_kits(controller, "kit-t2")
    for part in PARTS:
        twin = part | {"serial": part["serial"] + "-B", "kit_id": "kit-t2"}
        assert controller.post("/api/v1/components", twin, "admin")[0] == 201
    request = {"kind": "replacement", "kit_id": "kit-t1", "title": "Laptop does not boot"}
    _, ticket = controller.post("/api/v1/tickets", request, "admin")
    tid = ticket["id"]
    assert ticket["component_serial"] is None, "the whole kit"
    work_on(controller, tid)
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/close",
        {"resolution": "kit swapped", "replacement_serial": "SN-T-LAPTOP-B"},
        "technician",
    )
    assert status == 422
    assert "replacement_kit_id" in body["detail"]
    status, body = controller.post(
        f"/api/v1/tickets/{tid}/close",
        {"resolution": "kit swapped", "replacement_kit_id": "kit-t2"},
        "technician",
    )
    assert (status, body["replacement_kit_id"]) == (200, "kit-t2"), body
    _, contract = controller.get(f"/api/v1/contracts/{NUMBER}")
    assert contract["kit_id"] == "kit-t2"
    assert sorted(c["serial"] for c in contract["components"]) == sorted(
        p["serial"] + "-B" for p in PARTS
    )
    assert contract["annexes"][0]["old_kit_id"] == "kit-t1"
    assert contract["annexes"][0]["new_kit_id"] == "kit-t2"
    assert controller.get("/api/v1/kits/kit-t1")[1]["status"] == "in_repair"
    assert controller.get("/api/v1/kits/kit-t2")[1]["status"] == "loaned"
    _, log = controller.get("/api/v1/audit?entity=kit&entity_id=kit-t1")
    assert log[0]["after"] == {"lifecycle": "in_repair"}
