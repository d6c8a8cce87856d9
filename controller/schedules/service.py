"""The schedules' front door: what the API, the command line and other domains call.

A change (a new version, an approval, an import) is stored by `versions`, audited there, and
committed here; then the kits whose schedule it changed are published to (`publish`, after the
commit, or the publisher would read the old schedule). A save never changes what a kit gets: only
an approval does. The functions named after the API's endpoints answer with its schemas and
refuse with `ScheduleError`s carrying their HTTP status; a pupil is shown only to those who may
see them (a teacher: their own pupils). Other domains reach the schedules through the functions
this module re-exports: the pupil's kits and lessons, the kit's schedule (`kits`), a stored
version (`versions`), a file's format (`files`), a version for a person (`describe`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.loans import queries as loans
from controller.loans import service as loans_service
from controller.platform.crypto import FieldCipher
from controller.schedules import expansion, files, model, versions
from controller.schedules.describe import describe as describe
from controller.schedules.describe import summary as summary
from controller.schedules.errors import LessonRangeError, ScheduleNotFoundError
from controller.schedules.files import Format
from controller.schedules.files import detect_format as detect_format
from controller.schedules.files import iin_matcher as iin_matcher
from controller.schedules.kits import configured_kit_schedule as configured_kit_schedule
from controller.schedules.kits import kit_schedule as kit_schedule
from controller.schedules.kits import kits_for_pupil as kits_for_pupil
from controller.schedules.kits import lessons_for_pupil as lessons_for_pupil
from controller.schedules.kits import pupil_for_kit as pupil_for_kit
from controller.schedules.schemas import (
    ApprovalCreate,
    LessonPublic,
    LessonsPublic,
    ScheduleImportPublic,
    SchedulePublic,
)
from controller.schedules.versions import StoredSchedule
from controller.schedules.versions import get as get
from controller.trust.tables import User
from protocol.models import Schedule

_LOGGER = logging.getLogger(__name__)

MAX_RANGE: Final = timedelta(days=400)
"""The longest range of lessons asked for at once."""

Publish = Callable[[list[str]], None]
"""Asks for these kits' schedules to be published (the MQTT adapter's `publish_schedules`)."""


@dataclass(frozen=True)
class Change:
    """What a save or an approval stored, and the kits whose schedule it changed."""

    stored: StoredSchedule
    kit_ids: list[str] = field(default_factory=list)


def _committed(
    session: Session, stored: StoredSchedule, kit_ids: list[str], publish: Publish | None
) -> Change:
    """Commit, then ask for the kits' schedules to be published (a failure is only logged)."""
    session.commit()
    if kit_ids and publish is not None:
        try:
            publish(kit_ids)
        except Exception:
            _LOGGER.exception("publishing the schedules of kits %s failed", kit_ids)
    return Change(stored, kit_ids)


def save_schedule(
    session: Session,
    *,
    pupil_ref: str,
    schedule: model.ScheduleContent,
    actor: str,
    now: datetime,
    source: versions.Source = "api",
) -> Change:
    """Store and commit a new version (a draft) of the pupil's schedule, checked whole; audited.

    Raises ScheduleNotFoundError for an unknown pupil and ScheduleInvalidError for a schedule
    that contradicts itself. The version in force does not change: `kit_ids` is empty.
    """
    stored = versions.add(
        session, pupil_ref=pupil_ref, schedule=schedule, actor=actor, now=now, source=source
    )
    return _committed(session, stored, [], None)


def approve(
    session: Session,
    *,
    pupil_ref: str,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
    publish: Publish | None = None,
) -> Change:
    """Approve and commit the current version (by the director, `approved_by`; default the actor).

    It is then in force: `kit_ids` are the pupil's kits, published to if `publish` is given.
    Raises ScheduleNotFoundError when there is no schedule, ScheduleError (409) when the current
    version is approved already.
    """
    stored = versions.approve(
        session, pupil_ref=pupil_ref, actor=actor, now=now, approved_by=approved_by
    )
    return _committed(session, stored, kits_for_pupil(session, pupil_ref), publish)


def import_schedule(
    session: Session,
    *,
    pupil_ref: str,
    text: str,
    fmt: Format,
    actor: str,
    now: datetime,
    timezone: str | None = None,
    approve_now: bool = False,
    approved_by: str | None = None,
    iin_matches: Callable[[str], bool] | None = None,
    publish: Publish | None = None,
) -> Change:
    """Read a CSV or iCalendar file and commit it as the pupil's new version (approved if asked).

    Nothing is stored from a file with any error (ScheduleImportError lists them). A CSV without
    terms or holidays keeps those of the current version.
    """
    versions.require_pupil(session, pupil_ref)
    current = versions.get(session, pupil_ref)
    content = files.parse(
        text,
        fmt=fmt,
        pupil_ref=pupil_ref,
        base=current.schedule if current is not None else None,
        timezone=timezone,
        iin_matches=iin_matches,
    )
    stored = versions.add(
        session, pupil_ref=pupil_ref, schedule=content, actor=actor, now=now, source=fmt
    )
    if not approve_now:
        return _committed(session, stored, [], None)
    stored = versions.approve(
        session, pupil_ref=pupil_ref, actor=actor, now=now, approved_by=approved_by
    )
    return _committed(session, stored, kits_for_pupil(session, pupil_ref), publish)


# --- for the API ---------------------------------------------------------------------------------


def _require_visible(session: Session, user: User, pupil_ref: str) -> None:
    """Refuse a pupil this member of staff may not see (a teacher: not their own) as unknown."""
    if not loans.may_see_pupil(session, user, pupil_ref):
        raise ScheduleNotFoundError.translated("refused.no_pupil_visible", pupil=pupil_ref)


def _public(session: Session, stored: StoredSchedule) -> SchedulePublic:
    schedule = stored.schedule
    return SchedulePublic(
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
        kit_ids=kits_for_pupil(session, stored.pupil_ref),
        schedule=schedule.content(),
    )


def get_schedule(
    session: Session, *, pupil_ref: str, user: User, version: int | None = None
) -> SchedulePublic:
    """The pupil's current schedule (or `version`), if `user` may see the pupil; else 404."""
    _require_visible(session, user, pupil_ref)
    stored = versions.get(session, pupil_ref, version=version)
    if stored is None:
        if version:
            raise ScheduleNotFoundError.translated(
                "refused.no_version", pupil=pupil_ref, version=version
            )
        raise ScheduleNotFoundError.translated("refused.no_schedule", pupil=pupil_ref)
    return _public(session, stored)


def put_schedule(
    session: Session, *, pupil_ref: str, schedule: model.ScheduleContent, actor: str, now: datetime
) -> SchedulePublic:
    """Save a new version of the pupil's schedule as a draft to approve (committed, audited)."""
    change = save_schedule(session, pupil_ref=pupil_ref, schedule=schedule, actor=actor, now=now)
    return _public(session, change.stored)


def approve_schedule(
    session: Session,
    *,
    pupil_ref: str,
    approval: ApprovalCreate | None,
    actor: str,
    now: datetime,
    publish: Publish | None,
) -> SchedulePublic:
    """Record the director's approval of the current version; it goes to the pupil's kits."""
    change = approve(
        session,
        pupil_ref=pupil_ref,
        actor=actor,
        now=now,
        approved_by=approval.approved_by if approval is not None else None,
        publish=publish,
    )
    return _public(session, change.stored)


def _cipher(settings: ControllerSettings) -> FieldCipher | None:
    """The personal-data cipher, or None without its keys (an IIN cannot be checked then)."""
    try:
        return loans_service.cipher(settings)
    except ConfigError:
        return None


def import_file(
    session: Session,
    *,
    pupil_ref: str,
    raw: bytes,
    content_type: str | None,
    file_format: Format | None,
    timezone: str | None,
    approve_now: bool,
    actor: str,
    now: datetime,
    settings: ControllerSettings,
    publish: Publish | None,
) -> ScheduleImportPublic:
    """Import an uploaded CSV or iCalendar file as the pupil's new version; its summary.

    The format is `file_format`, else the content type's, else the text's. Refused: a file over
    files.MAX_UPLOAD bytes (413) or not UTF-8 (422), and a bad one (ScheduleImportError, 422,
    with every error); nothing is stored then.
    """
    text = files.decode(raw)
    fmt = file_format or files.detect_format(text, content_type)
    change = import_schedule(
        session,
        pupil_ref=pupil_ref,
        text=text,
        fmt=fmt,
        actor=actor,
        now=now,
        timezone=timezone,
        approve_now=approve_now,
        iin_matches=files.iin_matcher(session, pupil_ref, _cipher(settings)),
        publish=publish,
    )
    return ScheduleImportPublic.model_validate(
        {**summary(change.stored), "kit_ids": kits_for_pupil(session, pupil_ref)}
    )


def _moment(value: datetime | None, zone: ZoneInfo, default: datetime) -> datetime:
    """An aware moment: without a zone, the schedule's."""
    if value is None:
        return default
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _lesson(occurrence: expansion.Occurrence, zone: ZoneInfo) -> LessonPublic:
    moved = occurrence.moved_from
    return LessonPublic(
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


def list_lessons(
    session: Session,
    *,
    pupil_ref: str,
    user: User,
    start: datetime | None,
    end: datetime | None,
    draft: bool,
    now: datetime,
) -> LessonsPublic:
    """The pupil's lessons (in force, or the draft) in [start, end), in UTC and local time.

    `start` defaults to `now` and `end` to a week after `start`; times without a zone are the
    schedule's. Refused: a pupil `user` may not see (404), a range that ends before it starts or
    lasts over MAX_RANGE (422).
    """
    _require_visible(session, user, pupil_ref)
    stored = versions.get(session, pupil_ref) if draft else versions.in_force(session, pupil_ref)
    zone = ZoneInfo(stored.schedule.timezone if stored else model.DEFAULT_TIMEZONE)
    since = _moment(start, zone, now)
    until = _moment(end, zone, since + timedelta(days=7))
    if until <= since or until - since > MAX_RANGE:
        raise LessonRangeError.translated("refused.range", days=MAX_RANGE.days)
    lessons = expansion.occurrences(stored.schedule, since, until) if stored is not None else []
    return LessonsPublic(
        pupil_ref=pupil_ref,
        timezone=stored.schedule.timezone if stored is not None else None,
        version=stored.version if stored is not None else None,
        draft=draft,
        start=since,
        end=until,
        lessons=[_lesson(o, zone) for o in lessons],
    )


def kit_schedule_now(
    session: Session, *, kit_id: str, now: datetime, settings: ControllerSettings
) -> Schedule:
    """Exactly what the kit gets on kits/{kit_id}/schedule now; 404 saying why there is none."""
    schedule = configured_kit_schedule(session, kit_id=kit_id, now=now, settings=settings)
    if schedule is not None:
        return schedule
    pupil_ref = pupil_for_kit(session, kit_id)
    if pupil_ref is None:
        raise ScheduleNotFoundError.translated("refused.kit_not_lent", kit=kit_id)
    raise ScheduleNotFoundError.translated("refused.kit_no_schedule", kit=kit_id, pupil=pupil_ref)
