"""Typical records for the controller's tests: people, a kit's parts, a contract, a schedule.

The contract `CONTRACT` lends kit-l1 (the three `PARTS`) to pupil p-001 (`PUPIL`), guardian g-001
(`GUARDIAN`); `setup_loan` creates them through a running controller's API as a draft, `lend`
signs it too (a signed contract is lent: `loans.lifecycle.LENT_STATES`), and `step` takes it on.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509

from agent.identity import generate_key, make_csr, save_identity
from controller.trust import enrolment as trust
from controller.trust import pki
from tests.support import Controller, loan_period, migrated

# --- people ----------------------------------------------------------------------------------

PUPIL = {
    "ref": "p-001",
    "name": "Нұрлан Асқарұлы Жұмабаев",
    "iin": "080215500016",
    "grade": 5,
    "program": "correctional_1",
    "basis": "disability",
    "school": "Алматы, №42 мектеп",
    "teacher": "teacher",
}
GUARDIAN = {
    "ref": "g-001",
    "pupil_ref": "p-001",
    "relation": "mother",
    "name": "Әлия Қасымқызы Нұрғалиева",
    "phone": "8 (701) 234-56-78",
    "address": "Алматы қ., Абай даңғылы 150, 12 пәтер",
    "iin": "900101400023",
}
OTHER_PUPIL = PUPIL | {
    "ref": "p-002",
    "iin": "070101500014",
    "teacher": None,  # no teacher yet (a teacher must be a teacher account: issue 13)
    "name": "Дана Ерланқызы",
}

# --- a kit and its contract ------------------------------------------------------------------

PARTS = [
    {"serial": "SN-5CG1234XYZ", "kind": "laptop", "model": "HP ProBook 450", "kit_id": "kit-l1"},
    {"serial": "WC-C270-0042", "kind": "webcam", "model": "Logitech C270", "kit_id": "kit-l1"},
    {"serial": "HS-H390-0917", "kind": "headset", "model": "Logitech H390", "kit_id": "kit-l1"},
]
CONTRACT = {
    "number": "2026-0042",
    "school": "№42 мектеп",
    "city": "Алматы",
    "guardian_ref": "g-001",
    "pupil_ref": "p-001",
    "kit_id": "kit-l1",
    **loan_period(),
}
GOOD = {p["serial"]: "good" for p in PARTS}


def upload(
    controller: Controller, path: str, data: bytes, content_type: str = "text/csv"
) -> tuple[int, Any]:
    """POST a file's bytes as the body (`content_type`) as an admin; (status, JSON answer)."""
    request = urllib.request.Request(
        controller.url + path,
        data,
        {"Content-Type": content_type, "Authorization": f"Bearer {controller.tokens['admin']}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=controller.context, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def add_kits(controller: Controller, *kit_ids: str, profile: str = "base") -> None:
    """Record the kits not known yet (active), as a school does before their parts: a kits CSV
    import (a component never creates its kit: issue 13)."""
    new = [k for k in kit_ids if controller.get(f"/api/v1/kits/{k}")[0] == 404]
    if new:
        text = "kit_id,profile,lifecycle\n" + "".join(f"{k},{profile},active\n" for k in new)
        status, report = upload(controller, "/api/v1/import/kits", text.encode())
        assert status == 200, report


def setup_loan(controller: Controller) -> None:
    """The pupil, the guardian, the kit's parts and the contract as a draft, through the API."""
    assert controller.post("/api/v1/pupils", PUPIL, "admin")[0] == 201
    assert controller.post("/api/v1/guardians", GUARDIAN, "admin")[0] == 201
    add_kits(controller, "kit-l1")
    for part in PARTS:
        status, body = controller.post("/api/v1/components", part, "admin")
        assert status == 201, body
    status, body = controller.post("/api/v1/contracts", CONTRACT, "admin")
    assert status == 201, body
    assert body["state"] == "draft"
    assert [c["serial"] for c in body["components"]] == sorted(p["serial"] for p in PARTS)


def step(controller: Controller, action: str, details: dict[str, object]) -> tuple[int, dict]:
    """Take the contract one action on; (status, body)."""
    return controller.post(f"/api/v1/contracts/2026-0042/actions/{action}", details, "admin")


def lend(controller: Controller, guardian: str = "Ә. Нұрғалиева") -> None:
    """`setup_loan`, then the contract signed by `guardian` and the school: kit-l1 is lent."""
    setup_loan(controller)
    assert step(controller, "sign", {"guardian": guardian, "school": "Директор"})[0] == 200


# --- an enrolled kit -------------------------------------------------------------------------


def enrol(db: str, paths: pki.PkiPaths, state_dir: Path, kit_id: str) -> int:
    """Enrol a kit in the database as the enrolment endpoint does; its certificate's serial."""
    database = migrated(db)
    now = datetime.now(UTC)
    key = generate_key(state_dir / "kit.key")
    with database.sessions.begin() as session:
        issued = trust.create_token(
            session, kit_id=kit_id, paths=paths, now=now, ttl=timedelta(days=1)
        )
        enrolment = trust.enroll(
            session,
            token=issued.text,
            csr_pem=make_csr(key, kit_id).decode(),
            paths=paths,
            now=now,
            days=365,
        )
    database.engine.dispose()
    save_identity(state_dir, cert_pem=enrolment.certificate_pem, ca_pem=paths.ca_cert.read_bytes())
    return x509.load_pem_x509_certificate(enrolment.certificate_pem).serial_number


def crl_serials(paths: pki.PkiPaths) -> set[int]:
    """The serials the CRL in place revokes."""
    return {r.serial_number for r in x509.load_pem_x509_crl(paths.crl.read_bytes())}


def revoke_reasons(db: str, kit_id: str) -> list[str | None]:
    """Why each of the kit's certificates was revoked (None: it was not)."""
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT revoke_reason FROM certificates WHERE kit_id = ? ORDER BY issued_at", (kit_id,)
        ).fetchall()
    return [reason for (reason,) in rows]


# --- a pupil's schedule ----------------------------------------------------------------------

ALMATY = ZoneInfo("Asia/Almaty")
SERVER = "webinar.school.kz:443"


def upcoming_schedule(**changes: Any) -> dict[str, Any]:
    """A schedule with a lesson tomorrow (local), whatever day the test runs."""
    today = datetime.now(ALMATY).date()
    tomorrow = today + timedelta(days=1)
    return {
        "timezone": "Asia/Almaty",
        "terms": [
            {"start": str(today - timedelta(days=7)), "end": str(today + timedelta(days=60))}
        ],
        "slots": [
            {
                "weekday": tomorrow.weekday(),
                "start": "10:00",
                "duration_min": 45,
                "subject": "Mathematics",
                "teacher": "Aigerim Bekova",
                "server": SERVER,
            },
            {
                "weekday": tomorrow.weekday(),
                "start": "11:00",
                "duration_min": 40,
                "subject": "Russian language",
                "teacher": "Yerlan Saparov",
                "mode": "home_visit",
            },
        ],
        "drawn_up_by": "G. Akhmetova, deputy director",
    } | changes
