"""A pupil's individual lesson schedule as it is drawn up: pure data, no clock, no I/O.

The deputy director draws up each home-schooled pupil's schedule, the parents and teachers agree
to it and the director approves it (DOMAIN.md). It is written the way the school thinks of it:

- **terms** (start and end dates, inclusive; e.g. the four school quarters) in which the weekly
  lessons take place;
- **weekly slots**: a weekday (0 Monday .. 6 Sunday), a local start time, a duration, the subject,
  the teacher (staff, free text), the mode (online, home visit, self-study) and, for an online
  lesson, the host:port of its server; a slot may hold only from / until a date;
- **exceptions**: holidays (date ranges without weekly lessons), cancelled lessons (the date and
  the slot's start), moved lessons (from a date and time to another, perhaps with a new duration)
  and extra one-off lessons;
- **approval**: a draft, or approved by the director (`PupilSchedule`).

Times are local to the schedule's IANA time zone (Asia/Almaty by default) and become UTC only
when the lessons are expanded (`controller.schedules.expansion`), so a change of the zone's rules
needs no change here. What is wrong with a schedule as a whole (overlapping lessons, a
cancellation of a lesson that does not take place) is `controller.schedules.validation`'s.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from controller.errors import InvalidValue
from controller.loans.schemas import REF
from controller.schedules.errors import DOMAIN
from protocol.models import LessonMode

DEFAULT_TIMEZONE: Final = "Asia/Almaty"
MAX_LESSON_MINUTES: Final = 480
MINUTES_PER_DAY: Final = 24 * 60
MINUTES_PER_WEEK: Final = 7 * MINUTES_PER_DAY
WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleStatus(StrEnum):
    """A draft is being agreed; only an approved schedule reaches the pupil's kit."""

    DRAFT = "draft"
    APPROVED = "approved"


# --- value types -------------------------------------------------------------------------------

_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})(?::00)?", re.ASCII)


def parse_clock(value: object) -> object:
    """A local time of day from "9:00", "09:00" or "09:00:00" (minutes, no seconds)."""
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise InvalidValue(DOMAIN, "value.clock_local")
        return value
    if not isinstance(value, str):
        return value
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        raise InvalidValue(DOMAIN, "value.clock_form")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise InvalidValue(DOMAIN, "value.clock_missing")
    return dt.time(hour, minute)


def hhmm(value: dt.time) -> str:
    """A time of day as HH:MM."""
    return value.strftime("%H:%M")


LocalTime = Annotated[dt.time, BeforeValidator(parse_clock), PlainSerializer(hhmm, return_type=str)]
"""A local time of day, HH:MM."""

_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]", re.ASCII)
_URL = re.compile(r"(?i)(https?)://([^/?#]+)")
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def parse_server(value: object) -> object:
    """An online lesson's server as host:port, from "host:port" or a https:// or http:// URL."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    port: int | None = None
    if match := _URL.match(text):
        scheme, text = match.group(1).lower(), match.group(2).rsplit("@", 1)[-1]
        port = _DEFAULT_PORTS[scheme]
    host, sep, port_text = text.rpartition(":")
    if sep and (host.startswith("[") or ":" not in host):
        if not port_text.isascii() or not port_text.isdigit():
            raise InvalidValue(DOMAIN, "value.server_form")
        port = int(port_text)
    else:
        host = text
    if port is None:
        raise InvalidValue(DOMAIN, "value.server_port_missing")
    if not 1 <= port <= 65535:
        raise InvalidValue(DOMAIN, "value.server_port_range")
    if not (_HOST.fullmatch(host) or _IPV6.fullmatch(host)):
        raise InvalidValue(DOMAIN, "value.server_host")
    return f"{host.lower()}:{port}"


Server = Annotated[str, BeforeValidator(parse_server), Field(max_length=255)]
"""host:port of an online lesson's server."""


def minute_of_day(clock: dt.time) -> int:
    """Minutes since midnight of a time of day."""
    return clock.hour * 60 + clock.minute


def check_timezone(name: str) -> str:
    """The name of an IANA time zone zoneinfo knows, e.g. Asia/Almaty."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(DOMAIN, "value.timezone", zone=repr(name)) from None
    return name


# --- the schedule ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Span(_Model):
    start: dt.date = Field(description="the first day")
    end: dt.date = Field(description="the last day (inclusive)")
    name: str = Field(default="", max_length=100)

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if isinstance(start, dt.date) and end < start:
            raise InvalidValue(DOMAIN, "value.span_order", end=end, start=start)
        return end

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


class Term(_Span):
    """A term (e.g. a school quarter): the weekly lessons take place within terms only."""


class Holiday(_Span):
    """Days without weekly lessons (a school holiday, a public holiday)."""


class BaseLesson(_Model):
    """What every lesson is made of: start, duration, subject, teacher, mode, server."""

    start: LocalTime = Field(description="local start time, HH:MM")
    duration_min: int = Field(ge=1, le=MAX_LESSON_MINUTES)
    subject: str = Field(min_length=1, max_length=200)
    teacher: str = Field(default="", max_length=200, description="the teacher's name (staff)")
    mode: LessonMode = LessonMode.ONLINE
    server: Server | None = Field(
        default=None, validate_default=True, description="host:port; online lessons only"
    )

    @field_validator("subject", "teacher", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("server")
    @classmethod
    def _server_fits_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode is LessonMode.ONLINE and value is None:
            raise InvalidValue(DOMAIN, "value.online_needs_server")
        if mode is not None and mode is not LessonMode.ONLINE and value is not None:
            raise InvalidValue(DOMAIN, "value.server_online_only", mode=mode.value)
        return value


class Slot(BaseLesson):
    """A lesson every week on `weekday` (0 Monday .. 6 Sunday) within the terms."""

    weekday: int = Field(ge=0, le=6, description="0 Monday .. 6 Sunday")
    valid_from: dt.date | None = Field(default=None, description="from this day on only")
    valid_until: dt.date | None = Field(default=None, description="up to this day only")

    @model_validator(mode="after")
    def _validity(self) -> Slot:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise InvalidValue(DOMAIN, "value.validity_order")
        return self

    def holds_on(self, day: dt.date) -> bool:
        """Whether the slot's validity covers `day` (weekday, terms and holidays aside)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class Extra(BaseLesson):
    """A one-off lesson on a date."""

    date: dt.date


class Cancellation(_Model):
    """A weekly lesson that does not take place: its date and its slot's start time."""

    date: dt.date
    start: LocalTime
    reason: str = Field(default="", max_length=500)


class Move(_Model):
    """A weekly lesson given at another date and time (and perhaps for another duration)."""

    date: dt.date = Field(description="the lesson's own date")
    start: LocalTime = Field(description="the lesson's own start (the slot's)")
    to_date: dt.date
    to_start: LocalTime
    duration_min: int | None = Field(
        default=None, ge=1, le=MAX_LESSON_MINUTES, description="empty: as the slot's"
    )
    reason: str = Field(default="", max_length=500)


class ScheduleContent(_Model):
    """What the deputy director draws up: time zone, terms, weekly slots and exceptions."""

    timezone: str = Field(
        default=DEFAULT_TIMEZONE, max_length=64, description="IANA time zone of the local times"
    )
    terms: tuple[Term, ...] = Field(default=(), max_length=12)
    slots: tuple[Slot, ...] = Field(default=(), max_length=200)
    holidays: tuple[Holiday, ...] = Field(default=(), max_length=100)
    cancellations: tuple[Cancellation, ...] = Field(default=(), max_length=1000)
    moves: tuple[Move, ...] = Field(default=(), max_length=1000)
    extras: tuple[Extra, ...] = Field(default=(), max_length=1000)
    drawn_up_by: str | None = Field(
        default=None, max_length=200, description="who drew it up (the deputy director)"
    )

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        return check_timezone(value.strip()) if isinstance(value, str) else value

    def content(self) -> ScheduleContent:
        """Only what was drawn up (without the pupil and the approval)."""
        return ScheduleContent.model_validate(
            self.model_dump(include=set(ScheduleContent.model_fields))
        )


class PupilSchedule(ScheduleContent):
    """A pupil's schedule with its approval: only an approved one is published to the kit."""

    pupil_ref: str = Field(pattern=REF)
    status: ScheduleStatus = ScheduleStatus.DRAFT
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _approval(self) -> PupilSchedule:
        approved = self.approved_by is not None and self.approved_at is not None
        if self.status is ScheduleStatus.APPROVED and not approved:
            raise InvalidValue(DOMAIN, "value.approved_needs_who")
        if self.status is ScheduleStatus.DRAFT and (self.approved_by or self.approved_at):
            raise InvalidValue(DOMAIN, "value.draft_not_approved")
        return self


def for_pupil(content: ScheduleContent, pupil_ref: str) -> PupilSchedule:
    """A draft of `content` for the pupil."""
    return PupilSchedule.model_validate({**content.content().model_dump(), "pupil_ref": pupil_ref})


def approved(schedule: PupilSchedule, *, by: str, at: dt.datetime) -> PupilSchedule:
    """The same schedule, approved by `by` (the director) at `at`."""
    return PupilSchedule.model_validate(
        {
            **schedule.model_dump(),
            "status": ScheduleStatus.APPROVED,
            "approved_by": by,
            "approved_at": at,
        }
    )
