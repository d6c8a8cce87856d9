"""What staff read of a kit's or a pupil's content, and the alerts for lessons soon without it.

A task is synced when the kit serves the newest manifest, or works on it and misses none of the
task's resources. A lesson starting within `ALERT_LEAD` whose tasks' resources are not on the
kit (its own readiness report says so, or it does not serve the manifest naming them yet) is an
alert.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Final

from pydantic import ValidationError
from sqlalchemy.orm import Session

from common.i18n import Lang, catalogue
from controller.content import assignments, manifest_store
from controller.content.assignment_errors import AssignmentNotFoundError
from controller.content.assignment_schemas import (
    AssignmentSync,
    ContentAlert,
    KitContentPublic,
    PupilContentPublic,
    SyncError,
)
from controller.content.assignment_tables import Assignment
from controller.content.manifest_tables import IssuedManifest
from controller.content.sync_status import status_of
from controller.content.sync_status_tables import KitContentStatus
from controller.fleet import queries as fleet
from controller.loans import queries as loans
from controller.schedules import service as schedules
from controller.trust.tables import User
from protocol.content import ContentManifest, LessonContent, SyncState

ALERT_LEAD: Final = timedelta(minutes=30)
"""A lesson this close whose content is not on the kit is an alert."""


def manifest_of(row: IssuedManifest) -> ContentManifest | None:
    """The manifest a stored document signs (None if it cannot be read)."""
    try:
        return ContentManifest.model_validate(json.loads(row.document)["signed"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def lesson_soon(document: bytes, now: datetime) -> bool:
    """Whether a stored manifest lists a lesson starting within ALERT_LEAD (read cheaply: the
    whole manifest is parsed only for those)."""
    try:
        lessons = json.loads(document)["signed"]["lessons"]
        starts = [datetime.fromisoformat(lesson["start"]) for lesson in lessons]
    except (ValueError, KeyError, TypeError):
        return False
    return any(now <= start <= now + ALERT_LEAD for start in starts)


def _task_sync(
    row: Assignment,
    manifest: ContentManifest | None,
    latest: IssuedManifest | None,
    status: KitContentStatus | None,
) -> AssignmentSync:
    in_manifest = manifest is not None and any(t.id == row.task_id for t in manifest.tasks)
    missing = list(row.resources)
    if in_manifest and latest is not None and status is not None:
        if status.serving_version == latest.version:
            missing = []
        elif status.manifest_version == latest.version:
            missing = [r for r in row.resources if r in set(status.missing)]
    return AssignmentSync(
        id=row.id,
        task_id=row.task_id,
        type=row.type,
        subject=row.subject,
        lesson_start=row.lesson_start,
        due_at=row.due_at,
        in_manifest=in_manifest,
        synced=in_manifest and not missing,
        missing=missing,
    )


def _lessons(status: KitContentStatus | None) -> list[LessonContent]:
    out = []
    for item in status.lessons if status is not None else []:
        try:
            out.append(LessonContent.model_validate(item))
        except ValidationError:
            continue
    return out


def kit_view(session: Session, kit_id: str, now: datetime) -> KitContentPublic:
    """A kit's content as staff see it (the caller checked who may)."""
    pupil_ref = schedules.pupil_for_kit(session, kit_id)
    latest = manifest_store.latest(session, kit_id)
    manifest = manifest_of(latest) if latest is not None else None
    status = status_of(session, kit_id)
    rows = assignments.for_pupil(session, pupil_ref) if pupil_ref is not None else []
    error = None
    if status is not None and status.error_reason and status.error_at is not None:
        error = SyncError(
            reason=status.error_reason, detail=status.error_detail, at=status.error_at
        )
    return KitContentPublic(
        kit_id=kit_id,
        pupil_ref=pupil_ref,
        latest_version=latest.version if latest is not None else None,
        latest_expires_at=latest.expires_at if latest is not None else None,
        manifest_version=status.manifest_version if status is not None else None,
        serving_version=status.serving_version if status is not None else None,
        state=SyncState(status.state) if status is not None else None,
        bytes_total=status.bytes_total if status is not None else 0,
        bytes_have=status.bytes_have if status is not None else 0,
        bytes_to_go=status.bytes_to_go if status is not None else 0,
        missing=list(status.missing) if status is not None else [],
        last_error=error,
        lessons=_lessons(status),
        assignments=[
            _task_sync(r, manifest, latest, status) for r in rows if assignments.is_active(r, now)
        ],
        updated_at=status.updated_at if status is not None else None,
    )


def kit_content(session: Session, *, user: User, kit_id: str, now: datetime) -> KitContentPublic:
    """A kit's content: admins and technicians any kit, a teacher only their pupil's."""
    if fleet.get_kit(session, kit_id=kit_id) is None:
        raise AssignmentNotFoundError.translated("refused.no_kit", kit=kit_id)
    pupil_ref = schedules.pupil_for_kit(session, kit_id)
    if user.role == "teacher" and (
        pupil_ref is None or not loans.may_see_pupil(session, user, pupil_ref)
    ):
        raise AssignmentNotFoundError.translated("refused.no_kit", kit=kit_id)
    return kit_view(session, kit_id, now)


def pupil_content(
    session: Session, *, user: User, pupil_ref: str, now: datetime
) -> PupilContentPublic:
    """A pupil's content on each kit lent to them (teachers: their own pupils only)."""
    if not loans.may_see_pupil(session, user, pupil_ref):
        raise AssignmentNotFoundError.translated("refused.no_pupil", pupil=pupil_ref)
    return PupilContentPublic(
        pupil_ref=pupil_ref,
        kits=[kit_view(session, k, now) for k in schedules.kits_for_pupil(session, pupil_ref)],
    )


def _unready(
    manifest: ContentManifest,
    latest: IssuedManifest,
    status: KitContentStatus | None,
    now: datetime,
) -> list[tuple[datetime, str, list[str]]]:
    """The lessons starting within ALERT_LEAD whose resources are not on the kit: missing ids.

    The kit's own per-lesson report counts only when it is about the newest manifest."""
    current = status is not None and status.manifest_version == latest.version
    reported = {lesson.start: lesson for lesson in _lessons(status)} if current else {}
    found = []
    for lesson in manifest.lessons:
        if not now <= lesson.start <= now + ALERT_LEAD:
            continue
        needed = [r.id for r in manifest.resources_for(lesson.start)]
        if not needed or (status is not None and status.serving_version == latest.version):
            continue
        seen = reported.get(lesson.start)
        if seen is not None and seen.ready:
            continue
        missing = list(seen.missing) if seen is not None and seen.missing else needed
        found.append((lesson.start, lesson.subject, missing))
    return found


def alerts(session: Session, *, now: datetime, lang: Lang = "en") -> list[ContentAlert]:
    """Every lesson within ALERT_LEAD whose content is not on its kit."""
    texts = catalogue("assignments")
    out = []
    active = set(fleet.active_kit_ids(session))
    for kit_id, latest in manifest_store.newest_per_kit(session).items():
        if kit_id not in active:
            continue
        manifest = manifest_of(latest) if lesson_soon(latest.document, now) else None
        if manifest is None:
            continue
        status = status_of(session, kit_id)
        for start, subject, missing in _unready(manifest, latest, status, now):
            minutes = max(0, int((start - now).total_seconds() // 60))
            out.append(
                ContentAlert(
                    kit_id=kit_id,
                    pupil_ref=schedules.pupil_for_kit(session, kit_id),
                    lesson_start=start,
                    subject=subject,
                    missing=missing,
                    message=texts.text(
                        "alert.lesson_content",
                        lang,
                        kit=kit_id,
                        minutes=minutes,
                        subject=subject,
                        count=len(missing),
                    ),
                )
            )
    return out
