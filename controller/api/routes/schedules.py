"""Pupils' individual lesson schedules, their lessons, and what each kit gets."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.api.deps import AppState, SessionDep, StateDep, require
from controller.errors import ConfigError
from controller.loans import people
from controller.loans.tables import Pupil
from controller.platform.crypto import FieldCipher
from controller.schedules import model, service
from controller.schedules.errors import (
    ScheduleError,
    ScheduleImportError,
    ScheduleInvalidError,
)
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.limits import KIT_ID_PATTERN
from protocol.models import Schedule
from protocol.timebounds import BoundedDatetime, dates_within

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["schedules"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
RefPath = Annotated[str, Path(pattern=people.REF, description="the pupil's reference")]
KitIdPath = Annotated[str, Path(pattern=KIT_ID_PATTERN, description="the kit's id")]

MAX_UPLOAD = 1024 * 1024
"""The largest schedule file accepted (a year of lessons as CSV is a few tens of KiB)."""
MAX_RANGE = timedelta(days=400)


class ScheduleOut(BaseModel):
    """A stored version of a pupil's schedule: what was drawn up, its approval, its kits."""

    pupil_ref: str
    version: int
    status: model.ScheduleStatus
    in_force_version: int | None = Field(
        description="the newest approved version: the one the pupil's kits get"
    )
    source: str = Field(description="api, csv or ics")
    saved_by: str
    saved_at: datetime
    drawn_up_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    kit_ids: list[str] = Field(description="the kits lent to the pupil (signed contracts)")
    schedule: model.ScheduleContent


class ApproveIn(BaseModel):
    """Who approved the schedule (the director); by default the one recording it."""

    model_config = ConfigDict(extra="forbid")

    approved_by: str | None = Field(default=None, min_length=2, max_length=200)


class LessonOut(BaseModel):
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


class LessonsOut(BaseModel):
    """A pupil's lessons in a range."""

    pupil_ref: str
    timezone: str | None
    version: int | None = Field(description="the version they come from; none: no schedule")
    draft: bool
    start: datetime
    end: datetime
    lessons: list[LessonOut]


def _fail(exc: ScheduleError) -> HTTPException:
    if isinstance(exc, ScheduleInvalidError):
        return HTTPException(
            status_code=exc.status,
            detail={
                "message": "the schedule contradicts itself",
                "problems": [p.as_dict() for p in exc.problems],
            },
        )
    return HTTPException(status_code=exc.status, detail=str(exc))


def _visible_pupil(session: Session, user: User, ref: str) -> Pupil:
    """The pupil, if this member of staff may see them (a teacher: their own); 404 otherwise."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None or (user.role == Role.TEACHER and pupil.teacher != user.username):
        raise HTTPException(status_code=404, detail=f"no pupil {ref!r} that you may see")
    return pupil


def _publish(state: AppState, kit_ids: list[str]) -> None:
    """Tell the ingest to publish these kits' schedules (after the commit), if it can."""
    if not kit_ids or state.ingest is None:
        return
    publish = getattr(state.ingest, "publish_schedules", None)
    if publish is None:
        _LOGGER.info("no schedule publisher yet: kits %s get theirs later", kit_ids)
        return
    try:
        publish(kit_ids)
    except Exception:
        _LOGGER.exception("publishing the schedules of kits %s failed", kit_ids)


def _out(session: Session, stored: service.StoredSchedule) -> ScheduleOut:
    schedule = stored.schedule
    return ScheduleOut(
        pupil_ref=stored.pupil_ref,
        version=stored.version,
        status=schedule.status,
        in_force_version=stored.in_force_version,
        source=stored.source,
        saved_by=stored.saved_by,
        saved_at=stored.saved_at,
        drawn_up_by=schedule.drawn_up_by,
        approved_by=schedule.approved_by,
        approved_at=schedule.approved_at,
        kit_ids=service.kits_for_pupil(session, stored.pupil_ref),
        schedule=schedule.content(),
    )


@router.get(
    "/pupils/{ref}/schedule",
    response_model=ScheduleOut,
    responses={404: {"description": "no such pupil (that you may see), or no schedule yet"}},
)
def get_schedule(
    ref: RefPath,
    session: SessionDep,
    user: Staff,
    version: Annotated[int | None, Query(ge=1, description="an older version")] = None,
) -> ScheduleOut:
    """The pupil's current schedule (or an older version): admins, technicians, their teacher."""
    _visible_pupil(session, user, ref)
    stored = service.get(session, ref, version=version)
    if stored is None:
        what = f"no version {version}" if version else "no schedule yet"
        raise HTTPException(status_code=404, detail=f"pupil {ref} has {what}")
    return _out(session, stored)


@router.put(
    "/pupils/{ref}/schedule",
    response_model=ScheduleOut,
    responses={
        404: {"description": "no such pupil"},
        422: {"description": "the schedule contradicts itself: each problem and where"},
    },
)
def put_schedule(
    *,
    ref: RefPath,
    data: Annotated[model.ScheduleContent, AfterValidator(dates_within)],
    session: SessionDep,
    state: StateDep,
    user: Admin,
) -> ScheduleOut:
    """Save a new version of the pupil's schedule, as a draft to approve (audited)."""
    try:
        change = service.save_schedule(
            session, pupil_ref=ref, schedule=data, actor=user.username, now=datetime.now(UTC)
        )
    except ScheduleError as exc:
        raise _fail(exc) from exc
    session.commit()
    _publish(state, change.kit_ids)
    return _out(session, change.stored)


@router.post(
    "/pupils/{ref}/schedule/approve",
    response_model=ScheduleOut,
    responses={
        404: {"description": "no such pupil, or no schedule"},
        409: {"description": "the current version is approved already"},
    },
)
def approve_schedule(
    *,
    ref: RefPath,
    session: SessionDep,
    state: StateDep,
    user: Admin,
    data: ApproveIn | None = None,
) -> ScheduleOut:
    """Record the director's approval of the current version: it goes to the pupil's kits."""
    try:
        change = service.approve(
            session,
            pupil_ref=ref,
            actor=user.username,
            now=datetime.now(UTC),
            approved_by=data.approved_by if data is not None else None,
        )
    except ScheduleError as exc:
        raise _fail(exc) from exc
    session.commit()
    _publish(state, change.kit_ids)
    return _out(session, change.stored)


def _cipher(state: AppState) -> FieldCipher | None:
    try:
        return people.cipher(state.settings)
    except ConfigError:
        return None


@router.post(
    "/pupils/{ref}/schedule/import",
    responses={
        200: {"description": "the new version's summary"},
        404: {"description": "no such pupil"},
        413: {"description": "the file is too large"},
        422: {"description": "a bad file: every error with its line and field; nothing stored"},
    },
)
async def import_schedule(
    *,
    ref: RefPath,
    request: Request,
    session: SessionDep,
    state: StateDep,
    user: Admin,
    file_format: Annotated[
        Literal["csv", "ics"] | None,
        Query(alias="format", description="csv or ics; by default from the content type"),
    ] = None,
    timezone: Annotated[
        str | None, Query(max_length=64, description="IANA zone of the file's local times")
    ] = None,
    approve: Annotated[bool, Query(description="also record the director's approval")] = False,
) -> JSONResponse:
    """Import the pupil's schedule from a CSV or iCalendar (.ics) file as a new version."""
    raw = await request.body()
    if len(raw) > MAX_UPLOAD:
        raise HTTPException(
            status_code=413, detail=f"a schedule file is at most {MAX_UPLOAD} bytes"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(status_code=422, detail="the file is not UTF-8 text") from exc
    fmt = file_format or service.detect_format(text, request.headers.get("content-type"))
    try:
        change = service.import_schedule(
            session,
            pupil_ref=ref,
            text=text,
            fmt=fmt,
            actor=user.username,
            now=datetime.now(UTC),
            timezone=timezone,
            approve_now=approve,
            iin_matches=service.iin_matcher(session, ref, _cipher(state)),
        )
    except ScheduleImportError as exc:
        session.rollback()
        errors = [
            {"row": e.row or None, "column": e.column, "reason": e.reason} for e in exc.errors
        ]
        return JSONResponse(
            {
                "detail": f"nothing imported: {len(errors)} error(s) in the {fmt} file",
                "errors": errors,
            },
            status_code=422,
        )
    except ScheduleError as exc:
        session.rollback()
        raise _fail(exc) from exc
    session.commit()
    _publish(state, change.kit_ids)
    summary = service.summary(change.stored)
    summary["kit_ids"] = service.kits_for_pupil(session, ref)
    return JSONResponse(_jsonable(summary))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()}


def _moment(value: datetime | None, zone: ZoneInfo, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


@router.get(
    "/pupils/{ref}/lessons",
    response_model=LessonsOut,
    responses={404: {"description": "no such pupil (that you may see)"}},
)
def list_lessons(
    *,
    ref: RefPath,
    session: SessionDep,
    user: Staff,
    start: Annotated[
        BoundedDatetime | None,
        Query(
            description="from (ISO date or time; without a zone: the schedule's; years 2000 to "
            "2100); default now"
        ),
    ] = None,
    end: Annotated[
        BoundedDatetime | None, Query(description="until; default a week after start")
    ] = None,
    draft: Annotated[
        bool, Query(description="the current version even if not approved yet")
    ] = False,
) -> LessonsOut:
    """The pupil's lessons (in force, or the draft) in [start, end): UTC and local times."""
    _visible_pupil(session, user, ref)
    stored = service.get(session, ref) if draft else service.in_force(session, ref)
    zone = ZoneInfo(stored.schedule.timezone if stored else model.DEFAULT_TIMEZONE)
    since = _moment(start, zone, datetime.now(UTC))
    until = _moment(end, zone, since + timedelta(days=7))
    if until <= since or until - since > MAX_RANGE:
        raise HTTPException(
            status_code=422, detail=f"end must come after start, at most {MAX_RANGE.days} days on"
        )
    lessons = model.occurrences(stored.schedule, since, until) if stored is not None else []
    return LessonsOut(
        pupil_ref=ref,
        timezone=stored.schedule.timezone if stored is not None else None,
        version=stored.version if stored is not None else None,
        draft=draft,
        start=since,
        end=until,
        lessons=[_lesson(o, zone) for o in lessons],
    )


def _lesson(occurrence: model.Occurrence, zone: ZoneInfo) -> LessonOut:
    moved = occurrence.moved_from
    return LessonOut(
        start=occurrence.start,
        end=occurrence.end,
        local_date=occurrence.local_date,
        local_start=occurrence.start.astimezone(zone).strftime("%H:%M"),
        local_end=occurrence.end.astimezone(zone).strftime("%H:%M"),
        weekday=model.WEEKDAYS[occurrence.local_date.weekday()],
        subject=occurrence.subject,
        teacher=occurrence.teacher,
        mode=occurrence.mode.value,
        server=occurrence.server,
        origin=occurrence.origin,
        moved_from=f"{moved[0]} {moved[1]:%H:%M}" if moved is not None else None,
    )


@router.get(
    "/kits/{kit_id}/schedule",
    response_model=Schedule,
    responses={404: {"description": "the kit has no pupil, or the pupil no approved schedule"}},
)
def kit_schedule(kit_id: KitIdPath, session: SessionDep, state: StateDep, user: Reader) -> Schedule:
    """Exactly what the kit gets on kits/{kit_id}/schedule now: no teacher or pupil names."""
    settings = state.settings  # the publisher's settings, so that this is what the kit gets
    schedule = service.kit_schedule(
        session,
        kit_id=kit_id,
        now=datetime.now(UTC),
        horizon=timedelta(days=int(getattr(settings, "schedule_horizon_days", 14))),
        guard_minutes=int(getattr(settings, "guard_minutes", 15)),
        prelesson_minutes=int(getattr(settings, "prelesson_minutes", 30)),
    )
    if schedule is not None:
        return schedule
    pupil_ref = service.pupil_for_kit(session, kit_id)
    if pupil_ref is None:
        detail = f"kit {kit_id} is not lent to a pupil under a signed contract"
    else:
        detail = f"the pupil of kit {kit_id} ({pupil_ref}) has no approved schedule"
    raise HTTPException(status_code=404, detail=detail)
