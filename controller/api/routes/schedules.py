"""Pupils' individual lesson schedules, their lessons, and what each kit gets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from controller.api import offload
from controller.api.csv_download import csv_download, package_text
from controller.api.deps import AppState, SessionDep, StateDep, require
from controller.api.offload import Upload
from controller.loans import people
from controller.schedules import service
from controller.schedules.schemas import (
    ApprovalCreate,
    LessonsPublic,
    ScheduleCreate,
    ScheduleImportPublic,
    SchedulePublic,
)
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.limits import KIT_ID_PATTERN
from protocol.models import Schedule
from protocol.timebounds import BoundedDatetime

router = APIRouter(prefix="/api/v1", tags=["schedules"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN, Role.TEACHER))]
Reader = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
RefPath = Annotated[str, Path(pattern=people.REF, description="the pupil's reference")]
KitIdPath = Annotated[str, Path(pattern=KIT_ID_PATTERN, description="the kit's id")]


def _publisher(state: AppState) -> service.Publish | None:
    """What publishes kits' schedules after a change, if this process has it."""
    return state.publisher.request if state.publisher is not None else None


@router.get(
    "/pupils/{ref}/schedule",
    response_model=SchedulePublic,
    responses={404: {"description": "no such pupil (that you may see), or no schedule yet"}},
)
def get_schedule(
    ref: RefPath,
    session: SessionDep,
    user: Staff,
    version: Annotated[int | None, Query(ge=1, description="an older version")] = None,
) -> SchedulePublic:
    """The pupil's current schedule (or an older version): admins, technicians, their teacher."""
    return service.get_schedule(session, pupil_ref=ref, user=user, version=version)


@router.put(
    "/pupils/{ref}/schedule",
    response_model=SchedulePublic,
    responses={
        404: {"description": "no such pupil"},
        422: {"description": "the schedule contradicts itself: each problem and where"},
    },
)
def put_schedule(
    *, ref: RefPath, data: ScheduleCreate, session: SessionDep, user: Admin
) -> SchedulePublic:
    """Save a new version of the pupil's schedule, as a draft to approve (audited)."""
    return service.put_schedule(
        session, pupil_ref=ref, schedule=data, actor=user.username, now=datetime.now(UTC)
    )


@router.post(
    "/pupils/{ref}/schedule/approve",
    response_model=SchedulePublic,
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
    data: ApprovalCreate | None = None,
) -> SchedulePublic:
    """Record the director's approval of the current version: it goes to the pupil's kits."""
    return service.approve_schedule(
        session,
        pupil_ref=ref,
        approval=data,
        actor=user.username,
        now=datetime.now(UTC),
        publish=_publisher(state),
    )


@router.post(
    "/pupils/{ref}/schedule/import",
    response_model=ScheduleImportPublic,
    responses={
        200: {"description": "the new version's summary"},
        404: {"description": "no such pupil"},
        413: {"description": "the file is too large"},
        422: {"description": "a bad file: every error with its line and field; nothing stored"},
    },
    openapi_extra=offload.upload_body(
        "text/csv",
        "text/calendar",
        description="the schedule as CSV (columns: GET /api/v1/schedules/template.csv and the "
        "README) or iCalendar (.ics), as the body or as the part `file` of a form",
    ),
)
async def import_schedule(
    *,
    ref: RefPath,
    upload: Upload,
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
) -> ScheduleImportPublic:
    """Import the pupil's schedule from a CSV or iCalendar (.ics) file as a new version."""
    return await offload.run(  # in a worker thread, one import at a time
        service.import_file,
        session,
        pupil_ref=ref,
        raw=upload.data,
        content_type=upload.content_type,
        file_format=file_format,
        timezone=timezone,
        approve_now=approve,
        actor=user.username,
        now=datetime.now(UTC),
        settings=state.settings,
        publish=_publisher(state),
    )


@router.get(
    "/schedules/template.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def schedule_template(user: Admin) -> Response:
    """A schedule CSV template: its columns and example rows (a slot, a term, a holiday...)."""
    template = package_text("controller.schedules", "templates/schedule.csv")
    return csv_download(template, "schedule-template.csv")


@router.get(
    "/pupils/{ref}/lessons",
    response_model=LessonsPublic,
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
) -> LessonsPublic:
    """The pupil's lessons (in force, or the draft) in [start, end): UTC and local times."""
    return service.list_lessons(
        session,
        pupil_ref=ref,
        user=user,
        start=start,
        end=end,
        draft=draft,
        now=datetime.now(UTC),
    )


@router.get(
    "/kits/{kit_id}/schedule",
    response_model=Schedule,
    responses={404: {"description": "the kit has no pupil, or the pupil no approved schedule"}},
)
def kit_schedule(kit_id: KitIdPath, session: SessionDep, state: StateDep, user: Reader) -> Schedule:
    """Exactly what the kit gets on kits/{kit_id}/schedule now: no teacher or pupil names."""
    # The publisher's settings, so that this is what the kit gets.
    return service.kit_schedule_now(
        session, kit_id=kit_id, now=datetime.now(UTC), settings=state.settings
    )
