"""Device trust: enrolment tokens, issued certificates, ack watermarks, kit lifecycle.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the trust tables and the kit columns the ack and revocation need."""
    with op.batch_alter_table("kits") as batch:
        batch.alter_column("first_seen_at", existing_type=UTCDateTime(), nullable=True)
        batch.alter_column("last_seen_at", existing_type=UTCDateTime(), nullable=True)
        batch.add_column(
            sa.Column("acked_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("seq_reset_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("lifecycle", sa.String(16), nullable=False, server_default="active")
        )
    op.create_table(
        "enroll_tokens",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("kit_id", sa.String(64), nullable=False, index=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("kit_id", sa.String(64), nullable=False, index=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("issued_via", sa.String(16), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    """Remove them."""
    op.drop_table("certificates")
    op.drop_table("enroll_tokens")
    with op.batch_alter_table("kits") as batch:
        batch.drop_column("lifecycle")
        batch.drop_column("seq_reset_at")
        batch.drop_column("acked_seq")
