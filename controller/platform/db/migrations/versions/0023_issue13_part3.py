"""Issue 13, part 3: a placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
