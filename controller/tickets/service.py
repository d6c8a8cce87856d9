"""Tickets: repair, replacement and help requests for a kit (steps 3 and 4 of the escalation).

    open --assign--> assigned --> in_progress <--> waiting (on the parent, on parts)
    in_progress --> resolved --> closed
    resolved --> in_progress (the fix did not hold)
    open | assigned | in_progress | waiting --> cancelled (with a reason)

The first half of this module is pure (`advance`, `assign_to`, `allowed_targets`, `is_breached`):
plain data in, plain data out, no clock, no database. The second half loads a ticket, applies a
step, writes it back, records it in the ticket's history and in the audit log, in the caller's
transaction (the caller commits). Closing a replacement ticket swaps the component through
`controller.loans.contracts.replace_component` (the contract gets an annex), or swaps the whole kit
under the contract (`_replace_kit`, an annex of the same list).

Nothing personal is stored on a ticket or in its history; who to call is looked up when a member
of staff opens the ticket (`contact`), through `controller.loans.people.guardian_view`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal, NoReturn

from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from controller.errors import ControllerError
from controller.fleet.tables import Kit
from controller.loans import contracts, people
from controller.loans.tables import Component, Guardian, LoanContract
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.tickets.tables import Ticket, TicketEvent
from controller.trust import enrolment as trust
from controller.trust.tables import User

SYSTEM: Final = "system"
"""The actor of what the controller does by itself (an SLA breach)."""

LENT_STATES: Final = ("signed", "active", "return_due")
"""A kit's current contract is one in these states."""


class TicketKind(StrEnum):
    """What the ticket asks for."""

    REPAIR = "repair"
    REPLACEMENT = "replacement"
    HELP_REQUEST = "help_request"


class Priority(StrEnum):
    """How soon; comes from the time left to the pupil's next lesson."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TicketState(StrEnum):
    """Where a ticket is in its life."""

    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


PRIORITY_RANK: Final[Mapping[Priority, int]] = {
    Priority.URGENT: 0,
    Priority.HIGH: 1,
    Priority.NORMAL: 2,
    Priority.LOW: 3,
}
"""Lower is more urgent."""

FINISHED: Final = frozenset({TicketState.CLOSED, TicketState.CANCELLED})
"""States no step leaves; a new ticket for the same incident may then be opened."""

SETTLED: Final = FINISHED | {TicketState.RESOLVED}
"""States in which the SLA clock no longer runs."""

TRANSITIONS: Final[Mapping[TicketState, frozenset[TicketState]]] = {
    TicketState.OPEN: frozenset({TicketState.ASSIGNED, TicketState.CANCELLED}),
    TicketState.ASSIGNED: frozenset({TicketState.IN_PROGRESS, TicketState.CANCELLED}),
    TicketState.IN_PROGRESS: frozenset(
        {TicketState.WAITING, TicketState.RESOLVED, TicketState.CANCELLED}
    ),
    TicketState.WAITING: frozenset({TicketState.IN_PROGRESS, TicketState.CANCELLED}),
    TicketState.RESOLVED: frozenset({TicketState.CLOSED, TicketState.IN_PROGRESS}),
    TicketState.CLOSED: frozenset(),
    TicketState.CANCELLED: frozenset(),
}
"""State -> the states a ticket may go to from it."""

TransitionReason = Literal[
    "not_allowed",
    "bad_detail",
    "missing_assignee",
    "missing_note",
    "missing_resolution",
    "missing_replacement",
]
"""Why a step was refused, for a user interface to translate."""


class TicketsError(ControllerError):
    """A ticket change refused; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        """Keep the status next to the message."""
        super().__init__(message)
        self.status = status


class TicketTransitionError(TicketsError):
    """A step not legal from the ticket's state (409), or its details missing or wrong (422)."""

    def __init__(
        self, state: TicketState, to: TicketState, reason: TransitionReason, message: str
    ) -> None:
        """Keep the state, the target and a machine-readable reason next to the message."""
        super().__init__(message, 409 if reason == "not_allowed" else 422)
        self.state = state
        self.to = to
        self.reason: TransitionReason = reason


# --- the pure state machine --------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as the state machine sees it."""

    state: TicketState
    kind: TicketKind
    kit_id: str
    assignee: str | None = None
    component_serial: str | None = None
    """What a replacement ticket replaces; None: the whole kit."""
    resolution: str | None = None
    replacement_serial: str | None = None
    replacement_kit_id: str | None = None


_WHY_NOT: Final[Mapping[tuple[TicketState, TicketState], str]] = {
    (TicketState.OPEN, TicketState.IN_PROGRESS): "assign it to a technician first",
    (TicketState.OPEN, TicketState.WAITING): "assign it to a technician first",
    (TicketState.OPEN, TicketState.RESOLVED): "assign it to a technician first",
    (TicketState.OPEN, TicketState.CLOSED): "it has not been worked on yet",
    (TicketState.ASSIGNED, TicketState.WAITING): "work on it has not started",
    (TicketState.ASSIGNED, TicketState.RESOLVED): "work on it has not started",
    (TicketState.ASSIGNED, TicketState.CLOSED): "work on it has not started",
    (TicketState.WAITING, TicketState.RESOLVED): "take it back in progress first",
    (TicketState.WAITING, TicketState.CLOSED): "take it back in progress and resolve it first",
    (TicketState.IN_PROGRESS, TicketState.CLOSED): "resolve it first",
    (TicketState.RESOLVED, TicketState.CANCELLED): "it is resolved: close it",
}


def _phrase(state: TicketState) -> str:
    name = state.value.replace("_", " ")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ticket"


def _fail(facts: TicketFacts, to: TicketState, reason: TransitionReason, message: str) -> NoReturn:
    raise TicketTransitionError(facts.state, to, reason, message)


def _text(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def _check_replacement(
    facts: TicketFacts, to: TicketState, serial: str | None, kit_id: str | None
) -> TicketFacts:
    if facts.kind is not TicketKind.REPLACEMENT:
        if serial or kit_id:
            _fail(facts, to, "bad_detail", f"a {facts.kind.value} ticket takes no replacement")
        return facts
    if facts.component_serial is not None:
        if kit_id:
            _fail(
                facts,
                to,
                "bad_detail",
                f"this ticket replaces component {facts.component_serial}, not the whole kit: "
                "give the new component's serial (replacement_serial)",
            )
        if not serial:
            _fail(
                facts,
                to,
                "missing_replacement",
                f"closing a replacement ticket needs the serial of the component that replaces "
                f"{facts.component_serial} (replacement_serial)",
            )
        if serial == facts.component_serial:
            _fail(facts, to, "bad_detail", f"{serial} cannot replace itself")
        return dataclasses.replace(facts, replacement_serial=serial)
    if serial:
        _fail(
            facts,
            to,
            "bad_detail",
            f"this ticket replaces the whole kit {facts.kit_id}: give the new kit's id "
            "(replacement_kit_id), not a component",
        )
    if not kit_id:
        _fail(
            facts,
            to,
            "missing_replacement",
            f"closing a replacement ticket for kit {facts.kit_id} needs the id of the kit that "
            "replaces it (replacement_kit_id)",
        )
    if kit_id == facts.kit_id:
        _fail(facts, to, "bad_detail", f"kit {kit_id} cannot replace itself")
    return dataclasses.replace(facts, replacement_kit_id=kit_id)


def advance(
    facts: TicketFacts,
    to: TicketState,
    *,
    assignee: str | None = None,
    note: str | None = None,
    replacement_serial: str | None = None,
    replacement_kit_id: str | None = None,
) -> TicketFacts:
    """Return the ticket after moving to `to`; TicketTransitionError if illegal or incomplete.

    assigned needs `assignee`; waiting and cancelled need a `note` (on what, why); resolved keeps
    the note as the resolution; closed needs a resolution (the note, or one given when resolved)
    and, for a replacement ticket, the replacement: `replacement_serial` for a component,
    `replacement_kit_id` for a whole kit.
    """
    if to not in TRANSITIONS[facts.state]:
        why = (
            "it is finished"
            if facts.state in FINISHED
            else _WHY_NOT.get((facts.state, to), "that step is not legal from this state")
        )
        _fail(
            facts,
            to,
            "not_allowed",
            f"{_phrase(facts.state)} cannot become {to.value.replace('_', ' ')}: {why}",
        )
    if assignee is not None and to is not TicketState.ASSIGNED:
        _fail(facts, to, "bad_detail", "only assigning takes an assignee")
    if (replacement_serial or replacement_kit_id) and to is not TicketState.CLOSED:
        _fail(facts, to, "bad_detail", "only closing takes a replacement")
    note = _text(note)
    if to is TicketState.ASSIGNED:
        name = _text(assignee)
        if name is None:
            _fail(
                facts,
                to,
                "missing_assignee",
                "assigning needs the technician's user name (assign, not a plain transition)",
            )
        return dataclasses.replace(facts, state=to, assignee=name)
    if to is TicketState.WAITING and note is None:
        _fail(facts, to, "missing_note", "waiting needs a note saying on what (parent, parts)")
    if to is TicketState.CANCELLED:
        if note is None:
            _fail(facts, to, "missing_note", "cancelling needs a reason")
        return dataclasses.replace(facts, state=to, resolution=note)
    if to is TicketState.RESOLVED:
        return dataclasses.replace(facts, state=to, resolution=note or facts.resolution)
    if to is TicketState.IN_PROGRESS and facts.state is TicketState.RESOLVED:
        return dataclasses.replace(facts, state=to, resolution=None)  # reopened
    if to is TicketState.CLOSED:
        resolution = note or facts.resolution
        if resolution is None:
            _fail(facts, to, "missing_resolution", "closing needs a resolution: what was done")
        replaced = _check_replacement(facts, to, replacement_serial, replacement_kit_id)
        return dataclasses.replace(replaced, state=to, resolution=resolution)
    return dataclasses.replace(facts, state=to)


def assign_to(facts: TicketFacts, assignee: str) -> TicketFacts:
    """Give the ticket to a technician: an open one becomes assigned; one in work changes hands."""
    if facts.state is TicketState.OPEN:
        return advance(facts, TicketState.ASSIGNED, assignee=assignee)
    if facts.state not in (TicketState.ASSIGNED, TicketState.IN_PROGRESS, TicketState.WAITING):
        why = "it is finished" if facts.state in FINISHED else "it is resolved: reopen it first"
        _fail(facts, TicketState.ASSIGNED, "not_allowed", f"{_phrase(facts.state)} {why}")
    name = _text(assignee)
    if name is None:
        _fail(facts, facts.state, "missing_assignee", "assigning needs the technician's user name")
    return dataclasses.replace(facts, assignee=name)


def allowed_targets(state: TicketState) -> list[TicketState]:
    """List the states a ticket may go to from `state` (their details are not checked)."""
    return [s for s in TicketState if s in TRANSITIONS[state]]


def more_urgent(a: Priority, b: Priority) -> Priority:
    """The more urgent of two priorities."""
    return a if PRIORITY_RANK[a] <= PRIORITY_RANK[b] else b


def is_breached(*, state: TicketState, due_by: datetime | None, now: datetime) -> bool:
    """Tell whether a ticket still being worked on is past its deadline."""
    return state not in SETTLED and due_by is not None and now > due_by


# --- tickets in the database -------------------------------------------------------------------


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


def current_contract(session: Session, *, kit_id: str) -> LoanContract | None:
    """The kit's current contract: signed, active or due for return."""
    return session.scalar(
        select(LoanContract)
        .where(LoanContract.kit_id == kit_id, LoanContract.state.in_(LENT_STATES))
        .order_by(LoanContract.id.desc())
        .limit(1)
    )


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
    text = _text(title)
    if text is None or len(text) > 200:
        raise TicketsError("a ticket needs a title of 1-200 characters", 422)
    if incident_id is not None:
        existing = _unfinished_for_incident(session, incident_id, kind_)
        if existing is not None:
            return _escalate(
                session, existing, priority=priority_, due_by=due_by, actor=actor, now=now
            )
    if session.get(Kit, kit_id) is None:
        raise TicketsError(f"no kit {kit_id!r}", 404)
    if component_serial is not None:
        part = session.scalar(select(Component).where(Component.serial == component_serial))
        if part is None or part.kit_id != kit_id:
            raise TicketsError(f"{component_serial} is not a component of kit {kit_id}", 422)
    contract = current_contract(session, kit_id=kit_id)
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


def _technician(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.disabled or user.role != "technician":
        raise TicketsError(f"{username!r} is not a technician who can take tickets", 422)
    return user.username


def assign(session: Session, *, ticket_id: int, assignee: str, actor: str, now: datetime) -> Ticket:
    """Give a ticket to a technician (by user name); audited."""
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
    """Move a ticket to another state (closing goes through `close_ticket`); audited."""
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
        detail={"note": _text(note)} if _text(note) else None,
    )
    if late:
        _breach(session, row, now)
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

    A component goes through `contracts.replace_component` when the kit is on loan (inventory
    moves, the contract gets an annex), or only moves in the inventory when it is not lent; a
    whole kit goes through `_replace_kit`. Every step is audited; anything refused leaves the
    ticket as it was (the caller rolls back).
    """
    row = get_ticket(session, ticket_id=ticket_id)
    before = _facts(row)
    after = advance(
        before,
        TicketState.CLOSED,
        note=resolution,
        replacement_serial=_text(replacement_serial),
        replacement_kit_id=_text(replacement_kit_id),
    )
    if after.replacement_serial is not None and row.component_serial is not None:
        _replace_component(session, row, new_serial=after.replacement_serial, actor=actor, now=now)
    elif after.replacement_kit_id is not None:
        _replace_kit(session, row, new_kit_id=after.replacement_kit_id, actor=actor, now=now)
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
    new = session.scalar(select(Component).where(Component.serial == new_serial))
    old = session.scalar(select(Component).where(Component.serial == old_serial))
    if new is None:
        raise TicketsError(f"no component {new_serial!r}", 404)
    if old is not None and new.kind != old.kind:
        raise TicketsError(f"{new_serial} is a {new.kind}: it cannot replace a {old.kind}", 422)
    contract = current_contract(session, kit_id=row.kit_id)
    try:
        if contract is not None:
            data = contracts.ReplacementIn(
                old_serial=old_serial, new_serial=new_serial, reason=_annex_reason(row)
            )
            contracts.replace_component(
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
            (new_serial, contracts.ComponentChange(kit_id=row.kit_id)),
            (old_serial, contracts.ComponentChange(kit_id=None, condition="faulty")),
        ):
            contracts.change_component(session, serial=serial, change=change, actor=actor, now=now)
    except contracts.ContractsError as exc:
        raise TicketsError(f"the replacement cannot be made: {exc}", exc.status) from exc
    except ValidationError as exc:
        raise TicketsError(f"the replacement cannot be made: {exc}", 422) from exc


def _replace_kit(
    session: Session, row: Ticket, *, new_kit_id: str, actor: str, now: datetime
) -> None:
    """Swap the whole kit: the contract moves to the new kit with an annex; the old one is repaired.

    `controller.loans.contracts` swaps components only, so the kit-level annex is written here, in
    the same list and shape as a component's (number, at, reason) with `old_kit_id` / `new_kit_id`.
    """
    new_kit = session.get(Kit, new_kit_id)
    if new_kit is None:
        raise TicketsError(f"no kit {new_kit_id!r}", 404)
    if new_kit.lifecycle != "active":
        raise TicketsError(
            f"kit {new_kit_id} is {new_kit.lifecycle}: only an active kit can go out "
            "(a returned kit is enrolled again first)"
        )
    lent = session.scalar(
        select(LoanContract.number).where(
            LoanContract.kit_id == new_kit_id, LoanContract.state.in_(contracts.OPEN_STATES)
        )
    )
    if lent:
        raise TicketsError(f"kit {new_kit_id} is already lent under contract {lent}")
    parts = session.scalars(
        select(Component).where(Component.kit_id == new_kit_id).order_by(Component.serial)
    ).all()
    if not parts:
        raise TicketsError(f"kit {new_kit_id} has no components recorded", 422)
    contract = current_contract(session, kit_id=row.kit_id)
    if contract is not None:
        if contract.state not in ("active", "return_due"):
            raise TicketsError(
                f"contract {contract.number} is {contract.state}: "
                "only a kit on loan is replaced under its contract"
            )
        annex = {
            "number": str(len(contract.annexes) + 1),
            "at": now.isoformat(),
            "old_kit_id": row.kit_id,
            "new_kit_id": new_kit_id,
            "reason": _annex_reason(row),
        }
        before = {
            "kit_id": contract.kit_id,
            "components": [c["serial"] for c in contract.components],
        }
        contract.kit_id = new_kit_id
        contract.components = [
            {"serial": c.serial, "kind": c.kind, "model": c.model, "condition": c.condition}
            for c in parts
        ]
        contract.annexes = [*contract.annexes, annex]
        audit.record(
            session,
            actor=actor,
            action="contract_annex",
            entity="contract",
            entity_id=contract.number,
            now=now,
            before=before,
            after=annex,
        )
        row.contract_number = contract.number
    old_kit = session.get(Kit, row.kit_id)
    if old_kit is not None and old_kit.lifecycle == "active":
        trust.set_lifecycle(session, kit_id=row.kit_id, lifecycle="in_repair", now=now, actor=actor)


# --- who to call -------------------------------------------------------------------------------

CONTACT_FIELDS: Final = ("ref", "pupil_ref", "relation", "name", "phone")
"""What a ticket shows of the guardian: never the IIN or the address."""


def contact(
    session: Session, *, ticket: Ticket, cipher: FieldCipher, role: str
) -> dict[str, Any] | None:
    """Who to call about the ticket: the guardian who signed the kit's contract, phone included.

    The contract is the kit's current one, else the one the ticket recorded; the guardian is read
    through `people.guardian_view` for `role` and cut down to CONTACT_FIELDS plus the contract's
    number, so no ticket view carries an IIN or an address whatever the role.
    """
    contract = current_contract(session, kit_id=ticket.kit_id)
    if contract is None and ticket.contract_number is not None:
        contract = session.scalar(
            select(LoanContract).where(LoanContract.number == ticket.contract_number)
        )
    if contract is None:
        return None
    guardian = session.scalar(select(Guardian).where(Guardian.ref == contract.guardian_ref))
    if guardian is None:
        return None
    view = people.guardian_view(guardian, contract.pupil_ref, cipher, role)
    return {"contract_number": contract.number} | {k: view[k] for k in CONTACT_FIELDS}
