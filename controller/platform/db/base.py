"""The declarative base every table shares (one metadata for all domains)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase

from controller.platform.db.types import JSONDoc, UTCDateTime


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSONDoc}
