"""The base of every wire model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """Base of everything that crosses the wire: lenient about extra fields, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Unavailable(WireModel):
    """A part of the snapshot the agent could not collect, and why."""

    unavailable: str = Field(min_length=1, max_length=500)
