"""Pupils and their parents or legal representatives; personal data encrypted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Two tables; *_enc columns hold ciphertext, *_index a keyed hash for lookups."""
    op.create_table(
        "pupils",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, unique=True),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("iin_enc", sa.Text(), nullable=False),
        sa.Column("iin_index", sa.String(64), nullable=False, unique=True),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(32), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("temporary_until", sa.Date(), nullable=True),
        sa.Column("school", sa.String(255), nullable=False),
        sa.Column("teacher", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "guardians",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, unique=True),
        sa.Column("pupil_id", sa.BigInteger(), sa.ForeignKey("pupils.id"), nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=False),
        sa.Column("iin_enc", sa.Text(), nullable=False),
        sa.Column("iin_index", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("guardians")
    op.drop_table("pupils")
