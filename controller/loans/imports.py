"""CSV import of kits, components, pupils and guardians, and the contract register as CSV.

A file is checked whole (`controller.loans.import_rows`, with what the database knows: the kits
a component may name, the pupils a guardian may sign for, the references already recorded), and
every checked row is then stored in its own savepoint (`controller.loans.import_store`), so the
report names, in one round, every bad row, its column and why, in kk, ru and en. With any error
nothing is imported unless `partial` is asked for. Existing components, pupils and guardians are
errors unless `update` is asked for; then each row says `created`, `updated` or `unchanged`.
Kits are created by a kits file (as by enrolment), never by a components file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.i18n import catalogue
from controller.errors import ControllerError
from controller.fleet import queries as fleet_queries
from controller.fleet import service as fleet
from controller.loans import import_rows, import_store, kit_status
from controller.loans.tables import Component, Guardian, LoanContract, Pupil
from controller.platform import csvfile
from controller.platform.crypto import FieldCipher
from protocol.topics import is_valid_kit_id

Kind = Literal["kits", "components", "pupils", "guardians"]
KINDS: Final[tuple[Kind, ...]] = ("kits", "components", "pupils", "guardians")
MODELS: Final[dict[Kind, type[BaseModel]]] = {
    "kits": import_rows.KitRow,
    "components": import_rows.ComponentRow,
    "pupils": import_rows.PupilRow,
    "guardians": import_rows.GuardianRow,
}
"""Each kind's row: its fields are the file's columns (`import_rows.columns`)."""

_COLUMN_OF_KEY: Final = {
    "refused.unknown_kit": "kit_id",
    "refused.kit_under_contract": "kit_id",
    "pupil.iin_taken": "iin",
    "pupil.iin_archived": "iin",
}
"""The column a refusal from the database names (by its key; `teacher.*`: teacher)."""


def _report_error(error: csvfile.RowError) -> dict[str, Any]:
    return {
        "row": error.row,
        "column": error.column,
        "reason": error.reason,
        "messages": error.messages(),
    }


def _refusal(line: int, exc: Exception) -> list[dict[str, Any]]:
    """Why the database refused a checked row, on its line, in every language."""
    if isinstance(exc, ValidationError):
        return [_report_error(e) for e in import_rows.errors_of(line, exc)]
    messages = exc.messages() if isinstance(exc, ControllerError) else None
    key = getattr(exc, "key", None) or ""
    column = "teacher" if key.startswith("teacher.") else _COLUMN_OF_KEY.get(key)
    if messages is None:
        messages = catalogue(csvfile.DOMAIN).texts("refused", detail=str(exc))
    return [{"row": line, "column": column, "reason": messages["en"], "messages": messages}]


def _parse(
    session: Session, kind: Kind, text: str, *, update: bool
) -> import_rows.ImportResult[Any]:
    """The file's rows checked with what the database knows."""
    if kind == "kits":
        return import_rows.parse_kits(text)

    def existing(column: Any) -> set[str] | None:
        return None if update else set(session.scalars(select(column)))

    if kind == "components":
        kit_ids = {kit.kit_id for kit in fleet_queries.list_kits(session)}
        return import_rows.parse_components(
            text, kit_ids=kit_ids, existing=existing(Component.serial)
        )
    if kind == "pupils":
        return import_rows.parse_pupils(text, existing=existing(Pupil.ref))
    pupil_refs = set(session.scalars(select(Pupil.ref)))
    return import_rows.parse_guardians(text, pupil_refs=pupil_refs, existing=existing(Guardian.ref))


def _store(store: import_store.Store, kind: Kind, row: Any, existed: set[str]) -> tuple[str, bool]:
    """Store one row: its outcome, and whether it changes what is revoked (kits)."""
    if kind == "kits":
        return import_store.store_kit(store, row, existed=row.kit_id in existed)
    storing: dict[Kind, Callable[[import_store.Store, Any], str]] = {
        "components": import_store.store_component,
        "pupils": import_store.store_pupil,
        "guardians": import_store.store_guardian,
    }
    return storing[kind](store, row), False


def _quick_kit(kits: dict[str, fleet.Kit], existed: set[str], row: Any) -> str | None:
    """Store a kit row whose lifecycle is the kit's already (a new kit's is active): its outcome.

    Most rows of a large kits file are such: they need neither a savepoint (nothing in them can
    fail) nor the audited lifecycle change, so 20,000 rows take seconds in one transaction.
    None, having changed nothing, for a row that changes the lifecycle: `_store` stores it,
    audited, and revokes if need be.
    """
    kit = kits.get(row.kit_id)
    if kit is None or kit.lifecycle != row.status:
        return None
    outcome = "created"
    if row.kit_id in existed:
        outcome = "unchanged" if kit.profile == row.profile else "updated"
    kit.profile = row.profile
    return outcome


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
    update: bool = False,
) -> dict[str, Any]:
    """Import a file in the caller's transaction; the report says what each row did, and why not.

    Every row the parse passed is stored (in a savepoint) even when other rows are bad, so that
    the database's refusals come in the same report. Without `partial`, any error leaves
    `imported` at 0 and the caller must roll back. A kit imported as lost, retired or returned is
    revoked like one marked so by hand: the revocation is published (`revocations`) before the
    caller commits.
    """
    parsed = _parse(session, kind, text, update=update)
    errors = [_report_error(e) for e in parsed.errors]
    results: list[dict[str, Any]] = []
    store = import_store.Store(session=session, cipher=cipher, actor=actor, now=now)
    kits: dict[str, fleet.Kit] = {}
    existed: set[str] = set()
    if kind == "kits":
        wanted = [r.kit_id for r in parsed.rows if is_valid_kit_id(r.kit_id)]
        existed = {k.kit_id for k in fleet_queries.list_kits(session)} & set(wanted)
        kits = fleet.ensure_kits(session, wanted)
    revoking = False
    for line, row in zip(parsed.lines, parsed.rows, strict=True):
        key = next(iter(row.model_dump().values()))
        if kind == "kits" and (quick := _quick_kit(kits, existed, row)) is not None:
            results.append({"row": line, "key": key, "outcome": quick})
            continue
        try:
            with session.begin_nested():
                outcome, revokes = _store(store, kind, row, existed)
        except (ControllerError, ValidationError) as exc:
            errors.extend(_refusal(line, exc))
            continue
        revoking |= revokes
        results.append({"row": line, "key": key, "outcome": outcome})
    errors.sort(key=lambda e: e["row"])
    if errors and not partial:
        return {"imported": 0, "errors": errors, "rows": []}
    if revoking:
        revocations.publish(session, now=now)
    return {"imported": len(results), "errors": errors, "rows": results}


def template(kind: Kind) -> str:
    """The kind's template file: its header and example rows (`controller/loans/templates`)."""
    return (resources.files("controller.loans") / "templates" / f"{kind}.csv").read_text("utf-8")


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
