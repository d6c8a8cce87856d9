"""Tickets: repair, replacement and help requests, for administrators and technicians.

Titles and notes the controller wrote come in the request's language (`?lang=`, else
Accept-Language, else English); a person's own title is shown as written. Times stay in UTC, with
each one a person reads also in the school's time zone (`*_local`, KITKEEPER_SCHOOL_TIMEZONE).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from controller.api.deps import SessionDep, StateDep, require
from controller.api.language import RequestLang
from controller.errors import ConfigError
from controller.loans import people
from controller.platform.crypto import FieldCipher
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


def _cipher(state: StateDep) -> FieldCipher | None:
    """The personal-data cipher when its keys are configured: a replacement's annex PDFs are then
    frozen at once (else rendered from the annex as kept)."""
    try:
        return people.cipher(state.settings)
    except ConfigError:
        return None


Cipher = Annotated[FieldCipher | None, Depends(_cipher)]
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the ticket's number")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such ticket (or kit, component)"},
    409: {"description": "not legal from the ticket's state: the detail says why"},
    422: {"description": "a detail missing or wrong: the detail says which"},
}


def _shown(row: Ticket, lang: RequestLang, state: StateDep) -> TicketPublic:
    return tickets.public(row, lang=lang, zone=state.settings.school_zone)


@router.get("", response_model=list[TicketPublic])
def list_tickets(  # noqa: PLR0917 - FastAPI passes what the route declares
    session: SessionDep,
    app: StateDep,
    user: Staff,
    lang: RequestLang,
    state: Annotated[TicketState | None, Query()] = None,
    kit_id: Annotated[str | None, Query(pattern=KIT_ID_PATTERN)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    breached: Annotated[bool | None, Query(description="only tickets past their SLA")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[TicketPublic]:
    """Tickets, most urgent first, by state, kit, assignee or SLA breach."""
    rows = tickets.list_tickets(
        session, state=state, kit_id=kit_id, assignee=assignee, breached=breached, limit=limit
    )
    return [_shown(row, lang, app) for row in rows]


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: _REFUSED[404]})
def get_ticket(
    ticket_id: TicketId, session: SessionDep, state: StateDep, user: Staff, lang: RequestLang
) -> TicketDetail:
    """One ticket, its history, and the guardian's phone with the contract number."""
    return tickets.ticket_detail(
        session, ticket_id=ticket_id, settings=state.settings, role=user.role, lang=lang
    )


@router.post(
    "",
    response_model=TicketPublic,
    status_code=201,
    responses=_REFUSED
    | {200: {"model": TicketPublic, "description": "an unfinished ticket joined (`joined`)"}},
)
def open_ticket(  # noqa: PLR0917 - FastAPI passes what the route declares
    data: TicketCreate,
    session: SessionDep,
    state: StateDep,
    user: Staff,
    lang: RequestLang,
    response: Response,
) -> TicketPublic:
    """Open a ticket by hand (a help request by phone, a fault seen on a visit).

    Without `due_by` it is due by the start of the pupil's next lesson (`due_source` lesson, kept
    current when the schedule changes), else in two days (`sla`). An unfinished ticket of the same
    kit, kind and cause (help; the component; the whole kit) is joined instead: the answer is
    that ticket (200, `joined` true), its `occurrences` counted up and the title and detail given
    noted in its history; a new ticket is 201 (`joined` false).
    """
    row, joined = tickets.open_by_hand(
        session, data=data, actor=user.username, now=datetime.now(UTC)
    )
    if joined:
        response.status_code = 200
    shown = _shown(row, lang, state)
    shown.joined = joined
    return shown


@router.post("/{ticket_id}/assign", response_model=TicketPublic, responses=_REFUSED)
def assign(  # noqa: PLR0917 - FastAPI passes what the route declares
    ticket_id: TicketId,
    data: TicketAssign,
    session: SessionDep,
    state: StateDep,
    user: Staff,
    lang: RequestLang,
) -> TicketPublic:
    """Give the ticket to a technician (an open one becomes assigned)."""
    row = tickets.assign(
        session,
        ticket_id=ticket_id,
        assignee=data.assignee,
        actor=user.username,
        now=datetime.now(UTC),
    )
    return _shown(row, lang, state)


@router.post("/{ticket_id}/transition", response_model=TicketPublic, responses=_REFUSED)
def transition(  # noqa: PLR0917 - FastAPI passes what the route declares
    ticket_id: TicketId,
    data: TicketTransition,
    session: SessionDep,
    state: StateDep,
    user: Staff,
    lang: RequestLang,
) -> TicketPublic:
    """Move the ticket: in_progress, waiting, resolved, cancelled (closed: see close)."""
    row = tickets.transition(
        session,
        ticket_id=ticket_id,
        to=data.to,
        note=data.note,
        actor=user.username,
        now=datetime.now(UTC),
    )
    return _shown(row, lang, state)


@router.post("/{ticket_id}/close", response_model=TicketPublic, responses=_REFUSED)
def close(  # noqa: PLR0917 - FastAPI passes what the route declares
    ticket_id: TicketId,
    data: TicketClose,
    session: SessionDep,
    state: StateDep,
    user: Staff,
    lang: RequestLang,
    cipher: Cipher,
) -> TicketPublic:
    """Close a resolved ticket; a replacement swaps the component or kit (contract annex)."""
    row = tickets.close_ticket(
        session,
        ticket_id=ticket_id,
        resolution=data.resolution,
        replacement_serial=data.replacement_serial,
        replacement_kit_id=data.replacement_kit_id,
        actor=user.username,
        now=datetime.now(UTC),
        cipher=cipher,
    )
    return _shown(row, lang, state)
