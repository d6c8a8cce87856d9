"""The tables of tickets (repair, replacement, help requests) and their history (migration 0011).

Kept apart from `controller.db.models` so that tickets can grow without touching the core tables;
they share its declarative `Base`, so they are in the same metadata once this module is imported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from controller.fleet.tables import Kit as Kit  # the table its keys refer to
from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc

FINISHED_SQL = "state NOT IN ('closed', 'cancelled')"
"""The SQL condition of a ticket still open (used by the partial unique index)."""


class Ticket(Base):
    """A repair, replacement or help-request ticket for a kit; nothing personal is stored here."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_kit", "kit_id"),
        Index("ix_tickets_state", "state"),
        # One unfinished ticket per kit, kind and cause, even with two callers at once (0024).
        Index(
            "uq_tickets_kit_kind_cause_open",
            "kit_id",
            "kind",
            "cause",
            unique=True,
            sqlite_where=text(FINISHED_SQL),
            postgresql_where=text(FINISHED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    kit_id: Mapped[str] = mapped_column(String(64), ForeignKey("kits.kit_id"))
    contract_number: Mapped[str | None] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    component_serial: Mapped[str | None] = mapped_column(String(64))
    """What a replacement ticket replaces: a component's serial, or empty for the whole kit."""
    due_by: Mapped[datetime | None]
    assignee: Mapped[str | None] = mapped_column(String(64))
    opened_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    """When the ticket was closed or cancelled."""
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    breached_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    replacement_serial: Mapped[str | None] = mapped_column(String(64))
    replacement_kit_id: Mapped[str | None] = mapped_column(String(64))
    occurrences: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    """How many times it was asked for: a new event of the same cause lands on one ticket."""
    cause: Mapped[str] = mapped_column(String(120), nullable=True)
    """What the ticket is about, one open ticket per kit, kind and cause (`controller.tickets.
    causes`): `rule:<rule id>`, `help`, `component:<serial>`, `kit`. Always set; the column is
    nullable only because migration 0024 adds it to a table others refer to (SQLite)."""
    due_source: Mapped[str | None] = mapped_column(String(8))
    """Where `due_by` came from: `lesson` (the pupil's next lesson), `given` (by a person) or
    `sla` (no lesson known: the default time); empty without a due."""
    title_key: Mapped[str | None] = mapped_column(String(64))
    """The catalogue key (common/locale/*/tickets.toml) of a title the system wrote, so that it is
    shown in the reader's language; empty for a person's own title."""
    title_params: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)


class TicketEvent(Base):
    """One step in a ticket's history: who did what, when (no personal data)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
