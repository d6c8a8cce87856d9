"""What the HTTP API takes and answers about people leaving, their history and promotion.

- `ArchiveRequest`: why and when a pupil or guardian left the school (`LeavingReason`);
- `HistoryEntry`: one change of a person, from the audit log, personal values hidden;
- `PromoteRequest` and `PromotionReport` (one `PromotionLine` a pupil): the new school year.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.timebounds import BoundedDate


class LeavingReason(StrEnum):
    """Why a person left the school (is archived)."""

    GRADUATED = "graduated"
    MOVED = "moved"
    TRANSFERRED = "transferred"
    OTHER = "other"


class ArchiveRequest(BaseModel):
    """A pupil or guardian leaving the school: why, and the day (today when left out)."""

    model_config = ConfigDict(extra="forbid")

    reason: LeavingReason
    left_on: BoundedDate | None = Field(default=None, description="the day they left; null: today")


class HistoryEntry(BaseModel):
    """One change of a person: who, when, which fields, from what to what.

    Personal values (names, IINs, phones, addresses, program, basis) read "<encrypted>": the
    history says that they changed, never what they were.
    """

    at: datetime
    actor: str
    action: str = Field(description="pupil_created, pupil_updated, pupil_archived, ...")
    fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]


class PromoteRequest(BaseModel):
    """Move every pupil at school (of one school, if given) up a grade for the new school year."""

    model_config = ConfigDict(extra="forbid")

    school: str | None = Field(default=None, min_length=2, max_length=255)
    dry_run: bool = Field(description="true: report what would change, change nothing")
    force: bool = Field(default=False, description="promote again in a school year already done")


class PromotionLine(BaseModel):
    """One pupil's promotion: from grade, to grade (or "graduates", archived as graduated)."""

    ref: str
    school: str
    from_grade: int
    to_grade: int | Literal["graduates"]
    note: str | None = Field(default=None, description="why the pupil was left as they are")


class PromotionReport(BaseModel):
    """What a promotion changed (or, in a dry run, would change)."""

    school_year: str = Field(description="the school year promoted into, e.g. 2027-2028")
    school: str | None
    dry_run: bool
    promoted: int
    graduated: int
    pupils: list[PromotionLine]


PROMOTION_FROM_MONTH = 5
"""A promotion from 1 May on is for the school year starting next 1 September: Kazakh schools
finish around 25 May, so a promotion run at the end of May is for the coming year."""


def school_year(day: date) -> str:
    """The school year a promotion on `day` (the school's day, in its time zone) moves pupils
    into: from 1 May on, the one beginning next 1 September; before May, the one already under
    way (a late promotion)."""
    start = day.year if day.month >= PROMOTION_FROM_MONTH else day.year - 1
    return f"{start}-{start + 1}"
