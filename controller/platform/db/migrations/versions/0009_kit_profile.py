"""The kit's profile (base, low-vision, hearing, motor, blind).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Set by import, then by what the kit's agent reports."""
    with op.batch_alter_table("kits") as batch:
        batch.add_column(sa.Column("profile", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("kits") as batch:
        batch.drop_column("profile")
