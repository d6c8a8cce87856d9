"""A ticket row read and written back, and each step recorded in its history and the audit log.

Shared by the modules of the tickets domain; other domains go through `controller.tickets.service`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.platform import audit
from controller.tickets.errors import Said, TicketsError
from controller.tickets.machine import TicketFacts, TicketKind, TicketState
from controller.tickets.tables import Ticket, TicketEvent

SYSTEM: Final = "system"
"""The actor of what the controller does by itself (an SLA breach)."""


def facts(row: Ticket) -> TicketFacts:
    """The ticket as the state machine sees it."""
    return TicketFacts(
        state=TicketState(row.state),
        kind=TicketKind(row.kind),
        kit_id=row.kit_id,
        assignee=row.assignee,
        component_serial=row.component_serial,
        resolution=row.resolution,
        replacement_serial=row.replacement_serial,
        replacement_kit_id=row.replacement_kit_id,
    )


def write(row: Ticket, after: TicketFacts, now: datetime) -> None:
    """Write the state machine's answer back on the row."""
    row.state = after.state.value
    row.assignee = after.assignee
    row.resolution = after.resolution
    row.replacement_serial = after.replacement_serial
    row.replacement_kit_id = after.replacement_kit_id
    row.updated_at = now


def log(
    session: Session,
    row: Ticket,
    *,
    action: str,
    actor: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One step in the ticket's history and in the audit log (notes go to the history only)."""
    changes = {
        "before": {k: v for k, v in (before or {}).items() if k != "state"},
        "after": {k: v for k, v in (after or {}).items() if k != "state"},
        **(detail or {}),
    }
    session.add(
        TicketEvent(
            ticket_id=row.id,
            at=now,
            actor=actor,
            action=action,
            from_state=(before or {}).get("state"),
            to_state=(after or {}).get("state"),
            detail={k: v for k, v in changes.items() if v} or None,
        )
    )
    audit.record(
        session,
        actor=actor,
        action=f"ticket_{action}",
        entity="ticket",
        entity_id=str(row.id),
        now=now,
        before=before,
        after=after,
    )


def note(
    session: Session, row: Ticket, *, action: str, actor: str, now: datetime, **detail: Any
) -> None:
    """A line in the ticket's history only (not audited): a catalogue `key` and its `params`."""
    session.add(TicketEvent(ticket_id=row.id, at=now, actor=actor, action=action, detail=detail))


def enum(kind: type[StrEnum], value: str, what: str) -> Any:
    """`value` as a member of `kind`, or TicketsError 422 listing the members (`what`: the
    tickets catalogue's `what.*` key naming it; the value itself is not echoed)."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise TicketsError("error.unknown", 422, what=Said(what), choices=choices) from None


def iso(value: datetime | None) -> str | None:
    """The time as ISO text, or None."""
    return value.isoformat() if value is not None else None


def get_ticket(session: Session, *, ticket_id: int) -> Ticket:
    """One ticket by id (TicketsError 404 when there is none)."""
    row = session.get(Ticket, ticket_id)
    if row is None:
        raise TicketsError("error.no_ticket", 404, ticket=ticket_id)
    return row


def history(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    """The ticket's history, oldest first."""
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )
