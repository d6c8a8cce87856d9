"""Tickets in the database: opened, assigned, moved, closed, breached; who to call about one.

A ticket's life is the pure state machine in `controller.tickets.machine`; this module loads a
ticket, applies a step, writes it back and records it in the ticket's history and in the audit
log. The escalation ladder opens tickets and marks breaches in its own transaction
(`open_ticket`, `mark_breaches`); what a member of staff does through the API (`open_by_hand`,
`assign`, `transition`, `close_ticket`) is one transaction each, committed here, and a refusal
leaves the ticket as it was. Closing a replacement ticket swaps the component or the whole kit
through the loans domain (`controller.loans.service.replace_component_in_transaction` /
`replace_kit_in_transaction`: the contract gets an annex), or only moves the inventory when the
kit is not lent.

Nothing personal is stored on a ticket or in its history; who to call is looked up when a member
of staff opens the ticket (`ticket_detail`), through `controller.loans.service.guardian_contact`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.fleet import queries as fleet
from controller.loans import service as loans
from controller.loans.errors import ContractsError
from controller.loans.schemas import ComponentUpdate, ReplacementCreate
from controller.platform import audit
from controller.tickets.errors import TicketsError
from controller.tickets.machine import (
    FINISHED,
    PRIORITY_RANK,
    SETTLED,
    TicketFacts,
    TicketKind,
    TicketState,
    advance,
    assign_to,
    clean,
    is_breached,
    more_urgent,
)
from controller.tickets.schemas import (
    ContactPublic,
    TicketCreate,
    TicketDetail,
    TicketEventPublic,
    TicketPublic,
)
from controller.tickets.tables import Ticket, TicketEvent
from controller.trust import staff
from policy.ladder import Priority

SYSTEM: Final = "system"
"""The actor of what the controller does by itself (an SLA breach)."""


def _facts(row: Ticket) -> TicketFacts:
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


def _write(row: Ticket, facts: TicketFacts, now: datetime) -> None:
    row.state = facts.state.value
    row.assignee = facts.assignee
    row.resolution = facts.resolution
    row.replacement_serial = facts.replacement_serial
    row.replacement_kit_id = facts.replacement_kit_id
    row.updated_at = now


def _log(
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


def _enum(kind: type[StrEnum], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise TicketsError(f"unknown {what} {value!r}: one of {choices}", 422) from None


def get_ticket(session: Session, *, ticket_id: int) -> Ticket:
    """One ticket by id (TicketsError 404 when there is none)."""
    row = session.get(Ticket, ticket_id)
    if row is None:
        raise TicketsError(f"no ticket {ticket_id}", 404)
    return row


def tickets_for_kit(session: Session, *, kit_id: str, unfinished: bool = False) -> list[Ticket]:
    """A kit's tickets, newest first; only those not closed or cancelled when `unfinished`."""
    query = select(Ticket).where(Ticket.kit_id == kit_id).order_by(Ticket.id.desc())
    if unfinished:
        query = query.where(Ticket.state.not_in([s.value for s in FINISHED]))
    return list(session.scalars(query))


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


def history(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    """The ticket's history, oldest first."""
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


def _unfinished_for_incident(session: Session, incident_id: int, kind: TicketKind) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(
            Ticket.incident_id == incident_id,
            Ticket.kind == kind.value,
            Ticket.state.not_in([s.value for s in FINISHED]),
        )
    )


def _escalate(
    session: Session,
    row: Ticket,
    *,
    priority: Priority,
    due_by: datetime | None,
    actor: str,
    now: datetime,
) -> Ticket:
    """The same incident again: keep the ticket, raise its priority and bring its deadline in."""
    new_priority = more_urgent(Priority(row.priority), priority)
    new_due = row.due_by if due_by is None or (row.due_by and row.due_by <= due_by) else due_by
    if new_priority.value == row.priority and new_due == row.due_by:
        return row
    before = {"priority": row.priority, "due_by": _iso(row.due_by)}
    row.priority, row.due_by, row.updated_at = new_priority.value, new_due, now
    _log(
        session,
        row,
        action="escalated",
        actor=actor,
        now=now,
        before=before,
        after={"priority": row.priority, "due_by": _iso(row.due_by)},
    )
    return row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def open_ticket(
    session: Session,
    *,
    kind: TicketKind | str,
    kit_id: str,
    title: str,
    detail: str,
    priority: Priority | str,
    due_by: datetime | None,
    incident_id: int | None = None,
    component_serial: str | None = None,
    actor: str,
    now: datetime,
) -> Ticket:
    """Open a ticket for a kit; idempotent per (incident_id, kind) while that one is unfinished.

    For an incident that already has an unfinished ticket of this kind, that ticket is returned,
    its priority raised and its deadline brought in if the new ones are more pressing. `due_by`
    (aware UTC) is the pupil's next lesson; the kit's current contract is recorded. A replacement
    ticket replaces `component_serial`, or the whole kit when it is None. Two callers racing on
    one incident cannot both insert: a partial unique index refuses the second at flush.
    """
    kind_: TicketKind = _enum(TicketKind, kind, "ticket kind")
    priority_: Priority = _enum(Priority, priority, "priority")
    if due_by is not None:
        if due_by.utcoffset() is None:
            raise TicketsError("due_by must be timezone-aware (UTC)", 422)
        due_by = due_by.astimezone(UTC)
    text = clean(title)
    if text is None or len(text) > 200:
        raise TicketsError("a ticket needs a title of 1-200 characters", 422)
    if incident_id is not None:
        existing = _unfinished_for_incident(session, incident_id, kind_)
        if existing is not None:
            return _escalate(
                session, existing, priority=priority_, due_by=due_by, actor=actor, now=now
            )
    if fleet.get_kit(session, kit_id=kit_id) is None:
        raise TicketsError(f"no kit {kit_id!r}", 404)
    if component_serial is not None:
        part = loans.find_component(session, serial=component_serial)
        if part is None or part.kit_id != kit_id:
            raise TicketsError(f"{component_serial} is not a component of kit {kit_id}", 422)
    contract = loans.current_contract(session, kit_id=kit_id)
    row = Ticket(
        kind=kind_.value,
        priority=priority_.value,
        state=TicketState.OPEN.value,
        title=text,
        detail=detail.strip(),
        kit_id=kit_id,
        contract_number=contract.number if contract is not None else None,
        incident_id=incident_id,
        component_serial=component_serial,
        due_by=due_by,
        opened_by=actor,
        created_at=now,
        updated_at=now,
        sla_breached=False,
    )
    session.add(row)
    session.flush()
    _log(
        session,
        row,
        action="opened",
        actor=actor,
        now=now,
        after={
            "state": row.state,
            "kind": row.kind,
            "priority": row.priority,
            "kit_id": kit_id,
            "contract": row.contract_number,
            "incident_id": incident_id,
            "component_serial": component_serial,
            "due_by": _iso(due_by),
        },
    )
    return row


def repeat(
    session: Session,
    row: Ticket,
    *,
    note: str,
    priority: Priority | str,
    due_by: datetime | None,
    actor: str,
    now: datetime,
) -> Ticket:
    """Asked again: counted, noted in its history (not audited), priority and deadline raised."""
    row.occurrences, row.updated_at = (row.occurrences or 1) + 1, now
    detail = {"note": clean(note[:500]) or "", "occurrences": row.occurrences}
    session.add(
        TicketEvent(ticket_id=row.id, at=now, actor=actor, action="repeated", detail=detail)
    )
    due = due_by.astimezone(UTC) if due_by is not None else None
    urgency = _enum(Priority, priority, "priority")
    return _escalate(session, row, priority=urgency, due_by=due, actor=actor, now=now)


def open_by_hand(session: Session, *, data: TicketCreate, actor: str, now: datetime) -> Ticket:
    """Open a ticket by hand (a help request by phone, a fault seen on a visit); committed."""
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


def _technician(session: Session, username: str) -> str:
    technician = staff.active_technician(session, username)
    if technician is None:
        raise TicketsError(f"{username!r} is not a technician who can take tickets", 422)
    return technician


def assign(session: Session, *, ticket_id: int, assignee: str, actor: str, now: datetime) -> Ticket:
    """Give a ticket to a technician (by user name); audited, committed."""
    row = get_ticket(session, ticket_id=ticket_id)
    before = _facts(row)
    after = assign_to(before, _technician(session, assignee))
    _write(row, after, now)
    _log(
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
    _log(
        session,
        row,
        action="sla_breached",
        actor=SYSTEM,
        now=now,
        before={"sla_breached": False},
        after={"sla_breached": True, "due_by": _iso(row.due_by)},
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
    target: TicketState = _enum(TicketState, to, "ticket state")
    if target is TicketState.CLOSED:
        return close_ticket(session, ticket_id=ticket_id, resolution=note, actor=actor, now=now)
    row = get_ticket(session, ticket_id=ticket_id)
    before = _facts(row)
    after = advance(before, target, note=note)
    late = target is TicketState.RESOLVED and not row.sla_breached
    late = late and is_breached(state=before.state, due_by=row.due_by, now=now)
    _write(row, after, now)
    if target is TicketState.RESOLVED:
        row.resolved_at = now
    elif before.state is TicketState.RESOLVED:
        row.resolved_at = None  # reopened
    if target is TicketState.CANCELLED:
        row.closed_at = now
    _log(
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
) -> Ticket:
    """Close a resolved ticket; a replacement ticket swaps the component or the kit first.

    A component goes through `loans.replace_component_in_transaction` when the kit is on loan
    (inventory moves, the contract gets an annex), or only moves in the inventory when it is not
    lent; a whole kit goes through `loans.replace_kit_in_transaction`. Every step is audited;
    committed.
    """
    row = get_ticket(session, ticket_id=ticket_id)
    before = _facts(row)
    after = advance(
        before,
        TicketState.CLOSED,
        note=resolution,
        replacement_serial=clean(replacement_serial),
        replacement_kit_id=clean(replacement_kit_id),
    )
    if after.replacement_serial is not None and row.component_serial is not None:
        _replace_component(session, row, new_serial=after.replacement_serial, actor=actor, now=now)
    elif after.replacement_kit_id is not None:
        contract = loans.replace_kit_in_transaction(
            session,
            old_kit_id=row.kit_id,
            new_kit_id=after.replacement_kit_id,
            reason=_annex_reason(row),
            actor=actor,
            now=now,
        )
        if contract is not None:
            row.contract_number = contract.number
    _write(row, after, now)
    row.closed_at = now
    _log(
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


# --- replacements ------------------------------------------------------------------------------


def _annex_reason(row: Ticket) -> str:
    return f"ticket {row.id}: {row.title}"[:500]


def _replace_component(
    session: Session, row: Ticket, *, new_serial: str, actor: str, now: datetime
) -> None:
    """Swap the ticket's component for `new_serial` from spare stock (old one: stock, faulty)."""
    old_serial = row.component_serial
    if old_serial is None:
        raise TicketsError(f"ticket {row.id} replaces the whole kit, not a component")
    new = loans.find_component(session, serial=new_serial)
    old = loans.find_component(session, serial=old_serial)
    if new is None:
        raise TicketsError(f"no component {new_serial!r}", 404)
    if old is not None and new.kind != old.kind:
        raise TicketsError(f"{new_serial} is a {new.kind}: it cannot replace a {old.kind}", 422)
    contract = loans.current_contract(session, kit_id=row.kit_id)
    try:
        if contract is not None:
            data = ReplacementCreate(
                old_serial=old_serial, new_serial=new_serial, reason=_annex_reason(row)
            )
            loans.replace_component_in_transaction(
                session, number=contract.number, data=data, actor=actor, now=now
            )
            row.contract_number = contract.number
            return
        # Not lent: no contract to annex, only the inventory moves (each move audited).
        if new.kit_id is not None:
            raise TicketsError(f"{new_serial} belongs to kit {new.kit_id}, not to spare stock")
        if old is None or old.kit_id != row.kit_id:
            raise TicketsError(f"{old_serial} is no longer in kit {row.kit_id}")
        for serial, change in (
            (new_serial, ComponentUpdate(kit_id=row.kit_id)),
            (old_serial, ComponentUpdate(kit_id=None, condition="faulty")),
        ):
            loans.change_component_in_transaction(
                session, serial=serial, change=change, actor=actor, now=now
            )
    except ContractsError as exc:
        raise TicketsError(f"the replacement cannot be made: {exc}", exc.status) from exc
    except ValidationError as exc:
        raise TicketsError(f"the replacement cannot be made: {exc}", 422) from exc


# --- who to call -------------------------------------------------------------------------------


def ticket_detail(
    session: Session, *, ticket_id: int, settings: ControllerSettings, role: str
) -> TicketDetail:
    """One ticket, its history, and the guardian's phone with the contract number.

    The contact is the guardian who signed the kit's contract (its current one, else the one the
    ticket recorded), as `role` may see them and cut down to name, relation and phone; without
    the keys of personal data, or a contract, `contact_note` says why there is none.
    """
    row = get_ticket(session, ticket_id=ticket_id)
    detail = TicketDetail.model_validate(TicketPublic.model_validate(row).model_dump())
    detail.history = [
        TicketEventPublic.model_validate(e) for e in history(session, ticket_id=ticket_id)
    ]
    try:
        cipher = loans.cipher(settings)
    except ConfigError as exc:
        detail.contact_note = str(exc)
        return detail
    found = loans.guardian_contact(
        session,
        kit_id=row.kit_id,
        contract_number=row.contract_number,
        cipher=cipher,
        role=role,
    )
    if found is None:
        detail.contact_note = "the kit is not lent under a contract"
    else:
        detail.contact = ContactPublic.model_validate(found)
        detail.contract_number = detail.contract_number or found["contract_number"]
    return detail
