"""What the HTTP API takes and answers about assignments, and about a kit's or pupil's content."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from controller.loans.schemas import REF
from protocol.content import Difficulty, LessonContent, SyncState, TaskType
from protocol.timebounds import BoundedAwareDatetime

MAX_PUPILS = 200
"""The most pupils one request assigns to (a class or two)."""
MAX_TASK_RESOURCES = 50

PupilRef = Annotated[str, StringConstraints(pattern=REF)]
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,32}$")]


class AssignmentCreate(BaseModel):
    """A task for one or more pupils: its resources, kind, difficulty, text, lesson, due date."""

    model_config = ConfigDict(extra="forbid")

    pupils: list[PupilRef] = Field(min_length=1, max_length=MAX_PUPILS)
    resources: list[ResourceId] = Field(min_length=1, max_length=MAX_TASK_RESOURCES)
    type: TaskType
    difficulty: Difficulty = Difficulty.MEDIUM
    text: str = Field(default="", max_length=4000)
    lesson_start: BoundedAwareDatetime | None = Field(
        default=None, description="the start of one of each pupil's approved lessons"
    )
    due_at: BoundedAwareDatetime | None = None


class AssignmentPublic(BaseModel):
    """One pupil's task as stored."""

    id: int
    task_id: str = Field(description="the id the kit's manifest gives it")
    batch: str = Field(description="shared by the tasks one request set for several pupils")
    pupil_ref: str
    type: TaskType
    difficulty: Difficulty
    text: str
    subject: str
    lesson_start: datetime | None
    due_at: datetime | None
    resources: list[str]
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None
    cancelled_by: str | None


class AssignmentSync(BaseModel):
    """A task as the kit holds it: on the kit, or the resources still missing."""

    id: int
    task_id: str
    type: TaskType
    subject: str
    lesson_start: datetime | None
    due_at: datetime | None
    in_manifest: bool = Field(description="the kit's newest manifest names it")
    synced: bool = Field(description="every resource of it is on the kit")
    missing: list[str]


class SyncError(BaseModel):
    """The last thing that stopped or refused a kit's sync."""

    reason: str
    detail: str | None
    at: datetime


class KitContentPublic(BaseModel):
    """A kit's content: the manifest it was sent, what it serves, bytes to go, errors, lessons."""

    kit_id: str
    pupil_ref: str | None
    latest_version: int | None = Field(description="the newest manifest issued to the kit")
    latest_expires_at: datetime | None
    manifest_version: int | None = Field(description="the manifest the kit works on")
    serving_version: int | None = Field(description="the manifest whose content it serves")
    state: SyncState | None = Field(description="None: the kit has not reported yet")
    bytes_total: int
    bytes_have: int
    bytes_to_go: int
    missing: list[str]
    last_error: SyncError | None
    lessons: list[LessonContent]
    assignments: list[AssignmentSync]
    updated_at: datetime | None


class PupilContentPublic(BaseModel):
    """A pupil's content on each of their kits."""

    pupil_ref: str
    kits: list[KitContentPublic]


class ContentAlert(BaseModel):
    """A lesson soon whose content is not on the kit."""

    kind: str = "lesson_content_missing"
    kit_id: str
    pupil_ref: str | None
    lesson_start: datetime
    subject: str
    missing: list[str]
    message: str
