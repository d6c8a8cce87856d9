"""A loan's whole life through the API: inventory, contract, acts, documents, audit."""

from __future__ import annotations

import hashlib
import subprocess
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from controller.config import ControllerSettings
from controller.fleet.tables import Kit
from controller.loans import annexes, records, signatures
from controller.loans import service as loans
from controller.loans.lifecycle import Action
from controller.loans.schemas import ContractAction
from controller.loans.tables import ContractDocument, LoanContract
from controller.platform.crypto import FieldCipher, generate_key
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.trust import pki
from tests.controller.records import (
    CONTRACT,
    GOOD,
    GUARDIAN,
    PARTS,
    crl_serials,
    enrol,
    revoke_reasons,
    setup_loan,
    step,
)
from tests.support import HOSTS, Controller, migrated


def test_the_whole_lifecycle_with_an_illegal_step_refused_and_audited(
    controller: Controller,
) -> None:
    setup_loan(controller)
    status, body = step(controller, "hand_over", {"act": {"conditions": GOOD, "signed_by": "Ә Н"}})
    assert status == 409, "a draft cannot be handed over"
    assert "draft" in body["detail"]
    status, body = step(controller, "sign", {"guardian": "Ә. Нұрғалиева"})
    assert status == 409
    assert "school" in body["detail"], "both signatures are needed"
    status, body = step(controller, "sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"})
    assert (status, body["state"]) == (200, "signed")
    partial = {"SN-5CG1234XYZ": "good"}
    status, body = step(
        controller,
        "hand_over",
        {"act": {"conditions": partial, "signed_by": "Ә Н"}, "training_recorded": True},
    )
    assert status == 409
    assert "WC-C270-0042" in body["detail"], "every component's condition is needed"
    status, body = step(
        controller,
        "hand_over",
        {"act": {"conditions": GOOD, "signed_by": "Ә Н"}, "training_recorded": True},
    )
    assert (status, body["state"]) == (200, "active")
    returned = GOOD | {"HS-H390-0917": "cable damaged"}
    act = {"conditions": returned, "signed_by": "Ә. Нұрғалиева"}
    status, body = step(controller, "return_kit", {"act": act})
    assert status == 422, "a condition is one of the vocabulary's (issue 13)"
    act |= {"conditions": GOOD | {"HS-H390-0917": "damaged"}, "notes": {"HS-H390-0917": "cable"}}
    status, body = step(controller, "return_kit", {"act": act})
    assert (status, body["state"]) == (200, "returned")
    assert body["allowed_actions"] == []
    status, body = step(controller, "terminate", {"reason": "too late"})
    assert status == 409
    _, log = controller.get("/api/v1/audit?entity=contract&entity_id=2026-0042")
    assert [e["action"] for e in reversed(log)] == [
        "contract_created",
        "contract_sign",
        "contract_hand_over",
        "contract_return_kit",
    ]
    assert log[0]["before"] == {"state": "active"}
    assert log[0]["after"] == {"state": "returned"}


def pdf_text(controller: Controller, path: str, tmp: Path) -> str:
    request = urllib.request.Request(
        controller.url + path, headers={"Authorization": f"Bearer {controller.tokens['admin']}"}
    )
    with urllib.request.urlopen(request, context=controller.context, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/pdf"
        (tmp / "doc.pdf").write_bytes(resp.read())
    out = subprocess.run(
        ["pdftotext", "-layout", str(tmp / "doc.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_documents_in_kazakh_and_russian_list_every_serial(
    tmp_path: Path, controller: Controller
) -> None:
    setup_loan(controller)
    kk = pdf_text(
        controller, "/api/v1/contracts/2026-0042/documents/contract.pdf?lang=kk", tmp_path
    )
    assert "Уақытша қайтарымсыз пайдалану шарты" in kk
    ru = pdf_text(
        controller, "/api/v1/contracts/2026-0042/documents/contract.pdf?lang=ru", tmp_path
    )
    assert "Договор временного безвозмездного пользования" in ru
    for text in (kk, ru):
        for part in PARTS:
            assert part["serial"] in text
        assert GUARDIAN["name"] in text
    status, _ = controller.get("/api/v1/contracts/2026-0042/documents/return.pdf?lang=kk")
    assert status == 409, "no return act before the kit is returned"
    assert (
        controller.get("/api/v1/contracts/2026-0042/documents/contract.pdf", "technician")[0] == 403
    )


def test_a_kit_cannot_be_lent_twice_and_moves_are_audited(controller: Controller) -> None:
    setup_loan(controller)
    status, body = controller.post("/api/v1/contracts", CONTRACT | {"number": "2026-0043"}, "admin")
    assert status == 409
    assert "already lent" in body["detail"]
    status, moved = controller.post(
        "/api/v1/components", {"serial": "SPARE-1", "kind": "webcam", "model": "C270"}, "admin"
    )
    assert (status, moved["kit_id"]) == (201, None), "spare stock"
    _, parts = controller.get("/api/v1/components?kit_id=kit-l1", "technician")
    assert len(parts) == 3


def test_replacing_a_component_moves_the_inventory_and_adds_an_annex(
    controller: Controller,
) -> None:
    setup_loan(controller)
    replacement = {
        "old_serial": "HS-H390-0917",
        "new_serial": "HS-H390-1001",
        "reason": "microphone does not work",
    }
    assert controller.post("/api/v1/contracts/2026-0042/replace", replacement, "admin")[0] == 409
    step(controller, "sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"})
    step(
        controller,
        "hand_over",
        {"act": {"conditions": GOOD, "signed_by": "Ә Н"}, "training_recorded": True},
    )
    status, body = controller.post("/api/v1/contracts/2026-0042/replace", replacement, "admin")
    assert (status, body["detail"][:17]) == (404, "no component 'HS-"), "not in stock yet"
    spare = {"serial": "HS-H390-1001", "kind": "headset", "model": "Logitech H390"}
    assert controller.post("/api/v1/components", spare, "admin")[0] == 201
    status, body = controller.post("/api/v1/contracts/2026-0042/replace", replacement, "admin")
    assert status == 200, body
    assert "HS-H390-1001" in [c["serial"] for c in body["components"]]
    assert "HS-H390-0917" not in [c["serial"] for c in body["components"]]
    assert body["annexes"][0]["reason"] == "microphone does not work"
    _, parts = controller.get("/api/v1/components")
    where = {p["serial"]: (p["kit_id"], p["condition"]) for p in parts}
    assert where["HS-H390-1001"][0] == "kit-l1"
    assert where["HS-H390-0917"] == (None, "faulty"), "back to stock, marked faulty"
    _, log = controller.get("/api/v1/audit?entity=contract&entity_id=2026-0042")
    assert log[0]["action"] == "contract_annex"


def test_the_fleet_list_shows_each_kits_inventory_status(controller: Controller) -> None:
    setup_loan(controller)

    def status() -> str:
        return str(controller.get("/api/v1/kits/kit-l1")[1]["status"])

    assert status() == "in_stock", "a draft does not lend the kit yet"
    step(controller, "sign", {"guardian": "Ә. Нұрғалиева", "school": "Директор"})
    assert status() == "loaned"
    step(
        controller,
        "hand_over",
        {"act": {"conditions": GOOD, "signed_by": "Ә Н"}, "training_recorded": True},
    )
    assert step(controller, "report_lost", {})[0] == 200
    assert status() == "lost", "and its certificate is revoked"
    _, log = controller.get("/api/v1/audit?entity=kit&entity_id=kit-l1")
    assert log[0]["action"] == "lifecycle_changed"
    assert log[0]["after"] == {"lifecycle": "lost"}


# --- a lost kit loses its identity whoever reports it ------------------------------------------


def test_a_kit_reported_lost_is_revoked_by_the_loans_service_itself(tmp_path: Path) -> None:
    """Not the HTTP route: any caller of the service revokes the kit and publishes the CRL."""
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))
    db = f"sqlite:///{tmp_path / 'k.db'}"
    serial = enrol(db, paths, tmp_path / "kit", "kit-gone")
    assert serial not in crl_serials(paths)
    engine = make_engine(db)
    sessions = make_sessionmaker(engine)
    today = date.today()
    with sessions.begin() as session:
        session.add(
            LoanContract(
                number="c-lost",
                school="№1",
                city="Астана",
                guardian_ref="g-1",
                pupil_ref="p-1",
                kit_id="kit-gone",
                state="active",
                start=today - timedelta(days=30),
                end=today + timedelta(days=200),
                terms_version="1",
                components=[{"serial": "S1", "kind": "laptop", "model": "X", "condition": "good"}],
                annexes=[],
                training_recorded=True,
                created_at=datetime.now(UTC),
            )
        )
    settings = ControllerSettings(
        db=db,
        pki_dir=paths.root,
        broker_dir=tmp_path / "no-broker",
        pii_keys=[generate_key()],  # who signs is encrypted with them
        pii_index_key=generate_key(),
    )
    with sessions() as session:
        row = loans.act(
            session,
            number="c-lost",
            action=Action.REPORT_LOST,
            details=ContractAction(),
            settings=settings,
            actor="admin",
            now=datetime.now(UTC),
        )
        assert row.state == "lost"
    engine.dispose()
    assert serial in crl_serials(paths), "the CRL lists the lost kit's certificate"
    assert revoke_reasons(db, "kit-gone") == ["lost"], "committed"


# --- frozen documents (issue 13) ----------------------------------------------------------------


def test_frozen_documents_are_kept_encrypted_and_survive_a_key_rotation(tmp_path: Path) -> None:
    """The migration's table, a document frozen once (never replaced), read after the keys turn."""
    database = migrated(f"sqlite:///{tmp_path / 'k.db'}")
    first, second, index = generate_key(), generate_key(), generate_key()
    now = datetime.now(UTC)
    pdf = "%PDF-1.4 Нұрланның шарты".encode()
    with database.sessions.begin() as session:
        session.add(Kit(kit_id="kit-f"))
        session.add(
            LoanContract(
                number="c-frozen",
                school="№1",
                city="Астана",
                guardian_ref="g-1",
                pupil_ref="p-1",
                kit_id="kit-f",
                state="signed",
                start=now.date(),
                end=now.date() + timedelta(days=30),
                terms_version="1",
                components=[],
                annexes=[],
                training_recorded=False,
                created_at=now,
            )
        )
        session.flush()
        old = FieldCipher([first], index_key=index)
        for content in (pdf, b"%PDF-1.4 later"):
            records.freeze(
                session,
                number="c-frozen",
                kind="contract",
                pdfs={"kk": content},
                cipher=old,
                actor="admin",
                now=now,
            )
        stored = session.scalar(select(ContractDocument.pdf_enc))
        assert stored is not None
        assert "Нұрлан" not in stored, "encrypted at rest"
    with database.sessions.begin() as session:
        signatures.rotate(session, FieldCipher([second, first], index_key=index))
    with database.sessions() as session:
        only_new = FieldCipher([second], index_key=index)
        kept = records.frozen(
            session, number="c-frozen", kind="contract", lang="kk", cipher=only_new, annex=0
        )
        assert kept == pdf, "the first copy is what was signed"
        (listed,) = records.listing(session, number="c-frozen")
        assert listed["sha256"] == hashlib.sha256(pdf).hexdigest()
    database.engine.dispose()


def test_an_annex_is_dated_on_the_schools_day() -> None:
    """20:30 UTC is already the next day in Almaty: the annex says the school's day."""
    part = {"serial": "S1", "kind": "webcam", "model": "C270", "condition": "faulty"}
    record = {
        "number": "1",
        "at": "2026-03-09T20:30:00+00:00",
        "reason": "камера істемейді",
        "taken": [part],
        "given": [part | {"serial": "S2", "condition": "new"}],
    }
    annex = annexes.document(None, record, ZoneInfo("Asia/Almaty"))  # type: ignore[arg-type]
    assert annex.day == date(2026, 3, 10)
    assert [line.serial for line in (*annex.taken, *annex.given)] == ["S1", "S2"]
