"""The inventory of serial-numbered components: in a kit, or in spare stock (no kit).

Keyword-only functions in the caller's transaction, each change audited. A contract lists the
components of its kit as they were when it was drawn up (`controller.loans.contracts`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.loans.errors import ContractsError
from controller.loans.schemas import ComponentCreate, ComponentUpdate
from controller.loans.tables import Component
from controller.platform import audit
from controller.trust import enrolment as trust


def find_component(session: Session, serial: str) -> Component | None:
    """The component with this serial, if any."""
    return session.scalar(select(Component).where(Component.serial == serial))


def get_component(session: Session, serial: str) -> Component:
    """The component with this serial (ContractsError 404 when there is none)."""
    row = find_component(session, serial)
    if row is None:
        raise ContractsError(f"no component {serial!r}", 404)
    return row


def kit_components(session: Session, kit_id: str | None = None) -> list[Component]:
    """Components by serial, of one kit or all (spare stock has no kit)."""
    query = select(Component).order_by(Component.serial)
    if kit_id is not None:
        query = query.where(Component.kit_id == kit_id)
    return list(session.scalars(query))


def add_component(
    session: Session, *, data: ComponentCreate, actor: str, now: datetime
) -> Component:
    """Record a component (and the kit it belongs to, if new)."""
    if session.scalar(select(Component.id).where(Component.serial == data.serial)):
        raise ContractsError(f"component {data.serial!r} already exists")
    if data.kit_id is not None:
        trust.ensure_kit(session, data.kit_id)
    row = Component(**data.model_dump(), created_at=now)
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="component_added",
        entity="component",
        entity_id=data.serial,
        now=now,
        after=data.model_dump(),
    )
    return row


def change_component(
    session: Session, *, serial: str, change: ComponentUpdate, actor: str, now: datetime
) -> Component:
    """Move a component between kits or to stock, or record its condition; audited."""
    row = get_component(session, serial)
    before = {"kit_id": row.kit_id, "condition": row.condition}
    fields = change.model_dump(exclude_unset=True)
    if "kit_id" in fields:
        if fields["kit_id"] is not None:
            trust.ensure_kit(session, fields["kit_id"])
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
