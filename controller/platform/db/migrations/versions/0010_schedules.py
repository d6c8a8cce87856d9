"""Lesson schedules (weekly slots, terms, exceptions).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Every version of each pupil's schedule: the newest approved one is in force."""
    op.create_table(
        "schedule_versions",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("pupil_ref", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.Column("drawn_up_by", sa.String(200), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("approval_recorded_by", sa.String(64), nullable=True),
        sa.UniqueConstraint("pupil_ref", "version", name="uq_schedule_versions_pupil_version"),
    )
    op.create_index(
        "ix_schedule_versions_pupil_status", "schedule_versions", ["pupil_ref", "status"]
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_schedule_versions_pupil_status", table_name="schedule_versions")
    op.drop_table("schedule_versions")
