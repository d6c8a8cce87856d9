"""What the catalogue's HTTP API and its import take and answer: one family per resource.

- a resource: `ResourceBase` (its metadata), `ResourceCreate` (an upload's or an import row's
  metadata), `ResourceUpdate` (what an edit changes), `ResourcePublic` (a stored resource with
  its file and captions), `ResourcePage` (a search's or a browse's page);
- the rubricator: `FacetCount`, `FacetsPublic` (how many resources per grade, subject, ...);
- an import: `ImportRow` (one row's outcome), `ImportReport` (all of them).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from controller.content.errors import DOMAIN
from controller.errors import InvalidValue
from protocol.content import ResourceKind

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    """Refuse control characters (NUL and the like; tabs and line breaks are text)."""
    if _CONTROL.search(value):
        raise InvalidValue(DOMAIN, "invalid.control")
    return value


Printable = AfterValidator(_printable)
Language = Literal["kk", "ru", "en"]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), Printable
]
Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable
]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), Printable]
Keywords = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), Printable]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), Printable]
Grade = Annotated[int, Field(ge=1, le=11, description="school grade, 1 to 11")]
Entry = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Printable,
    Field(description="an HTML5 package's entry page inside the zip (default index.html)"),
]


class ResourceBase(BaseModel):
    """A resource's metadata: the rubricator's grade, subject, language, and what is searched."""

    title: Title
    subject: Subject
    grade: Grade
    language: Language = Field(description="the resource's language: kk, ru or en")
    author: Short = ""
    provider: Short = Field(default="", description="who publishes it (the e-library, a school)")
    keywords: Keywords = Field(default="", description="words to find it by, comma-separated")
    description: Description = ""


class ResourceCreate(ResourceBase):
    """The metadata of a new resource (an upload's form fields, an import's row)."""

    kind: ResourceKind = Field(description="html5, pdf, epub, audio or video")
    entry: Entry | None = None


class ResourceUpdate(BaseModel):
    """An edit of a resource's metadata: the fields given change, the others stay."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    subject: Subject | None = None
    grade: Grade | None = None
    language: Language | None = None
    author: Short | None = None
    provider: Short | None = None
    keywords: Keywords | None = None
    description: Description | None = None


class CaptionPublic(BaseModel):
    """A WebVTT captions file of the resource."""

    language: Language
    sha256: str


class ResourcePublic(ResourceBase):
    """A resource in the catalogue: its metadata, its file (by hash), captions, who and when."""

    id: str
    kind: ResourceKind
    entry: str | None
    sha256: str = Field(description="the main file's sha256 (stored once, however many hold it)")
    size: int
    media_type: str = Field(description="read from the file's first bytes, not its name")
    chunks: int = Field(description="FastCDC chunks a kit fetches it in (0: fetched whole)")
    captions: list[CaptionPublic]
    created_at: datetime
    created_by: str
    updated_at: datetime
    archived_at: datetime | None


class ResourcePage(BaseModel):
    """One page of a search or a browse, and how many match in all."""

    items: list[ResourcePublic]
    total: int
    limit: int
    offset: int


class FacetCount(BaseModel):
    """How many resources have this value."""

    value: str
    count: int


class FacetsPublic(BaseModel):
    """The rubricator: counts of the matching resources per grade, subject, language, kind."""

    total: int
    grade: list[FacetCount]
    subject: list[FacetCount]
    language: list[FacetCount]
    kind: list[FacetCount]


class ImportRow(BaseModel):
    """One row of an import: created (with its id), refused (why), or not stored because
    another row was refused (all or nothing)."""

    row: int = Field(description="the row's number (1 = the first row after the header)")
    file: str
    outcome: Literal["created", "refused", "not_stored"]
    id: str | None = None
    reason: str | None = None
    message: str | None = None


class ImportReport(BaseModel):
    """Every row's outcome, and the counts."""

    rows: list[ImportRow]
    created: int
    refused: int
