"""Issue 13, part 1: a placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
