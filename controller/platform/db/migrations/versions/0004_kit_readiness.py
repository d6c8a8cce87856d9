"""What a technician scans the fleet for: webinar readiness and what the kit lacks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Two columns filled from the latest snapshot."""
    with op.batch_alter_table("kits") as batch:
        batch.add_column(sa.Column("readiness", sa.String(16), nullable=True))
        batch.add_column(sa.Column("profile_missing", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("kits") as batch:
        batch.drop_column("profile_missing")
        batch.drop_column("readiness")
