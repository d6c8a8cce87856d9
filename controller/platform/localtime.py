"""Times as people at the school read them: in its time zone (`KITKEEPER_SCHOOL_TIMEZONE`).

The database and the API keep UTC; where a person reads a time, the API adds it in the school's
zone (`local_iso`) and texts print it with the zone named (`clock`: "2026-12-03 14:30
(Asia/Almaty)"), so that nobody in Almaty reads a UTC time as their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

DEFAULT_ZONE: Final = ZoneInfo("Asia/Almaty")
"""The zone of the default setting, for code run without the controller's settings."""


def local_iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    """The time in `zone` as ISO text with its offset ("2026-12-03T14:30:00+05:00"), or None."""
    return value.astimezone(zone).isoformat() if value is not None else None


def clock(value: datetime, zone: ZoneInfo) -> str:
    """The time as a person reads it, with the zone named: "2026-12-03 14:30 (Asia/Almaty)"."""
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"
