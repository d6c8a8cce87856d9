"""Content (issue 14): assignments, each kit's signed manifests, content events read, sync status.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the assignments', manifests' and sync status tables."""
    op.create_table(
        "content_assignments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.String(32), nullable=False, index=True),
        sa.Column("pupil_ref", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("difficulty", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("lesson_start", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_content_assignments_pupil", "content_assignments", ["pupil_ref", "cancelled_at"]
    )
    op.create_table(
        "content_manifests",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kit_id", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("blobs", sa.JSON(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("kit_id", "version", name="uq_content_manifests_version"),
    )
    op.create_table(
        "content_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "kit_content_status",
        sa.Column("kit_id", sa.String(64), primary_key=True),
        sa.Column("manifest_version", sa.BigInteger(), nullable=True),
        sa.Column("serving_version", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_have", sa.BigInteger(), nullable=False),
        sa.Column("bytes_to_go", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("error_reason", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.String(500), nullable=True),
        sa.Column("error_at", UTCDateTime(), nullable=True),
        sa.Column("lessons", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("kit_content_status")
    op.drop_table("content_cursors")
    op.drop_table("content_manifests")
    op.drop_index("ix_content_assignments_pupil", table_name="content_assignments")
    op.drop_table("content_assignments")
