"""Kits, telemetry and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "kits",
        sa.Column("kit_id", sa.String(64), primary_key=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("agent_version", sa.String(64), nullable=True),
        sa.Column("interval_s", sa.Float(), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("latest_ts", UTCDateTime(), nullable=True),
        sa.Column("latest", sa.JSON(), nullable=True),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("memory_percent", sa.Float(), nullable=True),
        sa.Column("disk_used_percent", sa.Float(), nullable=True),
        sa.Column("battery_percent", sa.Float(), nullable=True),
    )
    for table, extra in (
        ("telemetry", []),
        (
            "events",
            [
                sa.Column("kind", sa.String(64), nullable=False),
                sa.Column("severity", sa.String(16), nullable=False),
                sa.Column("message", sa.String(2000), nullable=False),
            ],
        ),
    ):
        op.create_table(
            table,
            sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
            sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("msg_id", sa.String(64), nullable=False),
            sa.Column("ts", UTCDateTime(), nullable=False),
            sa.Column("received_at", UTCDateTime(), nullable=False),
            *extra,
            sa.Column("body", sa.JSON(), nullable=False),
            sa.UniqueConstraint("kit_id", "msg_id", name=f"uq_{table}_kit_msg"),
        )
        op.create_index(f"ix_{table}_kit_seq", table, ["kit_id", "seq"])


def downgrade() -> None:
    """Drop everything."""
    op.drop_table("events")
    op.drop_table("telemetry")
    op.drop_table("kits")
