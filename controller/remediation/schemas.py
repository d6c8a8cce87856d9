"""The shapes the remediation service answers in and takes: incidents, runs, diagnostics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from controller.platform.localtime import local_iso
from protocol.playbook_vars import MAX_COMMAND_VARS, VarSpec


class HistoryOut(BaseModel):
    """One line of an incident's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    step: int
    kind: str
    message: str
    data: dict[str, Any]
    at_local: str | None = Field(default=None, description="`at` in the school's time zone")
    text: str | None = Field(
        default=None, description="`message` in the request's language (as stored if it has none)"
    )


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
    extra_vars: dict[str, Any] | None = None


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
    lesson_minutes_lost: float = Field(
        description="lesson minutes lost, each counted once across the kit's overlapping "
        "incidents (the earliest open one covering a minute has it), to 0.1"
    )
    ladder: list[dict[str, Any]]
    opened_at_local: str | None = Field(
        default=None, description="`opened_at` in the school's time zone"
    )
    resolved_at_local: str | None = Field(
        default=None, description="`resolved_at` in the school's time zone"
    )
    timezone: str | None = Field(default=None, description="the school's time zone")

    @field_validator("lesson_minutes_lost")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 1)

    def localised(self, zone: ZoneInfo) -> IncidentOut:
        """The same incident with its times also in the school's time zone `zone`."""
        self.opened_at_local = local_iso(self.opened_at, zone)
        self.resolved_at_local = local_iso(self.resolved_at, zone)
        self.timezone = zone.key
        return self


class IncidentTicket(BaseModel):
    """A ticket the incident opened, in brief."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    state: str
    priority: str
    due_by: datetime | None
    due_source: str | None = None
    sla_breached: bool


class IncidentDetail(IncidentOut):
    """An incident's whole story: history, playbook runs, tickets."""

    history: list[HistoryOut]
    commands: list[CommandOut]
    tickets: list[IncidentTicket]

    def localised(self, zone: ZoneInfo) -> IncidentDetail:
        """The incident and its history with their times also in the school's time zone."""
        super().localised(zone)
        for entry in self.history:
            entry.at_local = local_iso(entry.at, zone)
        return self


class RuleLosses(BaseModel):
    """One rule's incidents and the lesson minutes they cost."""

    rule_id: str
    incidents: int
    resolved: int
    lesson_minutes_lost: float


class IncidentsSummary(BaseModel):
    """Incidents and lesson minutes lost, per rule and in all."""

    rules: list[RuleLosses]
    incidents: int
    lesson_minutes_lost: float


class PlaybookOut(BaseModel):
    """A playbook of the signed bundle."""

    id: str
    disruptive: bool
    timeout_s: int
    description: str
    vars: dict[str, VarSpec] = Field(
        default_factory=dict, description="what a run may set (`vars` of RunIn); nothing else"
    )


class PlaybooksOut(BaseModel):
    """The signed bundle's version and its playbooks."""

    bundle_version: int | None
    playbooks: list[PlaybookOut]


class KitBundleOut(BaseModel):
    """Which signed playbook bundle a kit accepted, or why it refused one."""

    current: int | None
    accepted: int | None
    sent: int | None
    refused_reason: str | None


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
    vars: dict[str, str | int | bool] = Field(
        default_factory=dict,
        max_length=MAX_COMMAND_VARS,
        description="variables for the run: only those the playbook declares "
        "(GET /api/v1/playbooks), each within its declaration",
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
    expires_at: datetime | None = Field(
        default=None, description="after this no upload is taken against the request"
    )
    size: int = Field(description="the upload's size once unpacked, in bytes")
    refused_reason: str | None = Field(
        default=None, description="why what the kit sent was refused (the request is used up)"
    )


class DiagnosticsUpload(DiagnosticsOut):
    """A diagnostics upload, unpacked: logs, snapshot, last runs."""

    content: dict[str, Any]
