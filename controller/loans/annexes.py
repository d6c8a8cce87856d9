"""Annexes to a contract: a component or the whole kit taken back and another given instead.

Each annex is kept on the contract (`LoanContract.annexes`): its number, when (`at`, UTC), the
reason, and what was taken back and given instead with each component's condition then
(`taken`, `given`: lists of {serial, kind, model, condition}); a component's annex also keeps
`old_serial` / `new_serial`, a kit's `old_kit_id` / `new_kit_id`. `document` turns one into what
the annex's PDF prints. Annexes made before `taken` / `given` were kept are read from the
inventory as it is now (their PDF is rendered live).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans import documents, inventory
from controller.loans.errors import ContractsError, said
from controller.loans.tables import Component, LoanContract
from controller.platform import audit


def lines(parts: list[Component]) -> list[dict[str, str]]:
    """Components as a contract or an annex lists them."""
    return [
        {"serial": c.serial, "kind": c.kind, "model": c.model, "condition": c.condition}
        for c in parts
    ]


def add(
    session: Session,
    row: LoanContract,
    change: dict[str, Any],
    *,
    before: dict[str, Any],
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Add an annex (its number, when, and `change`) to the contract; audited; the annex."""
    annex = {"number": str(len(row.annexes) + 1), "at": now.isoformat(), **change}
    row.annexes = [*row.annexes, annex]
    audit.record(
        session,
        actor=actor,
        action="contract_annex",
        entity="contract",
        entity_id=row.number,
        now=now,
        before=before,
        after=annex,
    )
    return annex


def find(row: LoanContract, number: int | None) -> dict[str, Any]:
    """Annex `number` of the contract (ContractsError 404 when it has none such)."""
    for annex in row.annexes:
        if number is not None and annex.get("number") == str(number):
            return annex
    made = ", ".join(a["number"] for a in row.annexes) or said("annex.none")
    raise ContractsError.refused(
        "refused.no_annex", 404, number=row.number, annex=number, ask="?annex=N", made=made
    )


def _line(data: dict[str, str]) -> documents.ComponentLine:
    return documents.ComponentLine(
        kind=data["kind"], model=data["model"], serial=data["serial"], condition=data["condition"]
    )


def _now_in(session: Session, serials: list[str]) -> list[dict[str, str]]:
    """Components by serial as the inventory holds them now (for annexes kept before `taken`)."""
    parts = session.scalars(select(Component).where(Component.serial.in_(serials)))
    return lines(sorted(parts, key=lambda c: c.serial))


def document(session: Session, annex: dict[str, Any], zone: ZoneInfo) -> documents.Annex:
    """What the annex's PDF prints: its number, date (at the school, in `zone`), reason, what
    was taken back and given."""
    taken, given = annex.get("taken"), annex.get("given")
    if taken is None or given is None:  # kept before issue 13: the inventory as it is now
        if "old_serial" in annex:
            taken = _now_in(session, [annex["old_serial"]])
            given = _now_in(session, [annex["new_serial"]])
        else:
            taken = lines(inventory.kit_components(session, annex["old_kit_id"]))
            given = lines(inventory.kit_components(session, annex["new_kit_id"]))
    return documents.Annex(
        number=int(annex["number"]),
        day=datetime.fromisoformat(annex["at"]).astimezone(zone).date(),
        reason=str(annex.get("reason", "")),
        taken=[_line(c) for c in taken],
        given=[_line(c) for c in given],
        ticket=int(annex["ticket"]) if annex.get("ticket") else None,
    )
