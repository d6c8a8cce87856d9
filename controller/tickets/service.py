"""Tickets in the database: opened, joined, assigned, moved, closed, breached, settled.

A ticket's life is the pure state machine in `controller.tickets.machine`; this module and its
helpers load a ticket, apply a step, write it back and record it in the ticket's history and in
the audit log. The escalation ladder opens tickets and marks breaches in its own transaction
(`open_ticket`, `repeat`, `mark_breaches`, `settle_incident`, `follow_schedule`); what a member
of staff does through the API (`open_by_hand`, `assign`, `transition`, `close_ticket`) is one
transaction each, committed here, and a refusal leaves the ticket as it was.

- one unfinished ticket per kit, kind and cause: a new event of the same cause joins it
  (`controller.tickets.opening`, `controller.tickets.causes`);
- its due: the pupil's next lesson unless a person gave one, kept current when the schedule
  changes (`controller.tickets.due`, `controller.tickets.settle`);
- a resolved incident settles its tickets (`settle_incident`);
- closing a replacement ticket swaps the component or the kit (`controller.tickets.replacements`:
  the contract gets an annex);
- who to call (`ticket_detail`, `controller.tickets.contact`) and what a person reads, in their
  language and the school's time zone (`controller.tickets.views`).

Nothing personal is stored on a ticket or in its history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.loans import service as loans
from controller.platform.crypto import FieldCipher
from controller.tickets.causes import of_rule as of_rule
from controller.tickets.contact import ticket_detail as ticket_detail
from controller.tickets.errors import TicketsError
from controller.tickets.machine import (
    FINISHED,
    PRIORITY_RANK,
    SETTLED,
    TicketState,
    advance,
    assign_to,
    clean,
    is_breached,
)
from controller.tickets.opening import open_ticket as open_ticket
from controller.tickets.opening import repeat as repeat
from controller.tickets.records import SYSTEM, enum, facts, iso, log, write
from controller.tickets.records import get_ticket as get_ticket
from controller.tickets.records import history as history
from controller.tickets.replacements import annex_reason, replace_component
from controller.tickets.schemas import TicketCreate
from controller.tickets.settle import follow_schedule as follow_schedule
from controller.tickets.settle import settle_incident as settle_incident
from controller.tickets.tables import Ticket
from controller.tickets.views import public as public
from controller.trust import staff


def tickets_for_kit(session: Session, *, kit_id: str, unfinished: bool = False) -> list[Ticket]:
    """A kit's tickets, newest first; only those not closed or cancelled when `unfinished`."""
    query = select(Ticket).where(Ticket.kit_id == kit_id).order_by(Ticket.id.desc())
    if unfinished:
        query = query.where(Ticket.state.not_in([s.value for s in FINISHED]))
    return list(session.scalars(query))


def tickets_of_incident(session: Session, *, kit_id: str, incident_id: int) -> list[Ticket]:
    """The kit's tickets an incident opened or joined (a joined ticket names the newest one)."""
    found = []
    for row in tickets_for_kit(session, kit_id=kit_id):
        joined = row.incident_id == incident_id or any(
            incident_id
            in ((e.detail or {}).get("incident_id"), (e.detail or {}).get("previous_incident_id"))
            for e in history(session, ticket_id=row.id)
            if e.action == "repeated"
        )
        if joined:
            found.append(row)
    return found


def list_tickets(
    session: Session,
    *,
    state: TicketState | None = None,
    kit_id: str | None = None,
    assignee: str | None = None,
    breached: bool | None = None,
    limit: int = 500,
) -> list[Ticket]:
    """Tickets, most urgent first (then oldest), filtered by what is given."""
    query = select(Ticket)
    if state is not None:
        query = query.where(Ticket.state == state.value)
    if kit_id is not None:
        query = query.where(Ticket.kit_id == kit_id)
    if assignee is not None:
        query = query.where(Ticket.assignee == assignee)
    if breached is not None:
        query = query.where(Ticket.sla_breached.is_(breached))
    urgency = case(
        {p.value: rank for p, rank in PRIORITY_RANK.items()}, value=Ticket.priority, else_=9
    )
    return list(session.scalars(query.order_by(urgency, Ticket.id).limit(limit)))


def _open_and_commit(session: Session, data: TicketCreate, actor: str, now: datetime) -> Ticket:
    row = open_ticket(
        session,
        kind=data.kind,
        kit_id=data.kit_id,
        title=data.title,
        detail=data.detail,
        priority=data.priority,
        due_by=data.due_by,
        component_serial=data.component_serial,
        actor=actor,
        now=now,
    )
    session.commit()
    return row


def open_by_hand(
    session: Session, *, data: TicketCreate, actor: str, now: datetime
) -> tuple[Ticket, bool]:
    """Open a ticket by hand (a help request by phone, a fault seen on a visit); committed.

    An unfinished ticket of the same kit, kind and cause is joined instead; one opened by someone
    else at the same moment (the unique index refuses the second) is joined on a second try.
    Returns the ticket and whether it was joined (a report by hand always counts on the ticket it
    joins, so a joined one has more than one occurrence; a new one has one).
    """
    try:
        row = _open_and_commit(session, data, actor, now)
    except IntegrityError:
        session.rollback()
        row = _open_and_commit(session, data, actor, now)
    return row, (row.occurrences or 1) > 1


def _technician(session: Session, username: str) -> str:
    technician = staff.active_technician(session, username)
    if technician is None:
        raise TicketsError("error.not_technician", 422, username=username)
    return technician


def assign(session: Session, *, ticket_id: int, assignee: str, actor: str, now: datetime) -> Ticket:
    """Give a ticket to a technician (by user name); audited, committed."""
    row = get_ticket(session, ticket_id=ticket_id)
    before = facts(row)
    after = assign_to(before, _technician(session, assignee))
    write(row, after, now)
    log(
        session,
        row,
        action="assigned",
        actor=actor,
        now=now,
        before={"state": before.state.value, "assignee": before.assignee},
        after={"state": after.state.value, "assignee": after.assignee},
    )
    session.commit()
    return row


def _breach(session: Session, row: Ticket, now: datetime) -> None:
    row.sla_breached, row.breached_at, row.updated_at = True, now, now
    log(
        session,
        row,
        action="sla_breached",
        actor=SYSTEM,
        now=now,
        before={"sla_breached": False},
        after={"sla_breached": True, "due_by": iso(row.due_by)},
    )


def transition(
    session: Session,
    *,
    ticket_id: int,
    to: TicketState | str,
    note: str | None = None,
    actor: str,
    now: datetime,
) -> Ticket:
    """Move a ticket to another state (closing goes through `close_ticket`); audited, committed."""
    target: TicketState = enum(TicketState, to, "what.ticket_state")
    if target is TicketState.CLOSED:
        return close_ticket(session, ticket_id=ticket_id, resolution=note, actor=actor, now=now)
    row = get_ticket(session, ticket_id=ticket_id)
    before = facts(row)
    after = advance(before, target, note=note)
    late = target is TicketState.RESOLVED and not row.sla_breached
    late = late and is_breached(state=before.state, due_by=row.due_by, now=now)
    write(row, after, now)
    if target is TicketState.RESOLVED:
        row.resolved_at = now
    elif before.state is TicketState.RESOLVED:
        row.resolved_at = None  # reopened
    if target is TicketState.CANCELLED:
        row.closed_at = now
    log(
        session,
        row,
        action=target.value,
        actor=actor,
        now=now,
        before={"state": before.state.value},
        after={"state": after.state.value},
        detail={"note": clean(note)} if clean(note) else None,
    )
    if late:
        _breach(session, row, now)
    session.commit()
    return row


def close_ticket(
    session: Session,
    *,
    ticket_id: int,
    resolution: str | None,
    replacement_serial: str | None = None,
    replacement_kit_id: str | None = None,
    actor: str,
    now: datetime,
    cipher: FieldCipher | None = None,
) -> Ticket:
    """Close a resolved ticket; a replacement ticket swaps the component or the kit first.

    The contract's annex cites the ticket; with `cipher` (the personal-data cipher) its kk and ru
    PDFs are frozen at once, else they are rendered from the annex as kept.

    A component goes through `loans.replace_component_in_transaction` when the kit is on loan
    (inventory moves, the contract gets an annex), or only moves in the inventory when it is not
    lent; a whole kit goes through `loans.replace_kit_in_transaction`. Every step is audited;
    committed.
    """
    row = get_ticket(session, ticket_id=ticket_id)
    before = facts(row)
    after = advance(
        before,
        TicketState.CLOSED,
        note=resolution,
        replacement_serial=clean(replacement_serial),
        replacement_kit_id=clean(replacement_kit_id),
    )
    if after.replacement_serial is not None and row.component_serial is not None:
        replace_component(
            session, row, new_serial=after.replacement_serial, actor=actor, now=now, cipher=cipher
        )
    elif after.replacement_kit_id is not None:
        contract = loans.replace_kit_in_transaction(
            session,
            old_kit_id=row.kit_id,
            new_kit_id=after.replacement_kit_id,
            reason=annex_reason(row),
            actor=actor,
            now=now,
            cipher=cipher,
            ticket=row.id,
        )
        if contract is not None:
            row.contract_number = contract.number
    write(row, after, now)
    row.closed_at = now
    log(
        session,
        row,
        action="closed",
        actor=actor,
        now=now,
        before={"state": before.state.value},
        after={
            "state": after.state.value,
            "replacement_serial": after.replacement_serial,
            "replacement_kit_id": after.replacement_kit_id,
        },
        detail={"note": after.resolution},
    )
    session.commit()
    return row


def mark_breaches(session: Session, *, now: datetime) -> list[Ticket]:
    """Mark every unsettled ticket past its `due_by` as breaching its SLA, once; audited."""
    rows = session.scalars(
        select(Ticket)
        .where(
            Ticket.state.not_in([s.value for s in SETTLED]),
            Ticket.sla_breached.is_(False),
            Ticket.due_by.is_not(None),
            Ticket.due_by < now,
        )
        .order_by(Ticket.id)
    ).all()
    for row in rows:
        _breach(session, row, now)
    return list(rows)
