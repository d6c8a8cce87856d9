"""Staff sign-in's own table: the sign-in attempts that throttling counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK


class SignInAttempt(Base):
    """One evaluated sign-in: the user name tried, from where, when, and whether it succeeded.

    Failures are kept for the throttling window, successes for `KNOWN_ADDRESS_DAYS` (an address a
    user signed in from before is not shut out by a lock on their account). No password, ever.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username", "username", "at"),
        Index("ix_sign_in_attempts_address", "address", "at"),
        Index("ix_sign_in_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
