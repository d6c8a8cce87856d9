"""`kitkeeper-agent content status|sync`: what the kit holds, and a sync run by hand.

`status` prints the served and pending manifests, the bytes held and what is still missing.
`sync` runs sync passes now (as the agent does on a pointer), printing each event as a JSON line;
with `--wait S` it keeps trying after failures for up to S seconds. Exit codes: 0 synced,
1 not synced (failed, refused, waiting for a lesson), 2 not enrolled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.config import AgentSettings
    from agent.content.store import ContentStore
    from agent.content.sync import ContentSync
    from policy.lessons import Lesson
    from protocol.models import Event

# The sync's modules (httpx, the store) are imported when a content command runs: `collect` and
# `doctor` share this CLI and a kit's memory counts.


def add_parser(sub: Any) -> None:
    """Add `content status` and `content sync` to the CLI's subcommands."""
    content = sub.add_parser("content", help="the offline content on this kit: status, sync now")
    actions = content.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="what the kit holds and what it still lacks")
    status.add_argument("--state-dir", type=Path, help="durable state directory")
    status.add_argument("--json", action="store_true", help="as JSON, for machines")
    sync = actions.add_parser("sync", help="sync now (exit 0 synced, 1 not synced)")
    sync.add_argument("--state-dir", type=Path, help="durable state directory")
    sync.add_argument(
        "--wait", type=float, default=0.0, help="keep trying after failures this many seconds"
    )


def run(args: argparse.Namespace, settings: AgentSettings) -> int:
    """Run `content status` or `content sync`; the exit code."""
    if not settings.state_dir.is_dir():
        raise ConfigError(f"no agent state in {settings.state_dir}")
    if args.action == "status":
        return _status(settings.state_dir, as_json=args.json)
    return _sync(settings, args.wait)


def describe(store: ContentStore) -> dict[str, Any]:
    """What the kit holds: served and pending versions, bytes, missing blobs and resources."""
    current, pending = store.current(), store.pending()
    target = pending.manifest if pending else current
    missing = store.missing(target) if target else []
    return {
        "serving_version": current.version if current else None,
        "pending_version": pending.manifest.version if pending else None,
        "bytes_held": store.held_bytes(),
        "bytes_total": target.total_bytes if target else 0,
        "bytes_missing": sum(b.size for b in missing),
        "blobs_missing": len(missing),
        "resources_missing": [
            r.id for r in (target.resources if target else []) if not store.has(r.sha256)
        ],
    }


def _status(state_dir: Path, *, as_json: bool) -> int:
    from agent.content.store import ContentStore  # noqa: PLC0415

    facts = describe(ContentStore(state_dir))
    if as_json:
        sys.stdout.write(json.dumps(facts, indent=2) + "\n")
        return 0
    lines = [
        f"served version:   {facts['serving_version'] or 'none'}",
        f"pending version:  {facts['pending_version'] or 'none'}",
        f"bytes held:       {facts['bytes_held']}",
        f"bytes missing:    {facts['bytes_missing']} ({facts['blobs_missing']} files)",
        f"resources missing: {', '.join(facts['resources_missing']) or 'none'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _print_event(event: Event) -> None:
    sys.stdout.write(event.model_dump_json() + "\n")
    sys.stdout.flush()


def _sync(settings: AgentSettings, wait: float) -> int:
    from agent.content.sync import from_settings  # noqa: PLC0415
    from agent.enroll import read_enrollment  # noqa: PLC0415
    from agent.identity import load_identity  # noqa: PLC0415
    from common import mqtt  # noqa: PLC0415

    identity = load_identity(settings.state_dir)
    recorded = read_enrollment(settings.state_dir)
    tls = (
        mqtt.tls_context(ca=identity.ca_path, cert=identity.cert_path, key=identity.key_path)
        if identity
        else None
    )
    sync = from_settings(
        settings,
        kit_id=identity.kit_id if identity else "",
        controller_url=recorded.get("controller_url"),
        tls=tls,
        publish_event=_print_event,
        lessons=_lessons(settings.state_dir),
    )
    if sync is None:
        raise ConfigError("this kit is not enrolled: no controller to sync from")
    try:
        return _passes(sync, time.monotonic() + wait, settings.content_retry)
    finally:
        sync.stop()


def _passes(sync: ContentSync, until: float, retry: float) -> int:
    from protocol.content import SyncState  # noqa: PLC0415

    while True:
        status = sync.run_once()
        if status.state is SyncState.SYNCED:
            return 0
        if status.state is SyncState.REFUSED or time.monotonic() + retry > until:
            return 1
        time.sleep(retry)


def _lessons(state_dir: Path) -> Callable[[], list[Lesson]]:
    """The lessons of the schedule the agent keeps (`schedule.json`), read at each call."""

    from agent.selfheal import SCHEDULE_FILE  # noqa: PLC0415
    from policy.lessons import windows  # noqa: PLC0415
    from protocol.models import Schedule  # noqa: PLC0415

    def read() -> list[Lesson]:
        try:
            return windows(Schedule.model_validate_json((state_dir / SCHEDULE_FILE).read_bytes()))
        except (OSError, ValueError):
            return []

    return read
