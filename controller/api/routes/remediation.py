"""Incidents on the ladder, playbook runs and diagnostics: what technicians see and do.

Each endpoint calls one function of the remediation service (`controller.remediation.queries`
for reads, `RemediationActions` for actions, which audit and commit); its errors carry their
HTTP status.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from controller.api.deps import SessionDep, StateDep, require
from controller.api.language import RequestLang
from controller.remediation import queries
from controller.remediation.actions import RemediationActions
from controller.remediation.errors import RemediationUnavailableError
from controller.remediation.schemas import (
    CommandOut,
    DiagnosticsIn,
    DiagnosticsOut,
    DiagnosticsUpload,
    IncidentDetail,
    IncidentOut,
    IncidentsSummary,
    KitBundleOut,
    PlaybooksOut,
    ResolveIn,
    RunIn,
)
from controller.trust.staff import Role
from controller.trust.tables import User
from policy.rules import Rule
from protocol.commands import PLAYBOOK_ID_PATTERN
from protocol.limits import KIT_ID_PATTERN
from protocol.timebounds import BoundedAwareDatetime

router = APIRouter(prefix="/api/v1", tags=["remediation"])
Staff = Annotated[User, Depends(require(Role.ADMIN, Role.TECHNICIAN))]
KitId = Annotated[str, Path(pattern=KIT_ID_PATTERN)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _actions(state: StateDep) -> RemediationActions:
    if state.remediator is None:
        raise RemediationUnavailableError.translated("error.unavailable")
    return state.remediator.actions


Actions = Annotated[RemediationActions, Depends(_actions)]


@router.get("/incidents")
def list_incidents(  # noqa: PLR0917 - FastAPI passes what the route declares
    session: SessionDep,
    app: StateDep,
    user: Staff,
    state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    kit_id: Annotated[str | None, Query(pattern=KIT_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentOut]:
    """Incidents, newest first: open ones by default (times also in the school's zone)."""
    zone = app.settings.school_zone
    found = queries.list_incidents(session, state=state, kit_id=kit_id, limit=limit)
    return [incident.localised(zone) for incident in found]


@router.get("/incidents/summary")
def incidents_summary(
    session: SessionDep,
    user: Staff,
    since: Annotated[
        BoundedAwareDatetime | None,
        Query(description="from this time, with its zone (default: all)"),
    ] = None,
) -> IncidentsSummary:
    """Incidents and lesson minutes lost, per rule: what breaks most and what it costs."""
    return queries.summary(session, since=since)


@router.get("/incidents/{incident_id}")
def get_incident(
    incident_id: RowId, session: SessionDep, state: StateDep, user: Staff, lang: RequestLang
) -> IncidentDetail:
    """An incident with its whole history, every playbook run and every ticket.

    Each history entry's `text` is its `message` in the request's language (`?lang=`,
    Accept-Language); `message` stays as stored (English).
    """
    detail = queries.incident_detail(session, incident_id=incident_id, lang=lang)
    detail.localised(state.settings.school_zone)
    return detail


@router.post("/incidents/{incident_id}/force", status_code=202)
def force_incident(
    incident_id: RowId, session: SessionDep, state: StateDep, user: Staff, actions: Actions
) -> IncidentOut:
    """Run the incident's current remote playbook now, even during a lesson (audited)."""
    done = actions.force(session, incident_id=incident_id, actor=user.username)
    return done.localised(state.settings.school_zone)


@router.post("/incidents/{incident_id}/resolve")
def resolve_incident(  # noqa: PLR0917 - FastAPI passes what the route declares
    incident_id: RowId,
    data: ResolveIn,
    session: SessionDep,
    state: StateDep,
    user: Staff,
    actions: Actions,
) -> IncidentOut:
    """Close an incident by hand (the technician fixed it), with a note (audited).

    Its tickets are settled: a repair or help ticket is resolved with a note, a replacement not
    yet carried out is cancelled with the reason, one in progress is left to its technician with
    a note.
    """
    done = actions.resolve(session, incident_id=incident_id, note=data.note, actor=user.username)
    return done.localised(state.settings.school_zone)


@router.get("/playbooks")
def list_playbooks(user: Staff, actions: Actions) -> PlaybooksOut:
    """The signed bundle's version and its playbooks (disruptive or not, timeout)."""
    return actions.playbooks()


@router.get("/rules")
def list_rules(user: Staff, actions: Actions) -> list[Rule]:
    """The fault rules the controller and the kits evaluate."""
    return actions.rules()


@router.post("/kits/{kit_id}/playbooks/{playbook}/run", status_code=202)
def run_playbook(  # noqa: PLR0917 - FastAPI passes what the route declares
    kit_id: KitId,
    playbook: Annotated[str, Path(pattern=PLAYBOOK_ID_PATTERN)],
    data: RunIn,
    session: SessionDep,
    user: Staff,
    actions: Actions,
) -> CommandOut:
    """Run a playbook on a kit now or in the next free window (audited).

    A disruptive playbook asked for `now` while a lesson runs or is about to start is refused
    with 409 and the next free window, unless `force` is set.
    """
    return actions.run_playbook(
        session, kit_id=kit_id, playbook=playbook, request=data, actor=user.username
    )


@router.get("/kits/{kit_id}/commands")
def kit_commands(
    kit_id: KitId,
    session: SessionDep,
    user: Staff,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CommandOut]:
    """Playbook runs asked of a kit, newest first."""
    return queries.kit_commands(session, kit_id=kit_id, limit=limit)


@router.get("/commands/{command_id}")
def get_command(
    command_id: Annotated[str, Path(max_length=64)], session: SessionDep, user: Staff
) -> CommandOut:
    """One playbook run and its result."""
    return queries.command(session, command_id=command_id)


@router.get("/kits/{kit_id}/bundle")
def kit_bundle(kit_id: KitId, session: SessionDep, user: Staff, actions: Actions) -> KitBundleOut:
    """Which signed playbook bundle the kit accepted (or why it refused one)."""
    return actions.kit_bundle(session, kit_id=kit_id)


@router.post("/kits/{kit_id}/diagnostics", status_code=202)
def ask_diagnostics(
    kit_id: KitId, data: DiagnosticsIn, session: SessionDep, user: Staff, actions: Actions
) -> DiagnosticsOut:
    """Ask the kit for its logs and a snapshot; poll GET /api/v1/diagnostics/{id} (audited)."""
    return actions.ask_diagnostics(
        session, kit_id=kit_id, log_lines=data.log_lines, actor=user.username
    )


@router.get("/kits/{kit_id}/diagnostics")
def kit_diagnostics(kit_id: KitId, session: SessionDep, user: Staff) -> list[DiagnosticsOut]:
    """Diagnostics asked of a kit, newest first."""
    return queries.kit_diagnostics(session, kit_id=kit_id)


@router.get("/diagnostics/{diagnostics_id}")
def get_diagnostics(diagnostics_id: RowId, session: SessionDep, user: Staff) -> DiagnosticsUpload:
    """One diagnostics upload, unpacked: logs, snapshot, last runs (404 until it arrives)."""
    return queries.diagnostics_upload(session, diagnostics_id=diagnostics_id)
