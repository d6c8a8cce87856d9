"""Fleet: hourly telemetry history, kept when raw telemetry passes its retention (issue 12).

Per-kit rate limits live in memory (controller/fleet/quotas.py) and need no table; retention
(controller/fleet/retention.py) folds raw telemetry older than its days into `telemetry_hourly`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per kit and hour of its snapshots' `ts`."""
    op.create_table(
        "telemetry_hourly",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("cpu_avg", sa.Float(), nullable=True),
        sa.Column("cpu_max", sa.Float(), nullable=True),
        sa.Column("memory_avg", sa.Float(), nullable=True),
        sa.Column("memory_max", sa.Float(), nullable=True),
        sa.Column("disk_used_max", sa.Float(), nullable=True),
        sa.Column("battery_min", sa.Float(), nullable=True),
        sa.UniqueConstraint("kit_id", "hour", name="uq_telemetry_hourly_kit_hour"),
    )
    op.create_index("ix_telemetry_hourly_hour", "telemetry_hourly", ["hour"])


def downgrade() -> None:
    """Drop the hourly history."""
    op.drop_index("ix_telemetry_hourly_hour", table_name="telemetry_hourly")
    op.drop_table("telemetry_hourly")
