"""Opening a ticket, or joining the one already open for the same kit, kind and cause.

One unfinished ticket per kit, kind and cause (`controller.tickets.causes`; a partial unique index
guards it against two callers at once): a new event of the same cause (another incident of the
same fault, a help request again) joins it: counted (`occurrences`), noted in its history, its
priority raised and its due brought in when the new ones are more pressing; one resolved is taken
up again. A ticket opened without a due is due by the pupil's next lesson (`controller.tickets.
due`). Nothing here commits: the ladder opens tickets in its own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet import queries as fleet
from controller.loans import service as loans
from controller.tickets import due
from controller.tickets.causes import cause_of
from controller.tickets.errors import TicketsError
from controller.tickets.machine import FINISHED, TicketKind, TicketState, clean, more_urgent
from controller.tickets.records import enum, iso, log, note
from controller.tickets.tables import Ticket
from policy.ladder import Priority


def unfinished_for_cause(
    session: Session, *, kit_id: str, kind: TicketKind, cause: str
) -> Ticket | None:
    """The kit's unfinished ticket of this kind and cause, if any."""
    return session.scalar(
        select(Ticket).where(
            Ticket.kit_id == kit_id,
            Ticket.kind == kind.value,
            Ticket.cause == cause,
            Ticket.state.not_in([s.value for s in FINISHED]),
        )
    )


def escalate(
    session: Session,
    row: Ticket,
    *,
    priority: Priority,
    due_by: tuple[datetime, due.DueSource] | None,
    actor: str,
    now: datetime,
) -> Ticket:
    """Raise the ticket's priority and bring its due in, if the new ones are more pressing."""
    new_priority = more_urgent(Priority(row.priority), priority)
    new_due, new_source = row.due_by, row.due_source
    if due_by is not None and (row.due_by is None or due_by[0] < row.due_by):
        new_due, new_source = due_by[0], due_by[1].value
    if new_priority.value == row.priority and new_due == row.due_by:
        return row
    before = {"priority": row.priority, "due_by": iso(row.due_by), "due_source": row.due_source}
    row.priority, row.due_by, row.due_source = new_priority.value, new_due, new_source
    row.updated_at = now
    after = {"priority": row.priority, "due_by": iso(row.due_by), "due_source": row.due_source}
    log(session, row, action="escalated", actor=actor, now=now, before=before, after=after)
    return row


def _take_up_again(session: Session, row: Ticket, *, actor: str, now: datetime) -> None:
    """A resolved ticket whose cause came back: in progress again (open, if nobody has it)."""
    to = TicketState.IN_PROGRESS if row.assignee else TicketState.OPEN
    row.state, row.resolved_at, row.resolution, row.updated_at = to.value, None, None, now
    log(
        session,
        row,
        action="reopened",
        actor=actor,
        now=now,
        before={"state": TicketState.RESOLVED.value},
        after={"state": to.value},
        detail={"key": "note.reopened", "params": {}},
    )


def join(
    session: Session,
    row: Ticket,
    *,
    priority: Priority,
    due_by: tuple[datetime, due.DueSource] | None,
    incident_id: int | None = None,
    message: str | None = None,
    title: str | None = None,
    actor: str,
    now: datetime,
) -> Ticket:
    """A new event of the ticket's cause: counted and noted, priority and due raised.

    The same incident again (the ladder deciding again) is not a new event: only the priority and
    the due may rise. Another incident becomes the ticket's incident (the one to settle it). A
    person's `title` for the new report is noted with its `message` (the ticket keeps its own).
    """
    if incident_id is None or incident_id != row.incident_id:
        if row.state == TicketState.RESOLVED.value:
            _take_up_again(session, row, actor=actor, now=now)
        row.occurrences, row.updated_at = (row.occurrences or 1) + 1, now
        detail: dict[str, Any] = {"occurrences": row.occurrences}
        if incident_id is not None:
            detail |= {"key": "note.joined", "params": {"incident": incident_id}}
            detail["params"]["count"] = row.occurrences
            detail["incident_id"], detail["previous_incident_id"] = incident_id, row.incident_id
            row.incident_id = incident_id
        else:
            detail |= {"key": "note.asked_again", "params": {"count": row.occurrences}}
        said = [t for t in (clean(title), clean(message)) if t]
        if said:
            detail["note"] = ": ".join(said)[:500]
        if clean(title):
            detail["title"] = clean(title)
        note(session, row, action="repeated", actor=actor, now=now, **detail)
    return escalate(session, row, priority=priority, due_by=due_by, actor=actor, now=now)


def _check_target(session: Session, kit_id: str, component_serial: str | None) -> None:
    if fleet.get_kit(session, kit_id=kit_id) is None:
        raise TicketsError("error.no_kit", 404, kit_id=kit_id)
    if component_serial is not None:
        part = loans.find_component(session, serial=component_serial)
        if part is None or part.kit_id != kit_id:
            raise TicketsError("error.not_a_component", 422, serial=component_serial, kit_id=kit_id)


def open_ticket(
    session: Session,
    *,
    kind: TicketKind | str,
    kit_id: str,
    title: str,
    detail: str,
    priority: Priority | str,
    due_by: datetime | None = None,
    lesson_due: datetime | None = None,
    incident_id: int | None = None,
    component_serial: str | None = None,
    cause: str | None = None,
    title_key: str | None = None,
    title_params: dict[str, Any] | None = None,
    actor: str,
    now: datetime,
) -> Ticket:
    """Open a ticket for a kit, or join the unfinished one of the same kind and cause.

    `due_by` is a due a person gave (aware); `lesson_due` the pupil's next lesson as the ladder
    found it; with neither, the due is worked out from the kit's schedule (else the default
    time). `cause` defaults to `causes.cause_of` (help, the component, the kit); `title_key` and
    `title_params` name a catalogue title (common/locale/*/tickets.toml) for titles the system
    writes, `title` being its English text. The kit's current contract is recorded. A replacement
    ticket replaces `component_serial`, or the whole kit when it is None.
    """
    kind_: TicketKind = enum(TicketKind, kind, "what.ticket_kind")
    priority_: Priority = enum(Priority, priority, "what.priority")
    text = clean(title)
    if text is None or len(text) > 200:
        raise TicketsError("error.title", 422)
    cause_ = cause or cause_of(kind_, component_serial=component_serial)
    when = due.decide(session, kit_id=kit_id, given=due_by, lesson=lesson_due, now=now)
    existing = unfinished_for_cause(session, kit_id=kit_id, kind=kind_, cause=cause_)
    if existing is not None:
        return join(
            session,
            existing,
            priority=priority_,
            due_by=when,
            incident_id=incident_id,
            message=detail,
            title=text if title_key is None else None,
            actor=actor,
            now=now,
        )
    _check_target(session, kit_id, component_serial)
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
        cause=cause_,
        due_by=when[0],
        due_source=when[1].value,
        title_key=title_key,
        title_params=title_params,
        opened_by=actor,
        created_at=now,
        updated_at=now,
        sla_breached=False,
    )
    session.add(row)
    session.flush()
    _log_opened(session, row, actor=actor, now=now)
    return row


def _log_opened(session: Session, row: Ticket, *, actor: str, now: datetime) -> None:
    log(
        session,
        row,
        action="opened",
        actor=actor,
        now=now,
        after={
            "state": row.state,
            "kind": row.kind,
            "priority": row.priority,
            "kit_id": row.kit_id,
            "contract": row.contract_number,
            "incident_id": row.incident_id,
            "component_serial": row.component_serial,
            "cause": row.cause,
            "due_by": iso(row.due_by),
            "due_source": row.due_source,
        },
    )


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
    """Asked again (a kit's help request): counted, noted, priority and due raised."""
    urgency: Priority = enum(Priority, priority, "what.priority")
    when = (due.aware_utc(due_by), due.DueSource.LESSON) if due_by is not None else None
    return join(session, row, priority=urgency, due_by=when, message=note, actor=actor, now=now)
