"""What the HTTP API takes and answers about schedules: one family per resource.

- a pupil's schedule: `ScheduleCreate` (a new version, as drawn up), `ApprovalCreate` (the
  director's approval), `ScheduleVersionBase` (which version, its status), `SchedulePublic` (a
  stored version with its approval and the pupil's kits), `ScheduleImportPublic` (the summary of
  a version imported from a file);
- a pupil's lessons: `LessonPublic` (one, in UTC and local time), `LessonsPublic` (a range);
- what a kit gets is the wire message itself, `protocol.models.Schedule`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from controller.schedules import model
from protocol.timebounds import dates_within

ScheduleCreate = Annotated[model.ScheduleContent, AfterValidator(dates_within)]
"""A new version of a pupil's schedule as drawn up, every date within the years 2000 to 2100."""


class ApprovalCreate(BaseModel):
    """Who approved the schedule (the director); by default the one recording it."""

    model_config = ConfigDict(extra="forbid")

    approved_by: str | None = Field(default=None, min_length=2, max_length=200)


class ScheduleVersionBase(BaseModel):
    """Which version of whose schedule, its status, the version in force, where it came from."""

    pupil_ref: str
    version: int
    status: model.ScheduleStatus
    in_force_version: int | None = Field(
        description="the newest approved version: the one the pupil's kits get"
    )
    source: str = Field(description="api, csv or ics")


class SchedulePublic(ScheduleVersionBase):
    """A stored version of a pupil's schedule: what was drawn up, its approval, its kits."""

    saved_by: str
    saved_at: datetime
    drawn_up_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    kit_ids: list[str] = Field(description="the kits lent to the pupil (signed contracts)")
    schedule: model.ScheduleContent


class ScheduleImportPublic(ScheduleVersionBase):
    """A version imported from a file, in short: how many of each part, which days, its kits."""

    timezone: str
    terms: int
    slots: int
    holidays: int
    cancellations: int
    moves: int
    extras: int
    first_day: date | None = Field(description="the earliest day a lesson can take place")
    last_day: date | None = Field(description="the latest day a lesson can take place")
    lessons: int = Field(description="how many lessons the version gives in all")
    kit_ids: list[str] = Field(description="the kits lent to the pupil (signed contracts)")


class LessonPublic(BaseModel):
    """One lesson, in UTC and in the schedule's local time."""

    start: datetime
    end: datetime
    local_date: date
    local_start: str
    local_end: str
    weekday: str
    subject: str
    teacher: str
    mode: str
    server: str | None
    origin: str = Field(description="slot (weekly), moved or extra")
    moved_from: str | None = Field(default=None, description="the lesson's own date and time")


class LessonsPublic(BaseModel):
    """A pupil's lessons in a range."""

    pupil_ref: str
    timezone: str | None
    version: int | None = Field(description="the version they come from; none: no schedule")
    draft: bool
    start: datetime
    end: datetime
    lessons: list[LessonPublic]
