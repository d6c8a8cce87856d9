"""Issue 13, part 4: a placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
