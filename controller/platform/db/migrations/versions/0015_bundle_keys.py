"""Bundles: the versions built (so they continue if `var/bundles` is lost), command variables.

`bundle_builds` records every bundle version the controller built, with the SHA-256 of its bytes
and the fingerprint of the key that signed it: a controller whose bundle directory is lost builds
its next bundle above every version it built or sent, so no kit sees a version reused or lowered.
`remediation_commands.extra_vars` keeps the variables a run sets (checked against the playbook's
declaration in the signed bundle) until the run is sent.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import JSONDoc, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `bundle_builds`; add `remediation_commands.extra_vars`."""
    op.create_table(
        "bundle_builds",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("remediation_commands") as batch:
        batch.add_column(sa.Column("extra_vars", JSONDoc(), nullable=True))


def downgrade() -> None:
    """Drop both."""
    with op.batch_alter_table("remediation_commands") as batch:
        batch.drop_column("extra_vars")
    op.drop_table("bundle_builds")
