"""Remediation: diagnostics requests and help-request quotas (issue 12).

A diagnostics upload is taken only against a request of the controller's, once and before it
expires: the request gets its expiry (`expires_at`; empty for older rows, which use the default
window) and, when what came was refused, why (`refused_reason`). What a kit may ask each day is
counted per kind in `kit_quotas`; repeated help requests land on the kit's open ticket, whose
`occurrences` count them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the requests' expiry and refusal, the kits' quotas and the tickets' occurrences."""
    with op.batch_alter_table("diagnostics") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("refused_reason", sa.String(200), nullable=True))
    op.create_table(
        "kit_quotas",
        sa.Column("kit_id", sa.String(64), sa.ForeignKey("kits.kit_id"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("refused", sa.Integer(), nullable=False, server_default="0"),
    )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("occurrences")
    op.drop_table("kit_quotas")
    with op.batch_alter_table("diagnostics") as batch:
        batch.drop_column("refused_reason")
        batch.drop_column("expires_at")
