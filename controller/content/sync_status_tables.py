"""The latest content sync status each kit reported (0028)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import JSONDoc


class KitContentStatus(Base):
    """What a kit last said of its content: versions, state, bytes, what is missing, the error."""

    __tablename__ = "kit_content_status"

    kit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    manifest_version: Mapped[int | None] = mapped_column(BigInteger)
    serving_version: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_have: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_to_go: Mapped[int] = mapped_column(BigInteger, default=0)
    missing: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(String(500))
    error_at: Mapped[datetime | None]
    lessons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    """The stored event this status comes from (an older one arriving late changes nothing)."""
    updated_at: Mapped[datetime]
