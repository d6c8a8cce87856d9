"""Issue 13, part 5: a placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
