"""What remediation commands carry and what the agent reports back (DESIGN.md, the ladder).

Commands travel on `kits/{id}/cmd` as `Command(kind, expires_at, args)`; the command's `msg_id`
is its id and every event about it carries that id as `data.command_id`. These models type the
`args` of each kind and the `data` of each event kind.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field

from protocol.base import WireModel

PLAYBOOK_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MAX_OUTPUT_TAIL = 4000
MAX_HANDOVERS = 8
"""Most bundle key hand-overs one `install_bundle` command carries (the newest ones)."""
"""Characters of a run's output kept in its result event."""


class CommandKind(StrEnum):
    """The commands an agent understands (besides certificate renewal)."""

    INSTALL_BUNDLE = "install_bundle"
    RUN_PLAYBOOK = "run_playbook"
    COLLECT_DIAGNOSTICS = "collect_diagnostics"
    SYNC_CONTENT = "sync_content"
    """Fetch the latest content manifest now (args: none)."""


class EventKind(StrEnum):
    """The events of remediation, readiness and help."""

    BUNDLE_INSTALLED = "bundle_installed"
    BUNDLE_REFUSED = "bundle_refused"
    REMEDIATION_STARTED = "remediation_started"
    REMEDIATION_PROGRESS = "remediation_progress"
    REMEDIATION_RESULT = "remediation_result"
    SELF_HEAL = "self_heal"
    PRELESSON_CHECK = "prelesson_check"
    DIAGNOSTICS = "diagnostics"
    HELP_REQUEST = "help_request"


class SignedHandover(WireModel):
    """A key hand-over (`protocol/bundle_keys.py`): the statement, the old key's signature."""

    statement_b64: str = Field(min_length=1, max_length=2700)
    signature_b64: str = Field(min_length=1, max_length=200)


class InstallBundleArgs(WireModel):
    """A signed playbook bundle: the bytes (base64 of a .tar.gz) and its Ed25519 signature."""

    bundle_b64: str = Field(min_length=1, max_length=48_000)
    signature_b64: str = Field(min_length=1, max_length=200)
    handovers: list[SignedHandover] = Field(
        default_factory=list,
        max_length=MAX_HANDOVERS,
        description="the signing key's hand-overs, oldest first, for kits that pin an older key",
    )


class RunPlaybookArgs(WireModel):
    """Run one playbook of the accepted bundle."""

    playbook: str = Field(pattern=PLAYBOOK_ID_PATTERN)
    check: bool = Field(default=False, description="Ansible check mode: report, change nothing")
    forced: bool = Field(
        default=False, description="a technician forced a disruptive playbook inside a lesson"
    )
    incident_id: int | None = Field(default=None, ge=1)
    min_bundle_version: int | None = Field(
        default=None, ge=0, description="refuse to run from an older bundle than this"
    )
    extra_vars: dict[str, str | int | bool] = Field(default_factory=dict, max_length=32)


class CollectDiagnosticsArgs(WireModel):
    """Ask the kit for its logs and a snapshot."""

    log_lines: int = Field(default=300, ge=10, le=5000)


class RemediationResult(WireModel):
    """The `data` of a `remediation_result` event."""

    command_id: str | None = Field(default=None, max_length=64)
    incident_id: int | None = None
    playbook: str = Field(pattern=PLAYBOOK_ID_PATTERN)
    bundle_version: int | None = None
    ok: bool
    status: str = Field(max_length=32, description="successful, failed, timeout, refused, ...")
    rc: int | None = None
    check: bool = False
    changed: list[str] = Field(default_factory=list, max_length=200)
    failed: list[str] = Field(default_factory=list, max_length=200)
    duration_s: float = Field(default=0.0, ge=0)
    tail: str = Field(default="", max_length=MAX_OUTPUT_TAIL)
    reason: str = Field(default="", max_length=500)


class PrelessonCheck(WireModel):
    """The `data` of a `prelesson_check` event: the kit's readiness before an online lesson."""

    lesson_start: AwareDatetime
    ok: bool
    failures: list[str] = Field(default_factory=list, max_length=50)
    remediated: list[str] = Field(default_factory=list, max_length=50)
    details: dict[str, Any] = Field(default_factory=dict)
