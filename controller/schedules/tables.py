"""The table of pupils' lesson schedules, every version kept (migration 0010).

The schedules domain's own table; it shares the declarative `Base` of
`controller.platform.db.base`, so it is in the same metadata once this module is imported
(`controller.schedules` imports it).

A pupil's schedule is never overwritten: each save adds a version (a draft); approving marks the
newest version approved. The newest version is the current one; the newest approved version is
the one in force, the one the pupil's kit gets. What was drawn up (`document`: time zone, terms,
weekly slots, exceptions) is stored as JSON, as `controller.schedules.model.ScheduleContent`
dumps it; who approved it and when are columns of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


class ScheduleVersion(Base):
    """One version of a pupil's individual schedule."""

    __tablename__ = "schedule_versions"
    __table_args__ = (
        UniqueConstraint("pupil_ref", "version", name="uq_schedule_versions_pupil_version"),
        Index("ix_schedule_versions_pupil_status", "pupil_ref", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    pupil_ref: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    source: Mapped[str] = mapped_column(String(16))
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime]
    drawn_up_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    approval_recorded_by: Mapped[str | None] = mapped_column(String(64))
