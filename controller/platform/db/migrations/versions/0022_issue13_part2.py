"""Issue 13, part 2: a placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
