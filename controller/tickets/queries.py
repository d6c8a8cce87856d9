"""Reading tickets for other domains: the ticket a kit's repeated request belongs on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.tickets.machine import SETTLED, TicketKind
from controller.tickets.tables import Ticket


def unsettled_for_kit(session: Session, *, kit_id: str, kind: TicketKind) -> Ticket | None:
    """The kit's newest ticket of this kind still being worked on (not resolved or finished)."""
    return session.scalars(
        select(Ticket)
        .where(
            Ticket.kit_id == kit_id,
            Ticket.kind == kind.value,
            Ticket.state.not_in([s.value for s in SETTLED]),
        )
        .order_by(Ticket.id.desc())
    ).first()
