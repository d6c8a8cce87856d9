"""Trust: certificates superseded on renewal, renewal limits (issue 12).

A placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
