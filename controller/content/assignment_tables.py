"""The assignments' table: one row per pupil and task, as the electronic journal keeps it (0028).

A teacher's one request for several pupils makes one row per pupil sharing a `batch`: each
pupil's task is cancelled, shown and synced on its own, and the journal reads per pupil.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.platform.db.base import Base
from controller.platform.db.types import BigIntPK, JSONDoc


class Assignment(Base):
    """A task set for one pupil: its kind, difficulty, text, lesson, due date and resources."""

    __tablename__ = "content_assignments"
    __table_args__ = (Index("ix_content_assignments_pupil", "pupil_ref", "cancelled_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    pupil_ref: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    difficulty: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(200), default="")
    lesson_start: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    resources: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(64))

    @property
    def task_id(self) -> str:
        """The id the kit's manifest gives this task."""
        return f"a{self.id}"
