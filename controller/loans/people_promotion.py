"""The new school year: every pupil at school moves up a grade, the 11th grade graduates.

Once per school year (`people_schemas.school_year`, from 1 May on the coming one, the day taken
in the school's time zone): each pupil records the school year they were promoted into
(`Pupil.promoted_into`) and is skipped by any later promotion into that year, forced or not, so
nobody moves up twice in one year. The promotion is recorded in the audit log
(entity "promotion", the school year as its id, the school in `after`), and a second one in the
same school year, for all schools or the same school, is refused with the day and who did it,
unless forced. Each pupil's change is audited as its own entry too ("pupil_promoted", or
"pupil_archived" with reason graduated), so that their history shows it. A graduate under an open
contract stays in the 11th grade, at school, with a note saying which contract to close first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from controller.loans.people_archive import archive_pupil, leaving_refusal
from controller.loans.people_errors import PeopleRefusedError
from controller.loans.people_schemas import LeavingReason, school_year
from controller.loans.tables import Pupil
from controller.platform import audit
from controller.platform.localtime import DEFAULT_ZONE

LAST_GRADE = 11


def _already_done(session: Session, year: str, school: str | None) -> None:
    for entry in audit.entries(session, entity="promotion", entity_id=year, limit=1000):
        done_for = (entry.after or {}).get("school")
        if school is None or done_for is None or done_for == school:
            params = {"year": year, "day": entry.at.date().isoformat(), "actor": entry.actor}
            if school is None:
                raise PeopleRefusedError("promotion.done_all", 409, **params)
            raise PeopleRefusedError("promotion.done_school", 409, school=school, **params)


def promote(
    session: Session,
    *,
    school: str | None,
    dry_run: bool,
    force: bool,
    actor: str,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> dict[str, Any]:
    """Promote the pupils at school (of `school`, if given) not yet promoted into the school
    year of `now` at the school (`zone`); the report (`PromotionReport`)."""
    today = now.astimezone(zone).date()
    year = school_year(today)
    if not force:
        _already_done(session, year, school)
    query = (
        select(Pupil)
        .where(Pupil.archived_at.is_(None))
        .where(or_(Pupil.promoted_into.is_(None), Pupil.promoted_into != year))
        .order_by(Pupil.school, Pupil.ref)
    )
    if school is not None:
        query = query.where(Pupil.school == school)
    lines: list[dict[str, Any]] = []
    for pupil in session.scalars(query):
        line: dict[str, Any] = {"ref": pupil.ref, "school": pupil.school}
        line["from_grade"] = pupil.grade
        line["to_grade"] = "graduates" if pupil.grade >= LAST_GRADE else pupil.grade + 1
        lines.append(line)
        if line["to_grade"] == "graduates":
            line["note"] = _graduate(
                session, pupil, dry_run=dry_run, actor=actor, now=now, today=today
            )
        elif not dry_run:
            pupil.grade, pupil.updated_at, pupil.promoted_into = line["to_grade"], now, year
            audit.record(
                session,
                actor=actor,
                action="pupil_promoted",
                entity="pupil",
                entity_id=pupil.ref,
                now=now,
                before={"grade": line["from_grade"]},
                after={"grade": pupil.grade, "school_year": year},
            )
    graduated = sum(1 for line in lines if line["to_grade"] == "graduates" and not line["note"])
    report = {
        "school_year": year,
        "school": school,
        "dry_run": dry_run,
        "promoted": sum(1 for line in lines if line["to_grade"] != "graduates"),
        "graduated": graduated,
        "pupils": lines,
    }
    if not dry_run:
        after = {k: report[k] for k in ("school", "promoted", "graduated")} | {"forced": force}
        audit.record(
            session,
            actor=actor,
            action="pupils_promoted",
            entity="promotion",
            entity_id=year,
            now=now,
            after=after,
        )
    return report


def _graduate(
    session: Session, pupil: Pupil, *, dry_run: bool, actor: str, now: datetime, today: date
) -> str | None:
    """Archive a graduate (in a dry run, only check that it could be); None, or why not."""
    refusal = leaving_refusal(session, pupil, entity="pupil")
    if refusal is not None:
        return str(refusal)
    if not dry_run:
        archive_pupil(
            session,
            ref=pupil.ref,
            reason=LeavingReason.GRADUATED,
            left_on=today,
            actor=actor,
            now=now,
        )
    return None
