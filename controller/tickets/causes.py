"""What a ticket is about, its cause: one unfinished ticket per kit, kind and cause (pure).

- `rule:<rule id>`: the escalation ladder's repair or replacement for a fault rule, whatever the
  incident (the same fault firing again joins the ticket still open);
- `help`: a help request, from the kit's button or a parent's call taken by hand;
- `component:<serial>`: a repair or replacement of one component, opened by hand;
- `kit`: a repair or replacement of the whole kit, opened by hand.

A new event of the same cause joins the unfinished ticket (`controller.tickets.service`).
"""

from __future__ import annotations

from typing import Final

from controller.tickets.machine import TicketKind

HELP: Final = "help"
KIT: Final = "kit"
MAX_LENGTH: Final = 120


def of_rule(rule_id: str) -> str:
    """The cause of the ladder's ticket for a fault rule."""
    return f"rule:{rule_id}"[:MAX_LENGTH]


def cause_of(kind: TicketKind, *, component_serial: str | None, rule_id: str | None = None) -> str:
    """The cause of a ticket: the rule for the ladder's, else help, the component or the kit."""
    if kind is TicketKind.HELP_REQUEST:
        return HELP
    if rule_id is not None:
        return of_rule(rule_id)
    if component_serial is not None:
        return f"component:{component_serial}"[:MAX_LENGTH]
    return KIT
