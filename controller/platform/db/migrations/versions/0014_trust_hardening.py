"""Trust: certificates superseded on renewal, renewal limits (issue 12).

A renewal now counts the kit's renewals of the last 24 hours (at most a few are allowed) and
revokes the kit's other certificates still valid; an index on (kit_id, issued_via, issued_at)
keeps both lookups cheap. Nothing else changes in the schema: superseded certificates are marked
with the existing `revoked_at`/`revoke_reason` columns and the CRL leaves out, at each signing,
the revoked certificates that expired more than a day before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index certificates by kit, how they were issued and when."""
    op.create_index(
        "ix_certificates_kit_issued", "certificates", ["kit_id", "issued_via", "issued_at"]
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_certificates_kit_issued", "certificates")
