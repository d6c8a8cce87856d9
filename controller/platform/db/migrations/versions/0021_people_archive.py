"""People: corrected and archived without losing history (issue 13).

Pupils and guardians get `updated_at` (the last correction), and `archived_at`, `archive_reason`
and `left_on` (when and why a person left the school: `controller.loans.people_changes`). Rows
are never deleted: an archived person keeps their contracts and audit history, and is hidden from
lists by default. Adding nullable columns only, so a step run twice changes nothing more.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_TABLES = ("pupils", "guardians")


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("archived_at", UTCDateTime(), nullable=True),
        sa.Column("archive_reason", sa.String(32), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    """Add the columns each table lacks."""
    for table in _TABLES:
        present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
        for column in _columns():
            if column.name not in present:
                op.add_column(table, column)


def downgrade() -> None:
    """Drop them again (SQLite rebuilds each table)."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            for column in _columns():
                batch.drop_column(column.name)
