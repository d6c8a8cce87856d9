"""Tickets: repair, replacement and help requests, for administrators and technicians."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.tickets import service as tickets
from controller.tickets.machine import TicketState
from controller.tickets.schemas import (
    TicketAssign,
    TicketClose,
    TicketCreate,
    TicketDetail,
    TicketPublic,
    TicketTransition,
)
from controller.tickets.tables import Ticket
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.limits import KIT_ID_PATTERN

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the ticket's number")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such ticket (or kit, component)"},
    409: {"description": "not legal from the ticket's state: the detail says why"},
    422: {"description": "a detail missing or wrong: the detail says which"},
}


@router.get("", response_model=list[TicketPublic])
def list_tickets(  # noqa: PLR0917 - FastAPI passes what the route declares
    session: SessionDep,
    user: Staff,
    state: Annotated[TicketState | None, Query()] = None,
    kit_id: Annotated[str | None, Query(pattern=KIT_ID_PATTERN)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    breached: Annotated[bool | None, Query(description="only tickets past their SLA")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[Ticket]:
    """Tickets, most urgent first, by state, kit, assignee or SLA breach."""
    return tickets.list_tickets(
        session, state=state, kit_id=kit_id, assignee=assignee, breached=breached, limit=limit
    )


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: _REFUSED[404]})
def get_ticket(
    ticket_id: TicketId, session: SessionDep, state: StateDep, user: Staff
) -> TicketDetail:
    """One ticket, its history, and the guardian's phone with the contract number."""
    return tickets.ticket_detail(
        session, ticket_id=ticket_id, settings=state.settings, role=user.role
    )


@router.post("", response_model=TicketPublic, status_code=201, responses=_REFUSED)
def open_ticket(data: TicketCreate, session: SessionDep, user: Staff) -> Ticket:
    """Open a ticket by hand (a help request by phone, a fault seen on a visit)."""
    return tickets.open_by_hand(session, data=data, actor=user.username, now=datetime.now(UTC))


@router.post("/{ticket_id}/assign", response_model=TicketPublic, responses=_REFUSED)
def assign(ticket_id: TicketId, data: TicketAssign, session: SessionDep, user: Staff) -> Ticket:
    """Give the ticket to a technician (an open one becomes assigned)."""
    return tickets.assign(
        session,
        ticket_id=ticket_id,
        assignee=data.assignee,
        actor=user.username,
        now=datetime.now(UTC),
    )


@router.post("/{ticket_id}/transition", response_model=TicketPublic, responses=_REFUSED)
def transition(
    ticket_id: TicketId, data: TicketTransition, session: SessionDep, user: Staff
) -> Ticket:
    """Move the ticket: in_progress, waiting, resolved, cancelled (closed: see close)."""
    return tickets.transition(
        session,
        ticket_id=ticket_id,
        to=data.to,
        note=data.note,
        actor=user.username,
        now=datetime.now(UTC),
    )


@router.post("/{ticket_id}/close", response_model=TicketPublic, responses=_REFUSED)
def close(ticket_id: TicketId, data: TicketClose, session: SessionDep, user: Staff) -> Ticket:
    """Close a resolved ticket; a replacement swaps the component or kit (contract annex)."""
    return tickets.close_ticket(
        session,
        ticket_id=ticket_id,
        resolution=data.resolution,
        replacement_serial=data.replacement_serial,
        replacement_kit_id=data.replacement_kit_id,
        actor=user.username,
        now=datetime.now(UTC),
    )
