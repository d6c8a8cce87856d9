"""Pupils: `promoted_into` for a database that passed 0023 while 0023 was still empty.

0023 adds the column; a database migrated while 0023 was an empty placeholder (during issue 13's
work) is stamped past it without the column. This step adds it when missing and is a no-op
everywhere else.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column if the table lacks it."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("pupils")}
    if "promoted_into" not in present:
        op.add_column("pupils", sa.Column("promoted_into", sa.String(9), nullable=True))


def downgrade() -> None:
    """Nothing: 0023's downgrade drops the column."""
