"""Diagnostics for a technician: the agent's log, the kernel's, a snapshot and the last runs.

`collect` gathers what is readable (anything that is not says why, never a crash);
`diagnostics_event` packs it as gzip + base64 into one `diagnostics` event that fits an MQTT
message, shortening the logs first when it would not.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from agent import __version__
from agent.bundles import BundleStore
from agent.collectors import SystemCollector
from agent.config import AgentSettings
from agent.playbooks import recent_runs
from protocol.commands import EventKind
from protocol.models import Event

MAX_ENCODED_CHARS: Final = 40_000
"""Largest base64 payload of a diagnostics event (the MQTT payload cap is 64 KiB)."""
_COMMAND_TIMEOUT_S = 10.0
_RUN_TAIL_CHARS = 2000


def collect(
    state_dir: Path,
    settings: AgentSettings,
    log_lines: int,
    *,
    collector: SystemCollector | None = None,
    outbox_size: int | None = None,
) -> dict[str, Any]:
    """Everything a technician needs to see about this kit now, as plain JSON-able data."""
    report: dict[str, Any] = {
        "collected_at": datetime.now(UTC).isoformat(),
        "agent_version": __version__,
        "agent_log": _command_tail(
            "journalctl",
            ["-u", "kitkeeper-agent", "-n", str(log_lines), "--no-pager", "-o", "short-iso"],
        ),
        "dmesg": _command_tail("dmesg", ["--ctime"], lines=log_lines),
        "outbox_size": outbox_size,
        "bundle_version": BundleStore(state_dir, public_key=settings.bundle_key).accepted_version(),
        "runs": [
            {
                **run,
                "result": {k: v for k, v in run.get("result", {}).items() if k != "tail"},
                "tail": str(run.get("tail", ""))[-_RUN_TAIL_CHARS:],
            }
            for run in recent_runs(state_dir)
        ],
    }
    try:
        snapshot = (collector or SystemCollector()).collect(settings.interval)
        report["telemetry"] = snapshot.model_dump(mode="json")
    except Exception as exc:  # noqa: BLE001 - a diagnostic must come back whatever breaks
        report["telemetry"] = {"unavailable": f"{type(exc).__name__}: {exc}"}
    return report


def diagnostics_event(report: dict[str, Any], *, command_id: str | None) -> Event:
    """The `diagnostics` event carrying `report` (gzip + base64, under MAX_ENCODED_CHARS)."""
    report = dict(report)
    truncated = False
    while True:
        raw = json.dumps(report, default=str, sort_keys=True).encode()
        payload = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
        if len(payload) <= MAX_ENCODED_CHARS or not _shorten(report):
            break
        truncated = True
    if len(payload) > MAX_ENCODED_CHARS:  # nothing left to shorten: say so rather than send
        raw = json.dumps({"unavailable": "diagnostics too large to send"}).encode()
        payload = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
        truncated = True
    return Event(
        kind=EventKind.DIAGNOSTICS.value,
        message="diagnostics collected" + (" (shortened)" if truncated else ""),
        data={
            "command_id": command_id,
            "encoding": "gzip+base64",
            "payload": payload,
            "size": len(raw),
            "truncated": truncated,
        },
    )


def decode_payload(data: dict[str, Any]) -> dict[str, Any]:
    """The report inside a `diagnostics` event's data (for the controller and tests)."""
    decoded: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(data["payload"])))
    return decoded


def _shorten(report: dict[str, Any]) -> bool:
    """Halve the longest log (logs first, then run outputs, then the snapshot); False if done."""
    logs = [
        key for key in ("agent_log", "dmesg") if isinstance(report.get(key), list) and report[key]
    ]
    if logs:
        key = max(logs, key=lambda k: len(json.dumps(report[k])))
        lines = report[key]
        report[key] = lines[len(lines) // 2 + (len(lines) % 2) :] if len(lines) > 1 else []
        return True
    runs = report.get("runs")
    if isinstance(runs, list) and runs:
        report["runs"] = runs[: len(runs) // 2]
        return True
    if "unavailable" not in (report.get("telemetry") or {}):
        report["telemetry"] = {"unavailable": "left out: too large"}
        return True
    return False


def _command_tail(program: str, args: list[str], lines: int | None = None) -> Any:
    """The last lines a command prints, or why there are none."""
    binary = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if binary is None:
        return {"unavailable": f"{program} is not installed"}
    try:
        done = subprocess.run(
            [binary, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return {"unavailable": f"{program}: {exc}"}
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {"unavailable": f"{program}: {reason[:300]}"}
    output = done.stdout.splitlines()
    return output[-lines:] if lines else output
