"""Incidents on the ladder, playbook runs and diagnostics: what technicians see and do."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from controller.api.deps import SessionDep, StateDep, require
from controller.fleet.tables import Kit
from controller.platform import audit
from controller.remediation.remediator import LessonConflictError, Outgoing, Remediator
from controller.remediation.tables import (
    Diagnostics,
    Incident,
    IncidentEntry,
    KitBundle,
    RemediationCommand,
)
from controller.tickets import service as tickets
from controller.trust.staff import Role
from controller.trust.tables import User
from protocol.commands import PLAYBOOK_ID_PATTERN
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import BoundedAwareDatetime

router = APIRouter(prefix="/api/v1", tags=["remediation"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
KitId = Annotated[str, Path(pattern=KIT_ID_PATTERN)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class HistoryOut(BaseModel):
    """One line of an incident's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    step: int
    kind: str
    message: str
    data: dict[str, Any]


class CommandOut(BaseModel):
    """A playbook run asked of a kit, and how it went."""

    model_config = ConfigDict(from_attributes=True)

    command_id: str
    kit_id: str
    incident_id: int | None
    step: int | None
    playbook: str
    disruptive: bool
    check: bool
    forced: bool
    requested_by: str
    requested_at: datetime
    not_before: datetime | None
    state: str
    sent_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None


class IncidentOut(BaseModel):
    """An incident: its rule, where it is on the ladder, and what it has cost."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kit_id: str
    rule_id: str
    title: str
    severity: str
    step: int
    step_action: str
    phase: str
    deadline: datetime
    not_before: datetime | None
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    lesson_minutes_lost: float
    ladder: list[dict[str, Any]]


class IncidentDetail(IncidentOut):
    """An incident's whole story: history, playbook runs, tickets."""

    history: list[HistoryOut]
    commands: list[CommandOut]
    tickets: list[dict[str, Any]]


class RunIn(BaseModel):
    """Run a playbook on a kit."""

    model_config = ConfigDict(extra="forbid")

    when: Literal["now", "next_window"] = Field(
        default="now", description="now, or the next time no lesson runs or is about to start"
    )
    check: bool = Field(default=False, description="Ansible check mode: report, change nothing")
    force: bool = Field(
        default=False, description="run a disruptive playbook now even during a lesson"
    )


class ResolveIn(BaseModel):
    """Close an incident by hand."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=400)


class DiagnosticsIn(BaseModel):
    """Ask a kit for its logs and a snapshot."""

    model_config = ConfigDict(extra="forbid")

    log_lines: int = Field(default=300, ge=10, le=5000)


class DiagnosticsOut(BaseModel):
    """A diagnostics request and, once uploaded, its size."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kit_id: str
    command_id: str | None
    requested_by: str | None
    requested_at: datetime | None
    received_at: datetime | None
    size: int


def _remediator(state: StateDep) -> Remediator:
    remediator = state.ingest.remediator if state.ingest is not None else None
    if remediator is None:
        raise HTTPException(status_code=503, detail="remediation is not running on this controller")
    return remediator


RemediatorDep = Annotated[Remediator, Depends(_remediator)]


def _kit(session: Session, kit_id: str) -> Kit:
    kit = session.get(Kit, kit_id)
    if kit is None:
        raise HTTPException(status_code=404, detail=f"no kit {kit_id}")
    return kit


def _commit(session: Session, incident_id: int) -> None:
    """Commit, or 409 when the ladder moved the incident meanwhile (nothing is sent then)."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise HTTPException(
            status_code=409,
            detail=f"incident {incident_id} changed while you acted on it: look again and retry",
        ) from None


def _incident(session: Session, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id}")
    return row


@router.get("/incidents")
def list_incidents(
    session: SessionDep,
    user: Staff,
    state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    kit_id: Annotated[str | None, Query(pattern=KIT_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentOut]:
    """Incidents, newest first: open ones by default."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if state == "open":
        query = query.where(Incident.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(Incident.resolved_at.is_not(None))
    if kit_id is not None:
        query = query.where(Incident.kit_id == kit_id)
    return [IncidentOut.model_validate(row) for row in session.scalars(query)]


@router.get("/incidents/summary")
def incidents_summary(
    session: SessionDep,
    user: Staff,
    since: Annotated[
        BoundedAwareDatetime | None,
        Query(description="from this time, with its zone (default: all)"),
    ] = None,
) -> dict[str, Any]:
    """Incidents and lesson minutes lost, per rule: what breaks most and what it costs."""
    query = select(
        Incident.rule_id,
        func.count(Incident.id),
        func.sum(Incident.lesson_minutes_lost),
        func.count(Incident.resolved_at),
    ).group_by(Incident.rule_id)
    if since is not None:
        query = query.where(Incident.opened_at >= since)
    rules: list[dict[str, Any]] = [
        {
            "rule_id": rule_id,
            "incidents": count,
            "resolved": resolved,
            "lesson_minutes_lost": round(float(lost or 0.0), 1),
        }
        for rule_id, count, lost, resolved in session.execute(query)
    ]
    return {
        "rules": rules,
        "incidents": sum(int(r["incidents"]) for r in rules),
        "lesson_minutes_lost": round(sum(float(r["lesson_minutes_lost"]) for r in rules), 1),
    }


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: RowId, session: SessionDep, user: Staff) -> IncidentDetail:
    """An incident with its whole history, every playbook run and every ticket."""
    row = _incident(session, incident_id)
    history = session.scalars(
        select(IncidentEntry).where(IncidentEntry.incident_id == row.id).order_by(IncidentEntry.id)
    ).all()
    commands = session.scalars(
        select(RemediationCommand)
        .where(RemediationCommand.incident_id == row.id)
        .order_by(RemediationCommand.requested_at)
    ).all()
    found = [
        t for t in tickets.tickets_for_kit(session, kit_id=row.kit_id) if t.incident_id == row.id
    ]
    return IncidentDetail(
        **IncidentOut.model_validate(row).model_dump(),
        history=[HistoryOut.model_validate(h) for h in history],
        commands=[CommandOut.model_validate(c) for c in commands],
        tickets=[
            {
                "id": t.id,
                "kind": t.kind,
                "state": t.state,
                "priority": t.priority,
                "due_by": t.due_by,
                "sla_breached": t.sla_breached,
            }
            for t in found
        ],
    )


@router.post("/incidents/{incident_id}/force", status_code=202)
def force_incident(
    incident_id: RowId, session: SessionDep, user: Staff, remediator: RemediatorDep
) -> IncidentOut:
    """Run the incident's current remote playbook now, even during a lesson (audited)."""
    now = datetime.now(UTC)
    row = _incident(session, incident_id)
    out = Outgoing()
    if not remediator.force(session, out, row, actor=user.username, now=now):
        raise HTTPException(
            status_code=409,
            detail=f"incident {incident_id} is not on a remote remediation step "
            f"(it is {row.phase} on step {row.step + 1}: {row.step_action})",
        )
    audit.record(
        session,
        actor=user.username,
        action="incident.force",
        entity="incident",
        entity_id=str(row.id),
        now=now,
        after={"step": row.step},
    )
    _commit(session, incident_id)
    remediator.send(out)
    return IncidentOut.model_validate(row)


@router.post("/incidents/{incident_id}/resolve")
def resolve_incident(
    incident_id: RowId, data: ResolveIn, session: SessionDep, user: Staff, remediator: RemediatorDep
) -> IncidentOut:
    """Close an incident by hand (the technician fixed it), with a note (audited)."""
    now = datetime.now(UTC)
    row = _incident(session, incident_id)
    if row.resolved_at is not None:
        raise HTTPException(status_code=409, detail=f"incident {incident_id} is already resolved")
    remediator.resolve(
        session,
        row,
        now=now,
        how=f"resolved by {user.username}: {data.note}",
        actor=user.username,
    )
    audit.record(
        session,
        actor=user.username,
        action="incident.resolve",
        entity="incident",
        entity_id=str(row.id),
        now=now,
        after={"note": data.note},
    )
    _commit(session, incident_id)
    return IncidentOut.model_validate(row)


@router.get("/playbooks")
def list_playbooks(user: Staff, remediator: RemediatorDep) -> dict[str, Any]:
    """The signed bundle's version and its playbooks (disruptive or not, timeout)."""
    bundle = remediator.bundle
    return {
        "bundle_version": bundle.version if bundle else None,
        "playbooks": [
            {
                "id": name,
                "disruptive": info.disruptive,
                "timeout_s": int(info.timeout.total_seconds()),
                "description": bundle.descriptions.get(name, "") if bundle else "",
            }
            for name, info in sorted(remediator.catalogue.items())
        ],
    }


@router.get("/rules")
def list_rules(user: Staff, remediator: RemediatorDep) -> list[dict[str, Any]]:
    """The fault rules the controller and the kits evaluate."""
    return [rule.model_dump(mode="json", by_alias=True) for rule in remediator.rules.rules]


@router.post("/kits/{kit_id}/playbooks/{playbook}/run", status_code=202)
def run_playbook(  # noqa: PLR0917 - FastAPI passes what the route declares
    kit_id: KitId,
    playbook: Annotated[str, Path(pattern=PLAYBOOK_ID_PATTERN)],
    data: RunIn,
    session: SessionDep,
    user: Staff,
    remediator: RemediatorDep,
) -> CommandOut:
    """Run a playbook on a kit now or in the next free window (audited).

    A disruptive playbook asked for `now` while a lesson runs or is about to start is refused
    with 409 and the next free window, unless `force` is set.
    """
    now = datetime.now(UTC)
    _kit(session, kit_id)
    if data.force and data.when == "next_window":
        raise HTTPException(
            status_code=422, detail="force runs now: ask for when=now with force, or next_window"
        )
    out = Outgoing()
    try:
        command = remediator.run_for_technician(
            session,
            out,
            kit_id=kit_id,
            playbook=playbook,
            when=data.when,
            check=data.check,
            force=data.force,
            actor=user.username,
            now=now,
        )
    except KeyError:
        raise HTTPException(
            status_code=404,
            detail=f"no playbook {playbook!r}: see GET /api/v1/playbooks",
        ) from None
    except LessonConflictError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    audit.record(
        session,
        actor=user.username,
        action="playbook.run",
        entity="kit",
        entity_id=kit_id,
        now=now,
        after={
            "playbook": playbook,
            "command_id": command.command_id,
            "when": data.when,
            "check": data.check,
            "forced": data.force,
        },
    )
    session.commit()
    remediator.send(out)
    remediator.poke()
    return CommandOut.model_validate(command)


@router.get("/kits/{kit_id}/commands")
def kit_commands(
    kit_id: KitId,
    session: SessionDep,
    user: Staff,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CommandOut]:
    """Playbook runs asked of a kit, newest first."""
    _kit(session, kit_id)
    rows = session.scalars(
        select(RemediationCommand)
        .where(RemediationCommand.kit_id == kit_id)
        .order_by(RemediationCommand.requested_at.desc())
        .limit(limit)
    )
    return [CommandOut.model_validate(r) for r in rows]


@router.get("/commands/{command_id}")
def get_command(
    command_id: Annotated[str, Path(max_length=64)], session: SessionDep, user: Staff
) -> CommandOut:
    """One playbook run and its result."""
    row = session.get(RemediationCommand, command_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no command {command_id}")
    return CommandOut.model_validate(row)


@router.get("/kits/{kit_id}/bundle")
def kit_bundle(
    kit_id: KitId, session: SessionDep, user: Staff, remediator: RemediatorDep
) -> dict[str, Any]:
    """Which signed playbook bundle the kit accepted (or why it refused one)."""
    _kit(session, kit_id)
    row = session.get(KitBundle, kit_id)
    return {
        "current": remediator.bundle.version if remediator.bundle else None,
        "accepted": row.accepted if row else None,
        "sent": row.sent if row else None,
        "refused_reason": row.refused_reason if row else None,
    }


@router.post("/kits/{kit_id}/diagnostics", status_code=202)
def ask_diagnostics(
    kit_id: KitId,
    data: DiagnosticsIn,
    session: SessionDep,
    user: Staff,
    remediator: RemediatorDep,
) -> DiagnosticsOut:
    """Ask the kit for its logs and a snapshot; poll GET /api/v1/diagnostics/{id} (audited)."""
    now = datetime.now(UTC)
    _kit(session, kit_id)
    out = Outgoing()
    row = remediator.ask_diagnostics(
        session, out, kit_id=kit_id, requested_by=user.username, now=now, log_lines=data.log_lines
    )
    audit.record(
        session,
        actor=user.username,
        action="diagnostics.request",
        entity="kit",
        entity_id=kit_id,
        now=now,
        after={"diagnostics_id": row.id},
    )
    session.commit()
    remediator.send(out)
    return DiagnosticsOut.model_validate(row)


@router.get("/kits/{kit_id}/diagnostics")
def kit_diagnostics(kit_id: KitId, session: SessionDep, user: Staff) -> list[DiagnosticsOut]:
    """Diagnostics asked of a kit, newest first."""
    _kit(session, kit_id)
    rows = session.scalars(
        select(Diagnostics).where(Diagnostics.kit_id == kit_id).order_by(Diagnostics.id.desc())
    )
    return [DiagnosticsOut.model_validate(r) for r in rows]


@router.get("/diagnostics/{diagnostics_id}")
def get_diagnostics(diagnostics_id: RowId, session: SessionDep, user: Staff) -> dict[str, Any]:
    """One diagnostics upload, unpacked: logs, snapshot, last runs (404 until it arrives)."""
    row = session.get(Diagnostics, diagnostics_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no diagnostics {diagnostics_id}")
    if row.payload is None:
        raise HTTPException(
            status_code=404,
            detail=f"diagnostics {diagnostics_id} asked at {row.requested_at} has not arrived yet",
        )
    try:
        content = json.loads(gzip.decompress(row.payload))
    except (OSError, ValueError) as exc:
        raise HTTPException(
            status_code=502, detail=f"the kit's diagnostics upload cannot be read: {exc}"
        ) from exc
    return {**DiagnosticsOut.model_validate(row).model_dump(mode="json"), "content": content}
