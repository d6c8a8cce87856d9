"""A pupil's or parent's call for help, from the kit itself (`kitkeeper-agent help`).

The command writes the request into `<state_dir>/requests/` (atomically, one file each) and the
running agent publishes it as a `help_request` event, then removes the file: a request made while
the agent is stopped or offline is sent when it runs again. The controller opens a help-request
ticket, due by the pupil's next lesson.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from pathlib import Path

from common.files import PUBLIC_MODE, write_atomic
from protocol.commands import EventKind
from protocol.models import Event, Severity

_LOGGER = logging.getLogger(__name__)
REQUESTS_DIR = "requests"
MAX_MESSAGE = 1000


def ask(state_dir: Path, message: str, now: datetime) -> Path:
    """Store one request for the agent to send; its file."""
    text = " ".join(message.split())[:MAX_MESSAGE]
    folder = state_dir / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"help-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.json"
    write_atomic(
        path, json.dumps({"message": text, "asked_at": now.isoformat()}).encode(), PUBLIC_MODE
    )
    return path


def pending(state_dir: Path) -> list[tuple[Path, Event]]:
    """The requests waiting to be sent, oldest first, as events (unreadable ones are dropped)."""
    folder = state_dir / REQUESTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("help-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            message = str(data.get("message") or "help requested from the kit")[:MAX_MESSAGE]
            asked_at = str(data.get("asked_at", ""))
        except (OSError, ValueError, AttributeError):
            _LOGGER.warning("dropping an unreadable help request %s", path)
            path.unlink(missing_ok=True)
            continue
        event = Event(
            kind=EventKind.HELP_REQUEST.value,
            severity=Severity.WARNING,
            message=message,
            data={"asked_at": asked_at},
        )
        found.append((path, event))
    return found
