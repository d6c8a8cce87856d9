"""Annexes to a contract: a component replaced during the loan.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """A list of annexes on each contract."""
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("annexes", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("annexes")
