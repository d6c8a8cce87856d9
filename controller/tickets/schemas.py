"""What the HTTP API takes and answers about tickets: one family per resource.

- a ticket: `TicketCreate` (opened by hand), `TicketAssign`, `TicketTransition`, `TicketClose`
  (the steps of its life), `TicketPublic` (with the steps legal from its state), `TicketDetail`
  (with its history and who to call);
- its history: `TicketEventPublic`; who to call: `ContactPublic` (no IIN, no address).

Nothing personal is stored on a ticket; the contact is looked up when a ticket is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.tickets.machine import TicketKind, TicketState, allowed_targets
from policy.ladder import Priority
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import BoundedAwareDatetime


class TicketCreate(BaseModel):
    """A ticket opened by hand, e.g. a parent's call for help."""

    model_config = ConfigDict(extra="forbid")

    kind: TicketKind
    kit_id: str = Field(pattern=KIT_ID_PATTERN)
    title: str = Field(min_length=3, max_length=200)
    detail: str = Field(default="", max_length=4000)
    priority: Priority = Priority.NORMAL
    due_by: BoundedAwareDatetime | None = Field(
        default=None,
        description="when it must be done, with its zone; default: the start of the pupil's "
        "next lesson (kept current when the schedule changes), else two days",
    )
    component_serial: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the component concerned; a replacement ticket without one replaces the kit",
    )


class TicketAssign(BaseModel):
    """Who takes the ticket."""

    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="a technician's user name")


class TicketTransition(BaseModel):
    """A step of the ticket's life; waiting and cancelled need a note."""

    model_config = ConfigDict(extra="forbid")

    to: TicketState
    note: str | None = Field(default=None, max_length=2000)


class TicketClose(BaseModel):
    """Closing: what was done and, for a replacement ticket, what replaced what."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=3, max_length=2000)
    replacement_serial: str | None = Field(default=None, min_length=1, max_length=64)
    replacement_kit_id: str | None = Field(default=None, pattern=KIT_ID_PATTERN)


class TicketPublic(BaseModel):
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
    due_by: datetime | None = Field(description="when it must be done (UTC)")
    due_source: str | None = Field(
        default=None,
        description="where the due came from: lesson (the pupil's next lesson, moved when the "
        "schedule changes), given (by a person, kept) or sla (no lesson known: two days)",
    )
    due_by_local: str | None = Field(
        default=None, description="`due_by` in the school's time zone (ISO, with its offset)"
    )
    cause: str = Field(
        default="",
        description="what it is about: one unfinished ticket per kit, kind and cause "
        "(rule:<rule id>, help, component:<serial>, kit)",
    )
    assignee: str | None
    opened_by: str
    created_at: datetime
    created_at_local: str | None = Field(
        default=None, description="`created_at` in the school's time zone"
    )
    timezone: str | None = Field(default=None, description="the school's time zone")
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_breached: bool
    breached_at: datetime | None
    joined: bool = Field(
        default=False,
        description="opened by hand: an unfinished ticket of the same kit, kind and cause was "
        "joined (answered 200) rather than a new one opened (201)",
    )
    resolution: str | None
    replacement_serial: str | None
    replacement_kit_id: str | None
    occurrences: int = Field(
        default=1, description="how many times its cause came up (incidents, help requests)"
    )
    allowed_transitions: list[str] = Field(
        default=[], description="the states it may go to (computed from `state`)"
    )

    @model_validator(mode="after")
    def _legal_steps(self) -> TicketPublic:
        self.allowed_transitions = [s.value for s in allowed_targets(TicketState(self.state))]
        return self


class TicketEventPublic(BaseModel):
    """One step of a ticket's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any] | None
    at_local: str | None = Field(default=None, description="`at` in the school's time zone")
    text: str | None = Field(
        default=None, description="what the controller noted, in the request's language"
    )


class ContactPublic(BaseModel):
    """Who to call: the guardian who signed the kit's contract (no IIN, no address)."""

    contract_number: str
    ref: str
    pupil_ref: str
    relation: str
    name: str
    phone: str


class TicketDetail(TicketPublic):
    """A ticket with its history and who to call about it."""

    history: list[TicketEventPublic] = []
    contact: ContactPublic | None = None
    contact_note: str | None = Field(default=None, description="why there is no contact")
