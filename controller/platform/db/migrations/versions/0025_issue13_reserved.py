"""Nothing: the number was an empty placeholder while issue 13 was built in parallel, and the head
for a while, so a database may be stamped at it. Kept so that such a database still upgrades.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing."""


def downgrade() -> None:
    """Nothing."""
