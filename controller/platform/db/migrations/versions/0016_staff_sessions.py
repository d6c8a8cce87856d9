"""Staff: sign-in attempts for throttling; API tokens found by user to revoke them (issue 12).

`sign_in_attempts` keeps each evaluated sign-in (user name tried, address, time, success; never
a password): failures for the throttling window, successes for the addresses a user is known
from. Tokens are revoked by deleting their rows (only hashes were ever kept), so `api_tokens`
gains an index on `user_id` for "revoke all of this user's tokens". `users.disabled` exists
since 0005.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from controller.platform.db.types import BigIntPK, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `sign_in_attempts` and index tokens by user."""
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sign_in_attempts_username", "sign_in_attempts", ["username", "at"])
    op.create_index("ix_sign_in_attempts_address", "sign_in_attempts", ["address", "at"])
    op.create_index("ix_sign_in_attempts_at", "sign_in_attempts", ["at"])
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("sign_in_attempts")
