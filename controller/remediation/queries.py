"""Reading the ladder back: incidents and their story, playbook runs, diagnostics.

Keyword-only functions over a read Session, answering in `controller.remediation.schemas` and
raising `RemediationNotFoundError` for what does not exist; they need no running remediator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.i18n import Lang
from controller.fleet import queries as fleet
from controller.remediation.diagnostics import UploadRefusedError, unpack
from controller.remediation.errors import RemediationNotFoundError, UploadUnreadableError
from controller.remediation.history import entry_text
from controller.remediation.schemas import (
    CommandOut,
    DiagnosticsOut,
    DiagnosticsUpload,
    HistoryOut,
    IncidentDetail,
    IncidentOut,
    IncidentsSummary,
    IncidentTicket,
    RuleLosses,
)
from controller.remediation.tables import Diagnostics, Incident, IncidentEntry, RemediationCommand
from controller.tickets import service as tickets


def known_kit(session: Session, kit_id: str) -> None:
    """Nothing if the kit is known, else RemediationNotFoundError."""
    if fleet.get_kit(session, kit_id=kit_id) is None:
        raise RemediationNotFoundError.translated("error.no_kit", kit_id=kit_id)


def known_incident(session: Session, incident_id: int) -> Incident:
    """The incident, or RemediationNotFoundError."""
    row = session.get(Incident, incident_id)
    if row is None:
        raise RemediationNotFoundError.translated("error.no_incident", incident=incident_id)
    return row


def list_incidents(
    session: Session,
    *,
    state: Literal["open", "resolved", "all"],
    kit_id: str | None,
    limit: int,
) -> list[IncidentOut]:
    """Incidents, newest first: open, resolved or all, of one kit or of every kit."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if state == "open":
        query = query.where(Incident.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(Incident.resolved_at.is_not(None))
    if kit_id is not None:
        query = query.where(Incident.kit_id == kit_id)
    return [IncidentOut.model_validate(row) for row in session.scalars(query)]


def summary(session: Session, *, since: datetime | None) -> IncidentsSummary:
    """Incidents and lesson minutes lost per rule (opened since `since`, or ever)."""
    query = select(
        Incident.rule_id,
        func.count(Incident.id),
        func.sum(Incident.lesson_minutes_lost),
        func.count(Incident.resolved_at),
    ).group_by(Incident.rule_id)
    if since is not None:
        query = query.where(Incident.opened_at >= since)
    rules = [
        RuleLosses(
            rule_id=rule_id,
            incidents=count,
            resolved=resolved,
            lesson_minutes_lost=round(float(lost or 0.0), 1),
        )
        for rule_id, count, lost, resolved in session.execute(query)
    ]
    return IncidentsSummary(
        rules=rules,
        incidents=sum(r.incidents for r in rules),
        lesson_minutes_lost=round(sum(r.lesson_minutes_lost for r in rules), 1),
    )


def incident_detail(session: Session, *, incident_id: int, lang: Lang = "en") -> IncidentDetail:
    """An incident with its whole history (each entry's text in `lang`), every playbook run and
    every ticket."""
    row = known_incident(session, incident_id)
    history = session.scalars(
        select(IncidentEntry).where(IncidentEntry.incident_id == row.id).order_by(IncidentEntry.id)
    ).all()
    commands = session.scalars(
        select(RemediationCommand)
        .where(RemediationCommand.incident_id == row.id)
        .order_by(RemediationCommand.requested_at)
    ).all()
    found = tickets.tickets_of_incident(session, kit_id=row.kit_id, incident_id=row.id)
    return IncidentDetail(
        **IncidentOut.model_validate(row).model_dump(),
        history=[_entry(h, lang) for h in history],
        commands=[CommandOut.model_validate(c) for c in commands],
        tickets=[IncidentTicket.model_validate(t) for t in found],
    )


def _entry(row: IncidentEntry, lang: Lang) -> HistoryOut:
    out = HistoryOut.model_validate(row)
    out.text = entry_text(row.message, row.data, lang)
    return out


def kit_commands(session: Session, *, kit_id: str, limit: int) -> list[CommandOut]:
    """Playbook runs asked of a kit, newest first."""
    known_kit(session, kit_id)
    rows = session.scalars(
        select(RemediationCommand)
        .where(RemediationCommand.kit_id == kit_id)
        .order_by(RemediationCommand.requested_at.desc())
        .limit(limit)
    )
    return [CommandOut.model_validate(r) for r in rows]


def command(session: Session, *, command_id: str) -> CommandOut:
    """One playbook run and its result."""
    row = session.get(RemediationCommand, command_id)
    if row is None:
        raise RemediationNotFoundError.translated("error.no_command", command_id=command_id)
    return CommandOut.model_validate(row)


def kit_diagnostics(session: Session, *, kit_id: str) -> list[DiagnosticsOut]:
    """Diagnostics asked of a kit, newest first."""
    known_kit(session, kit_id)
    rows = session.scalars(
        select(Diagnostics).where(Diagnostics.kit_id == kit_id).order_by(Diagnostics.id.desc())
    )
    return [DiagnosticsOut.model_validate(r) for r in rows]


def diagnostics_upload(session: Session, *, diagnostics_id: int) -> DiagnosticsUpload:
    """One diagnostics upload, unpacked (within the upload caps); not found until it arrives."""
    row = session.get(Diagnostics, diagnostics_id)
    if row is None:
        raise RemediationNotFoundError.translated(
            "error.no_diagnostics", diagnostics=diagnostics_id
        )
    if row.refused_reason is not None:
        raise UploadUnreadableError.translated("error.upload_refused", reason=row.refused_reason)
    if row.payload is None:
        raise RemediationNotFoundError.translated(
            "error.not_arrived", diagnostics=diagnostics_id, asked=str(row.requested_at)
        )
    try:
        content = unpack(row.payload)[0]
    except UploadRefusedError as exc:
        raise UploadUnreadableError.translated("error.upload_unreadable", problem=str(exc)) from exc
    return DiagnosticsUpload(**DiagnosticsOut.model_validate(row).model_dump(), content=content)
