"""Outbox lives: the epoch of every stored message and each kit's current one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add epochs; the sequence-restart guess they replace goes."""
    for table in ("telemetry", "events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("epoch", sa.String(32), nullable=True))
        op.create_index(f"ix_{table}_kit_epoch_seq", table, ["kit_id", "epoch", "seq"])
    with op.batch_alter_table("kits") as batch:
        batch.add_column(sa.Column("epoch", sa.String(32), nullable=True))
        batch.drop_column("seq_reset_at")


def downgrade() -> None:
    """Back to 0002."""
    with op.batch_alter_table("kits") as batch:
        batch.add_column(sa.Column("seq_reset_at", UTCDateTime(), nullable=True))
        batch.drop_column("epoch")
    for table in ("telemetry", "events"):
        op.drop_index(f"ix_{table}_kit_epoch_seq", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("epoch")
