"""What a remediation transaction decided to send, and sending it once that transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol.models import Command, Schedule

_LOGGER = logging.getLogger(__name__)

Send = Callable[[str, Command, str], object]
"""(kit_id, command, msg_id): publish a command to a kit."""
Publish = Callable[[str, Schedule], object]
"""(kit_id, schedule): publish a kit's retained schedule."""


@dataclass
class Outgoing:
    """Messages to send once the transaction that decided them has committed."""

    commands: list[tuple[str, Command, str]] = field(default_factory=list)
    schedules: list[tuple[str, Schedule]] = field(default_factory=list)

    def merge(self, other: Outgoing) -> None:
        """Take on what another (committed) piece of work decided."""
        self.commands += other.commands
        self.schedules += other.schedules


class Sender:
    """Publishes what a committed transaction decided; one failed message never stops the rest."""

    def __init__(self, *, send: Send, publish_schedule: Publish) -> None:
        self._send = send
        self._publish_schedule = publish_schedule

    def send(self, out: Outgoing) -> None:
        """Publish the commands and schedules in `out`."""
        for kit_id, command, msg_id in out.commands:
            try:
                self._send(kit_id, command, msg_id)
            except Exception:
                _LOGGER.exception("cannot send %s to %s", command.kind, kit_id)
        for kit_id, schedule in out.schedules:
            try:
                self._publish_schedule(kit_id, schedule)
            except Exception:
                _LOGGER.exception("cannot publish the schedule of %s", kit_id)
