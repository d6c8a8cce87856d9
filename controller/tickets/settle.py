"""Tickets following what happens elsewhere: an incident closed, a pupil's schedule changed.

- `settle_incident`: the incident a ticket was opened for is resolved (by the ladder, or by hand):
  a repair or help ticket is resolved with a note; a replacement not yet carried out (open or
  assigned) is cancelled with the reason; one in progress or waiting is left to its technician,
  with a note to check whether it is still needed.
- `follow_schedule`: the kit's schedule changed: the due of each unfinished ticket that came from
  a lesson (or the default time) is worked out again as of the time the ticket was opened (the
  first lesson from then on in the new schedule; one already past means the ticket is late), so a
  due never drifts forward with each publish; a due a person gave is kept.

Each step is in the ticket's history (a catalogue key, shown in the reader's language) and the
audit log. Nothing here commits: the caller's transaction does.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.i18n import catalogue
from controller.platform.localtime import clock
from controller.tickets import due
from controller.tickets.machine import FINISHED, SETTLED, TicketKind, TicketState
from controller.tickets.records import SYSTEM, iso, log, note
from controller.tickets.tables import Ticket


def _unfinished(session: Session, **where: object) -> list[Ticket]:
    query = select(Ticket).where(Ticket.state.not_in([s.value for s in FINISHED]))
    for column, value in where.items():
        query = query.where(getattr(Ticket, column) == value)
    return list(session.scalars(query.order_by(Ticket.id)))


def _end(
    session: Session, row: Ticket, to: TicketState, key: str, *, actor: str, now: datetime
) -> None:
    params = {"incident": row.incident_id}
    before = row.state
    resolution = catalogue("tickets").text(key, "en", **params)  # the history keeps the key
    row.state, row.resolution, row.updated_at = to.value, resolution, now
    if to is TicketState.RESOLVED:
        row.resolved_at = now
    else:
        row.closed_at = now
    log(
        session,
        row,
        action=to.value,
        actor=actor,
        now=now,
        before={"state": before},
        after={"state": to.value},
        detail={"key": key, "params": params, "note": row.resolution},
    )


def settle_incident(
    session: Session, *, incident_id: int, actor: str, now: datetime
) -> list[Ticket]:
    """Settle the unfinished tickets of a resolved incident (see the module docstring)."""
    touched = []
    for row in _unfinished(session, incident_id=incident_id):
        state = TicketState(row.state)
        if state is TicketState.RESOLVED:
            continue
        if row.kind != TicketKind.REPLACEMENT.value:
            _end(session, row, TicketState.RESOLVED, "note.repair_settled", actor=actor, now=now)
        elif state in (TicketState.OPEN, TicketState.ASSIGNED):
            key = "note.replacement_cancelled"
            _end(session, row, TicketState.CANCELLED, key, actor=actor, now=now)
        else:
            row.updated_at = now
            note(
                session,
                row,
                action="noted",
                actor=actor,
                now=now,
                key="note.replacement_in_progress",
                params={"incident": incident_id},
            )
        touched.append(row)
    return touched


def follow_schedule(
    session: Session, *, kit_id: str, zone: ZoneInfo, now: datetime
) -> list[Ticket]:
    """Move the due of the kit's unsettled tickets that came from its schedule (see above)."""
    moved = []
    for row in _unfinished(session, kit_id=kit_id):
        if row.state in {s.value for s in SETTLED} or row.sla_breached:
            continue
        if row.due_source not in due.FOLLOWS_SCHEDULE:
            continue
        new, source = due.from_lessons(session, kit_id, row.created_at)
        if new == row.due_by and source.value == row.due_source:
            continue
        before = {"due_by": iso(row.due_by), "due_source": row.due_source}
        row.due_by, row.due_source, row.updated_at = new, source.value, now
        log(
            session,
            row,
            action="due_moved",
            actor=SYSTEM,
            now=now,
            before=before,
            after={"due_by": iso(new), "due_source": source.value},
            detail={"key": "note.due_moved", "params": {"due": clock(new, zone)}},
        )
        moved.append(row)
    return moved
