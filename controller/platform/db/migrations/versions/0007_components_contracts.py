"""Components with serials, and contracts of free temporary use.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Components belong to a kit (or to spare stock); a contract lends a kit's components."""
    op.create_table(
        "components",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("serial", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("condition", sa.String(64), nullable=False),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "contracts",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
        sa.Column("school", sa.String(255), nullable=False),
        sa.Column("city", sa.String(128), nullable=False),
        sa.Column("guardian_ref", sa.String(64), nullable=False),
        sa.Column("pupil_ref", sa.String(64), nullable=False),
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("terms_version", sa.String(32), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("signed_by_guardian", sa.String(200), nullable=True),
        sa.Column("signed_by_school", sa.String(200), nullable=True),
        sa.Column("training_recorded", sa.Boolean(), nullable=False),
        sa.Column("handover", sa.JSON(), nullable=True),
        sa.Column("return_act", sa.JSON(), nullable=True),
        sa.Column("termination_reason", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("contracts")
    op.drop_table("components")
