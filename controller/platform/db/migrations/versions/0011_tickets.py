"""Tickets (repair, replacement, help requests).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNFINISHED = "state NOT IN ('closed', 'cancelled')"


def upgrade() -> None:
    """Tickets for kits, at most one unfinished per (incident, kind), and their history."""
    op.create_table(
        "tickets",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("contract_number", sa.String(64), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("component_serial", sa.String(64), nullable=True),
        sa.Column("due_by", UTCDateTime(), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("breached_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("replacement_serial", sa.String(64), nullable=True),
        sa.Column("replacement_kit_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_tickets_kit", "tickets", ["kit_id"])
    op.create_index("ix_tickets_state", "tickets", ["state"])
    op.create_index(
        "uq_tickets_incident_kind_open",
        "tickets",
        ["incident_id", "kind"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.BigInteger(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("uq_tickets_incident_kind_open", table_name="tickets")
    op.drop_index("ix_tickets_state", table_name="tickets")
    op.drop_index("ix_tickets_kit", table_name="tickets")
    op.drop_table("tickets")
