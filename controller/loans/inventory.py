"""The inventory of serial-numbered components: in a kit, or in spare stock (no kit).

Keyword-only functions in the caller's transaction, each change audited. A contract lists the
components of its kit as they were when it was drawn up (`controller.loans.contracts`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet import queries as fleet
from controller.loans.errors import ContractsError
from controller.loans.inventory_errors import InventoryRefusedError
from controller.loans.lifecycle import LENT_STATES
from controller.loans.schemas import ComponentCreate, ComponentUpdate
from controller.loans.tables import Component, LoanContract
from controller.platform import audit


def find_component(session: Session, serial: str) -> Component | None:
    """The component with this serial, if any."""
    return session.scalar(select(Component).where(Component.serial == serial))


def get_component(session: Session, serial: str) -> Component:
    """The component with this serial (ContractsError 404 when there is none)."""
    row = find_component(session, serial)
    if row is None:
        raise ContractsError.refused("refused.no_component", 404, serial=serial)
    return row


def kit_components(session: Session, kit_id: str | None = None) -> list[Component]:
    """Components by serial, of one kit or all (spare stock has no kit)."""
    query = select(Component).order_by(Component.serial)
    if kit_id is not None:
        query = query.where(Component.kit_id == kit_id)
    return list(session.scalars(query))


def known_kit(session: Session, kit_id: str) -> str:
    """The kit id, when the kit is known (enrolled, or imported in a kits file); else refused.

    A component never creates its kit on the side: a mistyped id would make a phantom kit.
    """
    if fleet.get_kit(session, kit_id=kit_id) is None:
        raise InventoryRefusedError("refused.unknown_kit", 422, kit=kit_id)
    return kit_id


def lending_contract(session: Session, kit_id: str) -> str | None:
    """The number of the signed or active contract the kit is under (`LENT_STATES`), if any."""
    return session.scalar(
        select(LoanContract.number).where(
            LoanContract.kit_id == kit_id, LoanContract.state.in_(LENT_STATES)
        )
    )


def _not_lent(session: Session, kit_id: str | None, serial: str) -> None:
    """Refuse to change what a kit under contract holds: that is a replacement (an annex)."""
    if kit_id is not None and (number := lending_contract(session, kit_id)) is not None:
        raise InventoryRefusedError(
            "refused.kit_under_contract", 409, serial=serial, kit=kit_id, contract=number
        )


def add_component(
    session: Session, *, data: ComponentCreate, actor: str, now: datetime
) -> Component:
    """Record a component in a known kit (not one under contract) or in spare stock."""
    if session.scalar(select(Component.id).where(Component.serial == data.serial)):
        raise ContractsError.refused("refused.component_exists", serial=data.serial)
    if data.kit_id is not None:
        known_kit(session, data.kit_id)
        _not_lent(session, data.kit_id, data.serial)
    row = Component(**data.model_dump(mode="json"), created_at=now)
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="component_added",
        entity="component",
        entity_id=data.serial,
        now=now,
        after=data.model_dump(mode="json"),
    )
    return row


def change_component(
    session: Session, *, serial: str, change: ComponentUpdate, actor: str, now: datetime
) -> Component:
    """Move a component between kits or to stock, or record its condition; audited.

    A kit under a signed or active contract neither loses nor gains a component here: that is
    a replacement under an annex (`POST /contracts/{number}/replace`); its condition may be
    recorded all the same.
    """
    row = get_component(session, serial)
    before = {"kit_id": row.kit_id, "condition": row.condition}
    fields = change.model_dump(exclude_unset=True, mode="json")
    if "kit_id" in fields and fields["kit_id"] != row.kit_id:
        if fields["kit_id"] is not None:
            known_kit(session, fields["kit_id"])
        _not_lent(session, row.kit_id, serial)
        _not_lent(session, fields["kit_id"], serial)
        row.kit_id = fields["kit_id"]
    if fields.get("condition"):
        row.condition = fields["condition"]
    after = {"kit_id": row.kit_id, "condition": row.condition}
    action = "component_moved" if before["kit_id"] != after["kit_id"] else "component_updated"
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="component",
        entity_id=serial,
        now=now,
        before=before,
        after=after,
    )
    return row


def update_component(session: Session, *, data: ComponentCreate, actor: str, now: datetime) -> bool:
    """Give a recorded component the kind, model, condition and kit of `data` (an import's
    update); True when anything changed. A move follows `change_component`'s rules."""
    row = get_component(session, data.serial)
    given = data.model_dump(mode="json")
    before = {field: getattr(row, field) for field in ("kind", "model", "condition", "kit_id")}
    if before == {field: given[field] for field in before}:
        return False
    if (row.kind, row.model) != (given["kind"], given["model"]):
        row.kind, row.model = given["kind"], given["model"]
        audit.record(
            session,
            actor=actor,
            action="component_updated",
            entity="component",
            entity_id=data.serial,
            now=now,
            before={"kind": before["kind"], "model": before["model"]},
            after={"kind": row.kind, "model": row.model},
        )
    if (row.condition, row.kit_id) != (given["condition"], given["kit_id"]):
        change = ComponentUpdate(kit_id=data.kit_id, condition=data.condition)
        change_component(session, serial=data.serial, change=change, actor=actor, now=now)
    return True


def record_conditions(
    session: Session,
    *,
    conditions: dict[str, str],
    kit_id: str,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    """Give each component of kit `kit_id` the condition a hand-over or return act recorded
    (serial -> condition); a missing one leaves its kit. A component that is no longer in the
    kit (now in another kit or in stock) is left alone. Audited per component that changed,
    with the act as `source`."""
    for serial, condition in sorted(conditions.items()):
        row = find_component(session, serial)
        if row is None or row.kit_id != kit_id:
            continue
        before = {"kit_id": row.kit_id, "condition": row.condition}
        row.condition = condition
        if condition == "missing":
            row.kit_id = None
        after = {"kit_id": row.kit_id, "condition": row.condition}
        if after != before:
            audit.record(
                session,
                actor=actor,
                action="component_condition_recorded",
                entity="component",
                entity_id=serial,
                now=now,
                before=before,
                after=after | {"source": source},
            )
