"""The one adapter around ansible-runner: runs the accepted bundle's playbooks on the kit.

`Runner` runs one playbook at a time with ansible-runner, off the caller's thread, in a fresh
private data directory `<state_dir>/runs/<run id>/` holding only that playbook (written from the
bundle's verified bytes, `agent/bundles.py`), against `localhost` with the local connection and
the agent's own Python. Variables: the command's `extra_vars`, only those the playbook declares
in the signed bundle and only within their declared type, pattern, choices or range (text never
with control characters or Jinja delimiters: `protocol/playbook_vars.py`), under the agent's
`playbook_vars` setting, which always wins: the kit's own configuration (such as `kk_root` and
`kk_live`) cannot be changed remotely.
It publishes `remediation_started`, at most one `remediation_progress` per finished task (20 per
run at most) and one `remediation_result` (`protocol.commands.RemediationResult`); a refused run
publishes only the result. The last runs are kept for diagnostics (`recent_runs`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import ansible_runner  # type: ignore[import-untyped]

from agent.bundles import BundleStore
from agent.errors import AgentError
from protocol.bundle import BundleError, PlaybookEntry
from protocol.commands import (
    MAX_OUTPUT_TAIL,
    PLAYBOOK_ID_PATTERN,
    EventKind,
    RemediationResult,
    RunPlaybookArgs,
)
from protocol.models import Event, Severity
from protocol.playbook_vars import VarsError, check_vars

_LOGGER = logging.getLogger(__name__)

RUNS_DIR: Final = "runs"
RESULT_FILE: Final = "result.json"
KEEP_RUNS: Final = 5
"""Run directories kept after a run, newest first, for diagnostics."""
MAX_PROGRESS_EVENTS: Final = 20
_TASK_DONE = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}

PublishEvent = Callable[[Event], None]
Vars = dict[str, str | int | bool]


class RemediationError(AgentError):
    """A playbook run refused before it started; `code` is the short reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Task:
    """A task ansible-runner reported finished."""

    name: str
    state: str
    changed: bool
    failed: bool


@dataclass
class _Run:
    """One playbook run being prepared or under way."""

    run_id: str
    run_dir: Path
    playbook: str
    entry: PlaybookEntry
    bundle_version: int
    check: bool
    command_id: str | None
    incident_id: int | None
    extravars: Vars
    changed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)
    finished_tasks: set[str] = field(default_factory=set)
    progress_sent: int = 0
    output: list[str] = field(default_factory=list)
    result: RemediationResult | None = None

    def outcome(self, *, ok: bool, status: str, **fields: Any) -> RemediationResult:
        """A result of this run (which command, incident, playbook, bundle) saying `status`."""
        return RemediationResult(
            command_id=self.command_id,
            incident_id=self.incident_id,
            playbook=self.playbook,
            bundle_version=self.bundle_version,
            ok=ok,
            status=status,
            check=self.check,
            **fields,
        )

    def take(self, event: dict[str, Any]) -> _Task | None:
        """Record one ansible-runner event; the task it finished, if it is the first word of it."""
        stdout = event.get("stdout")
        if isinstance(stdout, str) and stdout:
            self.output.append(stdout)
        state = _TASK_DONE.get(str(event.get("event")))
        data = event.get("event_data") or {}
        if state is None or not isinstance(data, dict):
            return None
        key = str(data.get("task_uuid") or data.get("uuid") or len(self.finished_tasks))
        if key in self.finished_tasks:
            return None
        self.finished_tasks.add(key)
        name = str(data.get("task") or data.get("task_action") or "task")
        res = data.get("res")
        res = res if isinstance(res, dict) else {}
        changed = bool(res.get("changed")) and state == "ok"
        failed = state == "unreachable" or (state == "failed" and not data.get("ignore_errors"))
        if changed:
            self.changed.append(name)
        if failed:
            self.failed.append(name)
            message = res.get("msg") or res.get("stderr") or state
            self.failure_messages.append(f"{name}: {str(message)[:200]}")
        return _Task(name=name, state=state, changed=changed, failed=failed)

    def tail(self) -> str:
        """The end of the run's output, as ansible-runner kept it (else as it streamed)."""
        try:
            text = (self.run_dir / "artifacts" / "run" / "stdout").read_text(errors="replace")
        except OSError:
            text = "\n".join(self.output)
        return text[-MAX_OUTPUT_TAIL:]


class Runner:
    """Runs one playbook of the accepted bundle at a time, through ansible-runner."""

    def __init__(
        self,
        state_dir: Path,
        bundle_store: BundleStore,
        publish_event: PublishEvent,
        *,
        playbook_vars: Mapping[str, str | int | bool] | None = None,
        keep_runs: int = KEEP_RUNS,
        poll_interval: float = 0.5,
    ) -> None:
        self.runs_dir = state_dir / RUNS_DIR
        self.bundles = bundle_store
        self._publish = publish_event
        self._playbook_vars = dict(playbook_vars or {})
        self._keep_runs = keep_runs
        self._poll_interval = poll_interval
        self._busy = threading.Lock()
        self._cancel = threading.Event()
        self._current: _Run | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether a playbook is running now."""
        return self._busy.locked()

    def run_command(self, args: RunPlaybookArgs, *, command_id: str | None) -> RemediationResult:
        """Start a `run_playbook` command in the background; the started or refused result."""
        return self.run(
            args.playbook,
            check=args.check,
            command_id=command_id,
            incident_id=args.incident_id,
            extra_vars=args.extra_vars,
            min_bundle_version=args.min_bundle_version,
            wait=False,
        )

    def run(
        self,
        playbook: str,
        *,
        check: bool = False,
        command_id: str | None = None,
        incident_id: int | None = None,
        extra_vars: Mapping[str, str | int | bool] | None = None,
        min_bundle_version: int | None = None,
        wait: bool = True,
    ) -> RemediationResult:
        """Run one playbook of the accepted bundle.

        With `wait` (local self-heal) the final result; without it, a refusal or a result with
        status "started" (ok) while the run goes on in its own thread. Every outcome is also
        published as events.
        """
        if not re.match(PLAYBOOK_ID_PATTERN, playbook):
            raise ValueError(f"{playbook!r} is not a playbook id")
        refusal = RemediationResult(
            command_id=command_id,
            incident_id=incident_id,
            playbook=playbook,
            bundle_version=self.bundles.accepted_version(),
            ok=False,
            status="refused",
            check=check,
        )
        if not self._busy.acquire(blocking=False):
            current = self._current.playbook if self._current else "another playbook"
            return self.refuse(
                refusal.model_copy(
                    update={"status": "busy", "reason": f"busy: {current} is running"}
                )
            )
        try:
            run = self._prepare(
                playbook,
                check=check,
                command_id=command_id,
                incident_id=incident_id,
                extra_vars=dict(extra_vars or {}),
                min_bundle_version=min_bundle_version,
            )
        except RemediationError as exc:
            self._busy.release()
            return self.refuse(refusal.model_copy(update={"reason": str(exc)[:500]}))
        except Exception:
            self._busy.release()
            raise
        thread = self._start(run)
        if not wait:
            return run.outcome(ok=True, status="started")
        thread.join()
        assert run.result is not None
        return run.result

    def close(self, timeout: float = 10.0) -> None:
        """Stop a running playbook (it reports `canceled`) and wait for its thread."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            _LOGGER.warning("stopping the running playbook")
            self._cancel.set()
            thread.join(timeout)

    def refuse(self, result: RemediationResult) -> RemediationResult:
        """Report a run that did not start (why is in `reason`); nothing runs."""
        _LOGGER.warning("playbook %s refused: %s", result.playbook, result.reason)
        self._emit(
            EventKind.REMEDIATION_RESULT,
            f"{result.playbook}: {result.status}: {result.reason}",
            result.model_dump(mode="json"),
            ok=False,
        )
        return result

    # --- preparing -------------------------------------------------------------------------

    def _prepare(
        self,
        playbook: str,
        *,
        check: bool,
        command_id: str | None,
        incident_id: int | None,
        extra_vars: Vars,
        min_bundle_version: int | None,
    ) -> _Run:
        try:
            bundle = self.bundles.verified()
        except BundleError as exc:
            raise RemediationError(exc.reason.value, exc.detail) from exc
        manifest = bundle.manifest
        if min_bundle_version is not None and manifest.version < min_bundle_version:
            raise RemediationError(
                "bundle_version",
                f"the kit has bundle {manifest.version}, the command needs {min_bundle_version}",
            )
        entry = manifest.playbooks.get(playbook)
        if entry is None:
            raise RemediationError(
                "unknown_playbook", f"{playbook} is not in bundle {manifest.version}"
            )
        extravars = {
            **_command_vars(entry, extra_vars, self._playbook_vars),
            **self._playbook_vars,
        }
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
        run_dir = self.runs_dir / run_id
        _private_data_dir(run_dir, f"{playbook}.yml", bundle.files[entry.file])
        return _Run(
            run_id=run_id,
            run_dir=run_dir,
            playbook=playbook,
            entry=entry,
            bundle_version=manifest.version,
            check=check,
            command_id=command_id,
            incident_id=incident_id,
            extravars=extravars,
        )

    # --- running ---------------------------------------------------------------------------

    def _start(self, run: _Run) -> threading.Thread:
        self._current = run
        self._cancel.clear()
        thread = threading.Thread(
            target=self._execute, args=(run,), name=f"remediation-{run.playbook}", daemon=True
        )
        self._thread = thread
        thread.start()
        return thread

    def _execute(self, run: _Run) -> None:
        try:
            run.result = self._ansible(run)
        except Exception as exc:  # the boundary: whatever happened, the controller hears of it
            _LOGGER.exception("playbook %s could not run", run.playbook)
            run.result = run.outcome(ok=False, status="error", reason=f"error: {exc}"[:500])
        finally:
            try:
                result = run.result
                if result is not None:
                    _save(run, result)
                    self._emit(
                        EventKind.REMEDIATION_RESULT,
                        f"{run.playbook}: {result.status}",
                        result.model_dump(mode="json"),
                        ok=result.ok,
                    )
                self._prune()
            finally:
                self._current = None
                self._busy.release()

    def _ansible(self, run: _Run) -> RemediationResult:
        self._emit(
            EventKind.REMEDIATION_STARTED,
            f"running {run.playbook}" + (" (check mode)" if run.check else ""),
            {
                "command_id": run.command_id,
                "incident_id": run.incident_id,
                "playbook": run.playbook,
                "bundle_version": run.bundle_version,
                "check": run.check,
                "disruptive": run.entry.disruptive,
                "timeout": run.entry.timeout,
            },
        )
        started = time.monotonic()
        outcome = ansible_runner.run(
            private_data_dir=str(run.run_dir),
            ident="run",
            playbook=f"{run.playbook}.yml",
            inventory=_inventory(),
            extravars=run.extravars,
            envvars=_environment(run.run_dir),
            cmdline="--check" if run.check else None,
            timeout=run.entry.timeout,
            settings={"pexpect_timeout": self._poll_interval, "suppress_ansible_output": True},
            quiet=True,
            event_handler=lambda event: self._on_event(run, event),
            cancel_callback=self._cancel.is_set,
        )
        duration = time.monotonic() - started
        status = str(outcome.status)
        if status != "successful":
            # ansible-runner kills ansible-playbook's process group only; its workers run each
            # task in a session of their own (setsid) and would go on after a timeout.
            stray = _kill_processes_mentioning(str(run.run_dir))
            if stray:
                _LOGGER.warning("killed %d processes left by playbook %s", stray, run.playbook)
        reason = ""
        if status == "timeout":
            reason = f"timeout: stopped after {run.entry.timeout}s"
        elif status != "successful":
            reason = "; ".join(run.failure_messages) or f"{status} (rc {outcome.rc})"
        return run.outcome(
            ok=status == "successful",
            status=status[:32],
            rc=outcome.rc if isinstance(outcome.rc, int) else None,
            changed=run.changed[:200],
            failed=run.failed[:200],
            duration_s=round(duration, 3),
            tail=run.tail(),
            reason=reason[:500],
        )

    def _on_event(self, run: _Run, event: dict[str, Any]) -> bool:
        try:
            task = run.take(event)
            if task is not None and run.progress_sent < MAX_PROGRESS_EVENTS:
                run.progress_sent += 1
                self._emit(
                    EventKind.REMEDIATION_PROGRESS,
                    f"{run.playbook}: {task.name}: {'changed' if task.changed else task.state}",
                    {
                        "command_id": run.command_id,
                        "incident_id": run.incident_id,
                        "playbook": run.playbook,
                        "task": task.name,
                        "state": task.state,
                        "ok": not task.failed,
                        "changed": task.changed,
                        "failed": task.failed,
                        "index": len(run.finished_tasks),
                    },
                )
        except Exception:  # an odd event must not stop the run
            _LOGGER.exception("could not read an ansible-runner event")
        return True

    # --- reporting and housekeeping ----------------------------------------------------------

    def _emit(
        self, kind: EventKind, message: str, data: dict[str, Any], *, ok: bool = True
    ) -> None:
        try:
            self._publish(
                Event(
                    kind=kind.value,
                    severity=Severity.INFO if ok else Severity.WARNING,
                    message=message[:2000],
                    data=data,
                )
            )
        except Exception:  # the run goes on; the log keeps what the controller missed
            _LOGGER.exception("could not publish %s", kind.value)

    def _prune(self) -> None:
        try:
            runs = sorted(p for p in self.runs_dir.iterdir() if p.is_dir())
        except OSError:
            return
        for old in runs[: -self._keep_runs] if self._keep_runs else runs:
            shutil.rmtree(old, ignore_errors=True)


def _command_vars(
    entry: PlaybookEntry, extra_vars: Mapping[str, Any], playbook_vars: Mapping[str, Any]
) -> Vars:
    """The command's variables, each declared by the playbook in the signed bundle; kit's win."""
    try:
        accepted = check_vars(entry.vars, extra_vars)
    except VarsError as exc:
        raise RemediationError("extra_vars", str(exc)) from exc
    for name in accepted.keys() & playbook_vars.keys():
        _LOGGER.warning("ignoring %s from the command: the kit's setting wins", name)
        del accepted[name]
    return accepted


def _private_data_dir(run_dir: Path, playbook_file: str, playbook: bytes) -> None:
    """ansible-runner's private data directory for one run: the playbook and Ansible's dirs."""
    try:
        project = run_dir / "project"
        project.mkdir(mode=0o700, parents=True)
        (project / playbook_file).write_bytes(playbook)
        (run_dir / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = False\n")
        for sub in ("home", "tmp", "remote-tmp"):
            (run_dir / "ansible" / sub).mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise RemediationError("disk", f"cannot prepare {run_dir}: {exc}") from exc


def _environment(run_dir: Path) -> dict[str, str]:
    """Ansible's environment: the agent's Python first, every Ansible directory in the run's."""
    ansible = run_dir / "ansible"
    return {
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]
        ),
        "ANSIBLE_CONFIG": str(run_dir / "ansible.cfg"),
        "ANSIBLE_HOME": str(ansible / "home"),
        "ANSIBLE_LOCAL_TEMP": str(ansible / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(ansible / "remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


def _inventory() -> dict[str, Any]:
    """This kit only, with the local connection and the agent's own Python."""
    return {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
            }
        }
    }


def _save(run: _Run, result: RemediationResult) -> None:
    with contextlib.suppress(OSError):
        (run.run_dir / RESULT_FILE).write_text(result.model_dump_json(), encoding="utf-8")


def _kill_processes_mentioning(marker: str) -> int:
    """SIGKILL the process group of every process whose command line contains `marker`."""
    needle = marker.encode()
    own_group = os.getpgid(0)
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "cmdline").read_bytes():
                continue
            pid = int(entry.name)
            group = os.getpgid(pid)
            if group in (0, own_group):
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(group, signal.SIGKILL)
            killed += 1
        except OSError:  # gone meanwhile, or not ours
            continue
    return killed


def recent_runs(state_dir: Path, limit: int = KEEP_RUNS) -> list[dict[str, Any]]:
    """The kept runs, newest first: each one's result (if it finished) and its output's tail."""
    runs_dir = state_dir / RUNS_DIR
    try:
        runs = sorted((p for p in runs_dir.iterdir() if p.is_dir()), reverse=True)[:limit]
    except OSError:
        return []
    found = []
    for run_dir in runs:
        entry: dict[str, Any] = {"run_id": run_dir.name}
        with contextlib.suppress(OSError, ValueError):
            entry["result"] = json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))
        with contextlib.suppress(OSError):
            stdout = (run_dir / "artifacts" / "run" / "stdout").read_text(errors="replace")
            entry["tail"] = stdout[-MAX_OUTPUT_TAIL:]
        found.append(entry)
    return found
