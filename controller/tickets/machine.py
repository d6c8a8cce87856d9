"""A ticket's life as a state machine: which step is legal, what it needs (pure: no clock, no I/O).

    open --assign--> assigned --> in_progress <--> waiting (on the parent, on parts)
    in_progress --> resolved --> closed
    resolved --> in_progress (the fix did not hold)
    open | assigned | in_progress | waiting --> cancelled (with a reason)

`advance` takes a ticket as plain data (`TicketFacts`), a target state and the step's details, and
returns the ticket after the step, or raises `TicketTransitionError` saying why in Kazakh, Russian
and English (common/locale/*/tickets.toml; its `reason` sorts the refusals for a user interface).
The service (`controller.tickets.service`) loads, writes back and records each step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal, NoReturn

from controller.tickets.errors import Said, TicketsError
from policy.ladder import Priority


class TicketKind(StrEnum):
    """What the ticket asks for."""

    REPAIR = "repair"
    REPLACEMENT = "replacement"
    HELP_REQUEST = "help_request"


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


class TicketTransitionError(TicketsError):
    """A step not legal from the ticket's state (409), or its details missing or wrong (422)."""

    def __init__(
        self,
        state: TicketState,
        to: TicketState,
        reason: TransitionReason,
        key: str,
        /,
        **params: object,
    ) -> None:
        """Keep the state, the target and a machine-readable reason next to the message."""
        super().__init__(key, 409 if reason == "not_allowed" else 422, **params)
        self.state = state
        self.to = to
        self.reason = reason


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
    (TicketState.OPEN, TicketState.IN_PROGRESS): "why.assign_first",
    (TicketState.OPEN, TicketState.WAITING): "why.assign_first",
    (TicketState.OPEN, TicketState.RESOLVED): "why.assign_first",
    (TicketState.OPEN, TicketState.CLOSED): "why.not_worked_on",
    (TicketState.ASSIGNED, TicketState.WAITING): "why.not_started",
    (TicketState.ASSIGNED, TicketState.RESOLVED): "why.not_started",
    (TicketState.ASSIGNED, TicketState.CLOSED): "why.not_started",
    (TicketState.WAITING, TicketState.RESOLVED): "why.back_in_progress",
    (TicketState.WAITING, TicketState.CLOSED): "why.back_and_resolve",
    (TicketState.IN_PROGRESS, TicketState.CLOSED): "why.resolve_first",
    (TicketState.RESOLVED, TicketState.CANCELLED): "why.close_it",
}
"""(state, target) -> the catalogue key of why that step is refused."""


def _state(state: TicketState) -> Said:
    return Said(f"state.{state.value}")


def _fail(
    facts: TicketFacts, to: TicketState, reason: TransitionReason, key: str, /, **params: object
) -> NoReturn:
    raise TicketTransitionError(facts.state, to, reason, f"move.{key}", **params)


def clean(value: str | None) -> str | None:
    """The stripped text, or None when there is none (blank counts as none)."""
    return value.strip() if value is not None and value.strip() else None


def _check_replacement(
    facts: TicketFacts, to: TicketState, serial: str | None, kit_id: str | None
) -> TicketFacts:
    if facts.kind is not TicketKind.REPLACEMENT:
        if serial or kit_id:
            _fail(facts, to, "bad_detail", "no_replacement", kind=Said(f"kind.{facts.kind.value}"))
        return facts
    if facts.component_serial is not None:
        if kit_id:
            _fail(facts, to, "bad_detail", "component_not_kit", serial=facts.component_serial)
        if not serial:
            _fail(facts, to, "missing_replacement", "needs_serial", serial=facts.component_serial)
        if serial == facts.component_serial:
            _fail(facts, to, "bad_detail", "serial_itself", serial=serial)
        return dataclasses.replace(facts, replacement_serial=serial)
    if serial:
        _fail(facts, to, "bad_detail", "kit_not_component", kit_id=facts.kit_id)
    if not kit_id:
        _fail(facts, to, "missing_replacement", "needs_kit", kit_id=facts.kit_id)
    if kit_id == facts.kit_id:
        _fail(facts, to, "bad_detail", "kit_itself", kit_id=kit_id)
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
            "why.finished"
            if facts.state in FINISHED
            else _WHY_NOT.get((facts.state, to), "why.not_legal")
        )
        _fail(
            facts,
            to,
            "not_allowed",
            "not_allowed",
            state=_state(facts.state),
            to=_state(to),
            why=Said(why),
        )
    if assignee is not None and to is not TicketState.ASSIGNED:
        _fail(facts, to, "bad_detail", "assignee_only_to_assign")
    if (replacement_serial or replacement_kit_id) and to is not TicketState.CLOSED:
        _fail(facts, to, "bad_detail", "replacement_only_to_close")
    note = clean(note)
    if to is TicketState.ASSIGNED:
        name = clean(assignee)
        if name is None:
            _fail(facts, to, "missing_assignee", "needs_assignee")
        return dataclasses.replace(facts, state=to, assignee=name)
    if to is TicketState.WAITING and note is None:
        _fail(facts, to, "missing_note", "waiting_needs_note")
    if to is TicketState.CANCELLED:
        if note is None:
            _fail(facts, to, "missing_note", "cancel_needs_reason")
        return dataclasses.replace(facts, state=to, resolution=note)
    if to is TicketState.RESOLVED:
        return dataclasses.replace(facts, state=to, resolution=note or facts.resolution)
    if to is TicketState.IN_PROGRESS and facts.state is TicketState.RESOLVED:
        return dataclasses.replace(facts, state=to, resolution=None)  # reopened
    if to is TicketState.CLOSED:
        resolution = note or facts.resolution
        if resolution is None:
            _fail(facts, to, "missing_resolution", "close_needs_resolution")
        replaced = _check_replacement(facts, to, replacement_serial, replacement_kit_id)
        return dataclasses.replace(replaced, state=to, resolution=resolution)
    return dataclasses.replace(facts, state=to)


def assign_to(facts: TicketFacts, assignee: str) -> TicketFacts:
    """Give the ticket to a technician: an open one becomes assigned; one in work changes hands."""
    if facts.state is TicketState.OPEN:
        return advance(facts, TicketState.ASSIGNED, assignee=assignee)
    if facts.state not in (TicketState.ASSIGNED, TicketState.IN_PROGRESS, TicketState.WAITING):
        why = "why.finished" if facts.state in FINISHED else "why.reopen_first"
        _fail(
            facts,
            TicketState.ASSIGNED,
            "not_allowed",
            "cannot_assign",
            state=_state(facts.state),
            why=Said(why),
        )
    name = clean(assignee)
    if name is None:
        _fail(facts, facts.state, "missing_assignee", "needs_assignee_name")
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
