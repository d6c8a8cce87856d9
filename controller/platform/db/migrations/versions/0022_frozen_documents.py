"""Loans: the documents a party signed, frozen (issue 13, part 2).

One row per rendered PDF (the contract on signing, the hand-over act, the return act, each annex;
in Kazakh and in Russian): the PDF encrypted with the personal-data keys (`pdf_enc`, a
`FieldCipher` token of its base64) and its sha256. Contracts signed before this migration have
no rows: their documents keep rendering live (`controller.loans.records`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The table of frozen documents."""
    op.create_table(
        "contract_documents",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column(
            "contract_number",
            sa.String(64),
            sa.ForeignKey("contracts.number"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("annex", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("pdf_enc", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "contract_number", "kind", "annex", "lang", name="uq_contract_documents_one"
        ),
    )


def downgrade() -> None:
    """Drop the frozen documents."""
    op.drop_table("contract_documents")
