"""Pupils' schedules in the database: save, approve, read, and what each kit gets.

Every function works in the caller's session and transaction (the routes and the CLI commit).
A save adds a version (a draft) and never overwrites one; approving marks the newest version
approved. The newest version is the *current* one, shown to staff; the newest approved version
is the one *in force*: the pupil's lessons and the kit's schedule come from it, so a draft being
agreed never takes lessons away from a kit. A function that changes what a kit should get returns
the ids of those kits (`Change.kit_ids`): publish to them after the commit, not before, or the
publisher reads the old schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.loans.tables import LoanContract, Pupil
from controller.platform import audit
from controller.platform.crypto import FieldCipher
from controller.platform.iin import IinError, parse_iin
from controller.schedules import csv_format, ics_format, model
from controller.schedules.errors import ScheduleError, ScheduleNotFoundError
from controller.schedules.tables import ScheduleVersion
from policy.lessons import Lesson
from protocol.models import LessonWindow, Schedule

_LOGGER = logging.getLogger(__name__)

LOAN_STATES: Final = ("signed", "active", "return_due")
"""A kit is with its pupil under a contract in one of these states."""
MAX_WINDOWS: Final = 1000
"""The most lessons one schedule message carries (protocol.models.Schedule)."""
LOOKAHEAD_STEP: Final = timedelta(days=31)
Format = Literal["csv", "ics"]
Source = Literal["api", "csv", "ics"]


@dataclass(frozen=True)
class StoredSchedule:
    """One stored version of a pupil's schedule."""

    pupil_ref: str
    version: int
    schedule: model.PupilSchedule
    source: str
    saved_by: str
    saved_at: datetime
    in_force_version: int | None
    """The newest approved version (this one, an older one, or none)."""


@dataclass(frozen=True)
class Change:
    """What a save or an approval stored, and the kits whose schedule it changed."""

    stored: StoredSchedule
    kit_ids: list[str] = field(default_factory=list)


def _pupil_exists(session: Session, pupil_ref: str) -> None:
    if session.scalar(select(Pupil.id).where(Pupil.ref == pupil_ref)) is None:
        raise ScheduleNotFoundError(f"no pupil {pupil_ref!r}")


def _newest(session: Session, pupil_ref: str, *, approved: bool = False) -> ScheduleVersion | None:
    query = select(ScheduleVersion).where(ScheduleVersion.pupil_ref == pupil_ref)
    if approved:
        query = query.where(ScheduleVersion.status == model.ScheduleStatus.APPROVED.value)
    return session.scalar(query.order_by(ScheduleVersion.version.desc()).limit(1))


def _in_force_version(session: Session, pupil_ref: str) -> int | None:
    return session.scalar(
        select(func.max(ScheduleVersion.version)).where(
            ScheduleVersion.pupil_ref == pupil_ref,
            ScheduleVersion.status == model.ScheduleStatus.APPROVED.value,
        )
    )


def _stored(row: ScheduleVersion, in_force_version: int | None) -> StoredSchedule:
    content = model.ScheduleContent.model_validate(row.document)
    schedule = model.PupilSchedule.model_validate(
        {
            **content.model_dump(),
            "pupil_ref": row.pupil_ref,
            "status": row.status,
            "approved_by": row.approved_by,
            "approved_at": row.approved_at,
        }
    )
    return StoredSchedule(
        pupil_ref=row.pupil_ref,
        version=row.version,
        schedule=schedule,
        source=row.source,
        saved_by=row.saved_by,
        saved_at=row.saved_at,
        in_force_version=in_force_version,
    )


def counts(schedule: model.ScheduleContent) -> dict[str, int]:
    """How many terms, slots, holidays, cancellations, moves and extras: for a summary or audit."""
    return {
        name: len(getattr(schedule, name))
        for name in ("terms", "slots", "holidays", "cancellations", "moves", "extras")
    }


def save_schedule(
    session: Session,
    *,
    pupil_ref: str,
    schedule: model.ScheduleContent,
    actor: str,
    now: datetime,
    source: Source = "api",
) -> Change:
    """Store a new version (a draft) of the pupil's schedule, checked whole; audited.

    Raises ScheduleNotFoundError for an unknown pupil and ScheduleInvalidError for a schedule
    that contradicts itself. The version in force does not change: `kit_ids` is empty.
    """
    if isinstance(schedule, model.PupilSchedule) and schedule.pupil_ref != pupil_ref:
        raise ScheduleError(f"this schedule is for {schedule.pupil_ref!r}, not {pupil_ref!r}")
    _pupil_exists(session, pupil_ref)
    content = schedule.content()
    model.check(content)
    previous = _newest(session, pupil_ref)
    row = ScheduleVersion(
        pupil_ref=pupil_ref,
        version=(previous.version + 1) if previous is not None else 1,
        status=model.ScheduleStatus.DRAFT.value,
        timezone=content.timezone,
        document=content.model_dump(mode="json"),
        source=source,
        saved_by=actor,
        saved_at=now,
        drawn_up_by=content.drawn_up_by,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ScheduleError(
            f"the schedule of {pupil_ref} was changed meanwhile; load it again and retry"
        ) from exc
    audit.record(
        session,
        actor=actor,
        action="schedule_saved",
        entity="schedule",
        entity_id=pupil_ref,
        now=now,
        before=None
        if previous is None
        else {"version": previous.version, "status": previous.status},
        after={
            "version": row.version,
            "status": row.status,
            "source": source,
            "timezone": content.timezone,
            **counts(content),
        },
    )
    _LOGGER.info("schedule of %s saved as version %d (%s)", pupil_ref, row.version, source)
    return Change(_stored(row, _in_force_version(session, pupil_ref)))


def approve(
    session: Session,
    *,
    pupil_ref: str,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
) -> Change:
    """Mark the current version approved (by the director, `approved_by`; default the actor).

    It is then in force: `kit_ids` are the kits to publish it to. Raises ScheduleNotFoundError
    when there is no schedule, ScheduleError (409) when the current version is approved already.
    """
    _pupil_exists(session, pupil_ref)
    row = _newest(session, pupil_ref)
    if row is None:
        raise ScheduleNotFoundError(f"pupil {pupil_ref} has no schedule to approve")
    if row.status == model.ScheduleStatus.APPROVED.value:
        raise ScheduleError(f"version {row.version} of {pupil_ref}'s schedule is already approved")
    before = _stored(row, _in_force_version(session, pupil_ref))
    model.check(before.schedule)
    by = (approved_by or actor).strip()[:200] or actor
    after = model.approved(before.schedule, by=by, at=now)
    row.status = after.status.value
    row.approved_by = after.approved_by
    row.approved_at = after.approved_at
    row.approval_recorded_by = actor
    audit.record(
        session,
        actor=actor,
        action="schedule_approved",
        entity="schedule",
        entity_id=pupil_ref,
        now=now,
        before={"version": row.version, "status": before.schedule.status.value},
        after={"version": row.version, "status": row.status, "approved_by": by},
    )
    _LOGGER.info("schedule of %s approved (version %d)", pupil_ref, row.version)
    return Change(_stored(row, row.version), kits_for_pupil(session, pupil_ref))


def get(session: Session, pupil_ref: str, *, version: int | None = None) -> StoredSchedule | None:
    """The pupil's current schedule (the newest version, draft or approved), or `version`."""
    if version is None:
        row = _newest(session, pupil_ref)
    else:
        row = session.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.pupil_ref == pupil_ref, ScheduleVersion.version == version
            )
        )
    return _stored(row, _in_force_version(session, pupil_ref)) if row is not None else None


def in_force(session: Session, pupil_ref: str) -> StoredSchedule | None:
    """The pupil's schedule in force (the newest approved version), if any."""
    row = _newest(session, pupil_ref, approved=True)
    return _stored(row, row.version) if row is not None else None


def occurrences_for_pupil(
    session: Session, pupil_ref: str, start: datetime, end: datetime, *, draft: bool = False
) -> list[model.Occurrence]:
    """The lessons in force (or, with `draft`, of the current version) overlapping [start, end)."""
    stored = get(session, pupil_ref) if draft else in_force(session, pupil_ref)
    return model.occurrences(stored.schedule, start, end) if stored is not None else []


def lessons_for_pupil(
    session: Session, pupil_ref: str, start: datetime, end: datetime, *, draft: bool = False
) -> list[Lesson]:
    """The pupil's lessons in force overlapping [start, end), in UTC (none without approval)."""
    return [o.lesson() for o in occurrences_for_pupil(session, pupil_ref, start, end, draft=draft)]


def kits_for_pupil(session: Session, pupil_ref: str) -> list[str]:
    """The kits lent to the pupil under a signed, active or return-due contract."""
    return sorted(
        set(
            session.scalars(
                select(LoanContract.kit_id).where(
                    LoanContract.pupil_ref == pupil_ref, LoanContract.state.in_(LOAN_STATES)
                )
            )
        )
    )


def pupil_for_kit(session: Session, kit_id: str) -> str | None:
    """The pupil the kit is lent to under a signed, active or return-due contract, if any."""
    return session.scalar(
        select(LoanContract.pupil_ref)
        .where(LoanContract.kit_id == kit_id, LoanContract.state.in_(LOAN_STATES))
        .order_by(LoanContract.id.desc())
        .limit(1)
    )


def _kit_schedule_in_force(session: Session, kit_id: str) -> StoredSchedule | None:
    pupil_ref = pupil_for_kit(session, kit_id)
    return in_force(session, pupil_ref) if pupil_ref is not None else None


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware")


def kit_schedule(
    session: Session,
    *,
    kit_id: str,
    now: datetime,
    horizon: timedelta = timedelta(days=14),
    guard_minutes: int = 15,
    prelesson_minutes: int = 30,
) -> Schedule | None:
    """What `kits/{kit_id}/schedule` carries: the lessons in force in [now, now + horizon).

    The pupil is found through the kit's contract (signed, active or return due); only start,
    end, mode, subject and server go out, never a teacher's or the pupil's name. None when the
    kit has no pupil or the pupil no approved schedule. A lesson running at `now` is included.
    """
    _require_aware(now)
    stored = _kit_schedule_in_force(session, kit_id)
    if stored is None:
        return None
    horizon_end = now + horizon
    lessons = model.expand(stored.schedule, now, horizon_end)
    if len(lessons) > MAX_WINDOWS:
        horizon_end = lessons[MAX_WINDOWS].start  # everything before it is listed
        lessons = lessons[:MAX_WINDOWS]
    return Schedule(
        generated_at=now,
        horizon_end=horizon_end,
        timezone=stored.schedule.timezone,
        guard_minutes=guard_minutes,
        prelesson_minutes=prelesson_minutes,
        lessons=[
            LessonWindow(
                start=lesson.start,
                end=lesson.end,
                mode=lesson.mode,
                subject=lesson.subject,
                server=lesson.server,
            )
            for lesson in lessons
        ],
    )


def next_lesson_for_kit(session: Session, *, kit_id: str, now: datetime) -> Lesson | None:
    """The first lesson in force that starts after `now` for the kit's pupil, however far off."""
    _require_aware(now)
    stored = _kit_schedule_in_force(session, kit_id)
    last = model.last_day(stored.schedule) if stored is not None else None
    if stored is None or last is None:
        return None
    end_of_schedule = datetime.combine(
        last + timedelta(days=1), time(), tzinfo=ZoneInfo(stored.schedule.timezone)
    )
    start = now
    while start < end_of_schedule:
        stop = start + LOOKAHEAD_STEP
        for lesson in model.expand(stored.schedule, start, stop):
            if lesson.start > now:
                return lesson
        start = stop
    return None


def iin_matcher(
    session: Session, pupil_ref: str, cipher: FieldCipher | None
) -> Callable[[str], bool] | None:
    """Whether an IIN is the pupil's (by its keyed hash); None without the personal-data keys."""
    index = session.scalar(select(Pupil.iin_index).where(Pupil.ref == pupil_ref))
    if cipher is None or index is None:
        return None

    def matches(iin: str) -> bool:
        try:
            return cipher.blind_index(parse_iin(iin).value) == index
        except IinError:
            return False

    return matches


def detect_format(text: str, content_type: str | None = None) -> Format:
    """csv or ics: from the content type if it says, else from the text itself."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/calendar", "application/ics"):
        return "ics"
    if kind in ("text/csv", "application/csv"):
        return "csv"
    return "ics" if text.lstrip("\ufeff \r\n\t").upper().startswith("BEGIN:VCALENDAR") else "csv"


def parse(
    text: str,
    *,
    fmt: Format,
    pupil_ref: str,
    base: model.ScheduleContent | None = None,
    timezone: str | None = None,
    iin_matches: Callable[[str], bool] | None = None,
) -> model.ScheduleContent:
    """The schedule a CSV or iCalendar file describes; ScheduleImportError naming what is wrong."""
    if fmt == "ics":
        return ics_format.parse_ics(text, timezone=timezone)
    return csv_format.parse_csv(
        text, pupil_ref=pupil_ref, timezone=timezone, base=base, iin_matches=iin_matches
    )


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
) -> Change:
    """Read a CSV or iCalendar file and save it as the pupil's new version (approved if asked).

    Nothing is stored from a file with any error (ScheduleImportError lists them). A CSV without
    terms or holidays keeps those of the current version.
    """
    _pupil_exists(session, pupil_ref)
    current = get(session, pupil_ref)
    content = parse(
        text,
        fmt=fmt,
        pupil_ref=pupil_ref,
        base=current.schedule if current is not None else None,
        timezone=timezone,
        iin_matches=iin_matches,
    )
    change = save_schedule(
        session, pupil_ref=pupil_ref, schedule=content, actor=actor, now=now, source=fmt
    )
    if approve_now:
        return approve(session, pupil_ref=pupil_ref, actor=actor, now=now, approved_by=approved_by)
    return change


def summary(stored: StoredSchedule) -> dict[str, Any]:
    """A short account of a stored version: for an import's answer and the CLI."""
    schedule = stored.schedule
    lessons = model.all_occurrences(schedule)
    return {
        "pupil_ref": stored.pupil_ref,
        "version": stored.version,
        "status": schedule.status.value,
        "in_force_version": stored.in_force_version,
        "source": stored.source,
        "timezone": schedule.timezone,
        **counts(schedule),
        "first_day": model.first_day(schedule),
        "last_day": model.last_day(schedule),
        "lessons": len(lessons),
    }


def describe(stored: StoredSchedule, *, kit_ids: list[str], now: datetime) -> str:
    """The schedule as text for a person: approval, terms, weekly lessons, exceptions, next ones."""
    s = stored.schedule
    in_force = (
        f"version {stored.in_force_version} is in force"
        if stored.in_force_version is not None
        else "no version approved yet: the kits get no lessons"
    )
    lines = [
        f"pupil {stored.pupil_ref}: version {stored.version} ({s.status.value}); {in_force}",
        f"  time zone {s.timezone}; {stored.source}, saved by {stored.saved_by} "
        f"at {stored.saved_at:%Y-%m-%d %H:%M} UTC",
    ]
    if s.drawn_up_by:
        lines.append(f"  drawn up by {s.drawn_up_by}")
    if s.approved_by and s.approved_at:
        lines.append(f"  approved by {s.approved_by} at {s.approved_at:%Y-%m-%d %H:%M} UTC")
    lines.append(f"  kits: {', '.join(kit_ids) or 'none lent under a signed contract'}")
    sections: list[tuple[str, list[str]]] = [
        ("terms", [f"{t.start} to {t.end}  {t.name}".rstrip() for t in s.terms]),
        ("weekly lessons", [_slot_line(slot) for slot in sorted(s.slots, key=_slot_key)]),
        ("holidays", [f"{h.start} to {h.end}  {h.name}".rstrip() for h in s.holidays]),
        (
            "cancelled",
            [f"{c.date} {c.start:%H:%M}  {c.reason}".rstrip() for c in s.cancellations],
        ),
        (
            "moved",
            [
                f"{m.date} {m.start:%H:%M} -> {m.to_date} {m.to_start:%H:%M}"
                + (f" ({m.duration_min} min)" if m.duration_min else "")
                for m in s.moves
            ],
        ),
        (
            "extra lessons",
            [
                f"{e.date} {e.start:%H:%M} {e.duration_min} min  {e.subject}  {e.mode.value}"
                for e in s.extras
            ],
        ),
    ]
    for title, items in sections:
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
    upcoming = [o for o in model.occurrences(s, now, now + timedelta(days=14)) if o.start >= now][
        :5
    ]
    if upcoming:
        lines.append("next lessons (of this version):")
        lines.extend(f"  {o.describe()}" for o in upcoming)
    return "\n".join(lines) + "\n"


def _slot_key(slot: model.Slot) -> tuple[int, time]:
    return slot.weekday, slot.start


def _slot_line(slot: model.Slot) -> str:
    end = slot.start.hour * 60 + slot.start.minute + slot.duration_min
    until = f"{end // 60 % 24:02d}:{end % 60:02d}"  # past midnight: the next day's time
    limits = ""
    if slot.valid_from or slot.valid_until:
        limits = f"  [{slot.valid_from or '...'} to {slot.valid_until or '...'}]"
    teacher = f"  ({slot.teacher})" if slot.teacher else ""
    server = f" {slot.server}" if slot.server else ""
    return (
        f"{model.WEEKDAYS[slot.weekday]:<9} {slot.start:%H:%M}-{until}  "
        f"{slot.subject}{teacher}  {slot.mode.value}{server}{limits}"
    )
