"""Staff: sessions that can be revoked, disabled users, sign-in failures (issue 12).

A placeholder reserved so that parallel work keeps one linear history.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
