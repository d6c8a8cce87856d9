"""CSV import of kits, components, pupils and guardians, and the contract register as CSV.

A file is checked whole first (`controller.loans.import_rows`); with any bad row nothing is
imported unless `partial` is asked for, and the report names every bad row and why. Rows that
the database refuses (a serial or a pupil already known) are reported the same way.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.fleet import service as fleet
from controller.loans import import_rows, inventory, kit_status, people
from controller.loans.schemas import ComponentCreate, GuardianCreate, PupilCreate
from controller.loans.tables import LoanContract
from controller.platform import csvfile
from controller.platform.crypto import FieldCipher
from controller.trust import enrolment as trust
from protocol.topics import is_valid_kit_id

Kind = Literal["kits", "components", "pupils", "guardians"]


def _store_row(
    kind: Kind, row: Any, *, session: Session, cipher: FieldCipher | None, actor: str, now: datetime
) -> bool:
    """Store one row; True when it marked a kit lost, retired or returned, or back from it."""
    if kind == "kits":
        trust.ensure_kit(session, row.kit_id).profile = row.profile
        return kit_status.set_status(
            session, kit_id=row.kit_id, status=str(row.status), actor=actor, now=now
        )
    if kind == "components":
        inventory.add_component(
            session,
            data=ComponentCreate(
                serial=row.serial,
                kind=row.kind,
                model=row.model,
                condition=row.condition,
                kit_id=row.kit_id,
            ),
            actor=actor,
            now=now,
        )
    elif kind == "pupils":
        assert cipher is not None
        people.create_pupil(
            session,
            data=PupilCreate(
                ref=row.pupil_ref,
                name=row.name,
                iin=row.iin,
                grade=row.grade,
                program=str(row.program),
                basis=str(row.basis),
                temporary_until=row.temporary_until,
                school=row.school,
            ),
            cipher=cipher,
            actor=actor,
            now=now,
        )
    else:
        assert cipher is not None
        people.create_guardian(
            session,
            data=GuardianCreate(
                ref=row.guardian_ref,
                pupil_ref=row.pupil_ref,
                relation=str(row.relation),
                name=row.name,
                phone=row.phone,
                address=row.address,
                iin=row.iin,
            ),
            cipher=cipher,
            actor=actor,
            now=now,
        )
    return False


def _kits_of(session: Session, rows: list[Any]) -> dict[str, fleet.Kit]:
    """The kits a kits file names, the new ones added (active) in one statement."""
    return fleet.ensure_kits(session, [r.kit_id for r in rows if is_valid_kit_id(r.kit_id)])


def _unchanged_kit(kits: dict[str, fleet.Kit], row: Any) -> bool:
    """Store a kit row whose status is the kit's lifecycle already (a new kit's is active).

    Most rows of a large kits file are such: they need neither a savepoint (nothing in them can
    fail) nor the audited lifecycle change, so 20,000 rows take seconds in one transaction.
    False, having changed nothing, for a row that changes the lifecycle (or a bad kit id):
    `_store_row` stores it, audited, and revokes if need be.
    """
    kit = kits.get(row.kit_id)
    if kit is None or kit.lifecycle != str(row.status):
        return False
    kit.profile = row.profile
    return True


PARSERS: dict[Kind, Callable[[str], import_rows.ImportResult[Any]]] = {
    "kits": import_rows.parse_kits,
    "components": import_rows.parse_components,
    "pupils": import_rows.parse_pupils,
    "guardians": import_rows.parse_guardians,
}


def import_csv(
    session: Session,
    *,
    kind: Kind,
    text: str,
    partial: bool,
    cipher: FieldCipher | None,
    revocations: kit_status.Revocations,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Import a file in the caller's transaction; the report says what was imported and why not.

    Without `partial`, any error leaves `imported` at 0 and the caller must roll back. A kit
    imported as lost, retired or returned is revoked like one marked so by hand: the revocation
    is published (`revocations`) before the caller commits.
    """
    parsed = PARSERS[kind](text)
    errors = [{"row": e.row, "column": e.column, "reason": e.reason} for e in parsed.errors]
    if errors and not partial:
        return {"imported": 0, "errors": errors}
    imported, revoking = 0, False
    kits = _kits_of(session, parsed.rows) if kind == "kits" else {}
    for row in parsed.rows:
        key = next(iter(row.model_dump().values()))
        try:
            if kind == "kits" and _unchanged_kit(kits, row):
                imported += 1
                continue
            with session.begin_nested():
                revoking |= _store_row(
                    kind, row, session=session, cipher=cipher, actor=actor, now=now
                )
            imported += 1
        except (ControllerError, ValidationError) as exc:
            errors.append({"row": None, "column": None, "reason": f"{key}: {exc}"})
    if errors and not partial:
        return {"imported": 0, "errors": errors}
    if revoking:
        revocations.publish(session, now=now)
    return {"imported": imported, "errors": errors}


REGISTER_COLUMNS = (
    "number",
    "state",
    "kit_id",
    "pupil_ref",
    "guardian_ref",
    "school",
    "city",
    "start",
    "end",
    "terms_version",
    "components",
    "signed_by_guardian",
    "signed_by_school",
)


def _signed(token: str | None) -> str:
    """Whether a party signed, for the register: `yes` or empty, never the name (encrypted)."""
    return "" if token is None else "yes"


def register_csv(session: Session) -> str:
    """The contract register as CSV (no personal data: people are named by reference)."""
    out = io.StringIO()
    writer = csvfile.writer(out)  # formula-like cells quoted for spreadsheets
    writer.writerow(REGISTER_COLUMNS)
    for row in session.scalars(select(LoanContract).order_by(LoanContract.number)):
        writer.writerow(
            [
                row.number,
                row.state,
                row.kit_id,
                row.pupil_ref,
                row.guardian_ref,
                row.school,
                row.city,
                row.start.isoformat(),
                row.end.isoformat(),
                row.terms_version,
                " ".join(c["serial"] for c in row.components),
                _signed(row.signed_by_guardian_enc),
                _signed(row.signed_by_school_enc),
            ]
        )
    return out.getvalue()
