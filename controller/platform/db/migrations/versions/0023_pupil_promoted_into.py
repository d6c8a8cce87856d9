"""Pupils: the school year each was last promoted into (issue 13, review).

`pupils.promoted_into` ("2026-2027", or null: never promoted by `pupils promote`). A promotion
skips a pupil already promoted into its school year, so that two runs in one school year (a late
one in May and one in September, or a forced one) never move a pupil up twice. A nullable column
only, added when missing, so a step run twice changes nothing more.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column if the table lacks it."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("pupils")}
    if "promoted_into" not in present:
        op.add_column("pupils", sa.Column("promoted_into", sa.String(9), nullable=True))


def downgrade() -> None:
    """Drop it again (SQLite rebuilds the table)."""
    with op.batch_alter_table("pupils") as batch:
        batch.drop_column("promoted_into")
