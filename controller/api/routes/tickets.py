"""Tickets: repair, replacement and help requests, for administrators and technicians."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.api.deps import SessionDep, StateDep, require
from controller.errors import ConfigError
from controller.loans import people
from controller.tickets import service as tickets
from controller.tickets.tables import Ticket
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import BoundedAwareDatetime

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the ticket's number")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such ticket (or kit, component)"},
    409: {"description": "not legal from the ticket's state: the detail says why"},
    422: {"description": "a detail missing or wrong: the detail says which"},
}


class TicketIn(BaseModel):
    """A ticket opened by hand, e.g. a parent's call for help."""

    model_config = ConfigDict(extra="forbid")

    kind: tickets.TicketKind
    kit_id: str = Field(pattern=KIT_ID_PATTERN)
    title: str = Field(min_length=3, max_length=200)
    detail: str = Field(default="", max_length=4000)
    priority: tickets.Priority = tickets.Priority.NORMAL
    due_by: BoundedAwareDatetime | None = Field(default=None, description="the pupil's next lesson")
    component_serial: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the component concerned; a replacement ticket without one replaces the kit",
    )


class AssignIn(BaseModel):
    """Who takes the ticket."""

    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="a technician's user name")


class TransitionIn(BaseModel):
    """A step of the ticket's life; waiting and cancelled need a note."""

    model_config = ConfigDict(extra="forbid")

    to: tickets.TicketState
    note: str | None = Field(default=None, max_length=2000)


class CloseIn(BaseModel):
    """Closing: what was done and, for a replacement ticket, what replaced what."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=3, max_length=2000)
    replacement_serial: str | None = Field(default=None, min_length=1, max_length=64)
    replacement_kit_id: str | None = Field(default=None, pattern=KIT_ID_PATTERN)


class TicketOut(BaseModel):
    """A ticket (nothing personal)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    priority: str
    state: str
    title: str
    detail: str
    kit_id: str
    contract_number: str | None
    incident_id: int | None
    component_serial: str | None
    due_by: datetime | None
    assignee: str | None
    opened_by: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_breached: bool
    breached_at: datetime | None
    resolution: str | None
    replacement_serial: str | None
    replacement_kit_id: str | None
    allowed_transitions: list[str] = []


class EventOut(BaseModel):
    """One step of a ticket's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any] | None


class ContactOut(BaseModel):
    """Who to call: the guardian who signed the kit's contract (no IIN, no address)."""

    contract_number: str
    ref: str
    pupil_ref: str
    relation: str
    name: str
    phone: str


class TicketDetail(TicketOut):
    """A ticket with its history and who to call about it."""

    history: list[EventOut] = []
    contact: ContactOut | None = None
    contact_note: str | None = Field(default=None, description="why there is no contact")


def _out(row: Ticket) -> TicketOut:
    out = TicketOut.model_validate(row)
    out.allowed_transitions = [
        s.value for s in tickets.allowed_targets(tickets.TicketState(row.state))
    ]
    return out


def _fail(exc: tickets.TicketsError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


@router.get("", response_model=list[TicketOut])
def list_tickets(  # noqa: PLR0917 - FastAPI passes what the route declares
    session: SessionDep,
    user: Staff,
    state: Annotated[tickets.TicketState | None, Query()] = None,
    kit_id: Annotated[str | None, Query(pattern=KIT_ID_PATTERN)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    breached: Annotated[bool | None, Query(description="only tickets past their SLA")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[TicketOut]:
    """Tickets, most urgent first, by state, kit, assignee or SLA breach."""
    rows = tickets.list_tickets(
        session, state=state, kit_id=kit_id, assignee=assignee, breached=breached, limit=limit
    )
    return [_out(r) for r in rows]


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: _REFUSED[404]})
def get_ticket(ticket_id: TicketId, session: SessionDep, state: StateDep, user: Staff) -> Any:
    """One ticket, its history, and the guardian's phone with the contract number."""
    try:
        row = tickets.get_ticket(session, ticket_id=ticket_id)
    except tickets.TicketsError as exc:
        raise _fail(exc) from exc
    detail = TicketDetail.model_validate(_out(row).model_dump())
    detail.history = [
        EventOut.model_validate(e) for e in tickets.history(session, ticket_id=ticket_id)
    ]
    try:
        cipher = people.cipher(state.settings)
    except ConfigError as exc:
        detail.contact_note = str(exc)
        return detail
    found = tickets.contact(session, ticket=row, cipher=cipher, role=user.role)
    if found is None:
        detail.contact_note = "the kit is not lent under a contract"
    else:
        detail.contact = ContactOut.model_validate(found)
        detail.contract_number = detail.contract_number or found["contract_number"]
    return detail


@router.post("", response_model=TicketOut, status_code=201, responses=_REFUSED)
def open_ticket(data: TicketIn, session: SessionDep, user: Staff) -> TicketOut:
    """Open a ticket by hand (a help request by phone, a fault seen on a visit)."""
    try:
        row = tickets.open_ticket(
            session,
            kind=data.kind,
            kit_id=data.kit_id,
            title=data.title,
            detail=data.detail,
            priority=data.priority,
            due_by=data.due_by,
            component_serial=data.component_serial,
            actor=user.username,
            now=datetime.now(UTC),
        )
    except tickets.TicketsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)


@router.post("/{ticket_id}/assign", response_model=TicketOut, responses=_REFUSED)
def assign(ticket_id: TicketId, data: AssignIn, session: SessionDep, user: Staff) -> TicketOut:
    """Give the ticket to a technician (an open one becomes assigned)."""
    try:
        row = tickets.assign(
            session,
            ticket_id=ticket_id,
            assignee=data.assignee,
            actor=user.username,
            now=datetime.now(UTC),
        )
    except tickets.TicketsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)


@router.post("/{ticket_id}/transition", response_model=TicketOut, responses=_REFUSED)
def transition(
    ticket_id: TicketId, data: TransitionIn, session: SessionDep, user: Staff
) -> TicketOut:
    """Move the ticket: in_progress, waiting, resolved, cancelled (closed: see close)."""
    try:
        row = tickets.transition(
            session,
            ticket_id=ticket_id,
            to=data.to,
            note=data.note,
            actor=user.username,
            now=datetime.now(UTC),
        )
    except tickets.TicketsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)


@router.post("/{ticket_id}/close", response_model=TicketOut, responses=_REFUSED)
def close(ticket_id: TicketId, data: CloseIn, session: SessionDep, user: Staff) -> TicketOut:
    """Close a resolved ticket; a replacement swaps the component or kit (contract annex)."""
    try:
        row = tickets.close_ticket(
            session,
            ticket_id=ticket_id,
            resolution=data.resolution,
            replacement_serial=data.replacement_serial,
            replacement_kit_id=data.replacement_kit_id,
            actor=user.username,
            now=datetime.now(UTC),
        )
    except tickets.TicketsError as exc:
        raise _fail(exc) from exc
    session.commit()
    return _out(row)
