"""What each kit says of its content: the latest status per kit, from the kits' content events.

The kits' events are stored by the fleet's ingest; `apply_new` reads those of the content kinds
(`protocol.content.ContentEventKind`) after the content cursor, oldest first, and keeps each
kit's latest status in `kit_content_status`. An event's `data` is a `ContentStatus`; one that
does not parse is logged and passed over. A refusal or failure is kept as the kit's last error
(a later success does not erase it: staff see when it was). `merged` is the pure step.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy.orm import Session

from controller.content.manifest_tables import ContentCursor
from controller.content.sync_status_tables import KitContentStatus
from controller.remediation import fleet_reads
from protocol.content import ContentEventKind, ContentStatus

_LOGGER = logging.getLogger(__name__)

EVENTS_PER_PASS: Final = 1000
CURSOR: Final = "events"
KINDS: Final = [k.value for k in ContentEventKind]
ERRORS: Final = {ContentEventKind.CONTENT_REFUSED, ContentEventKind.CONTENT_FAILED}


def merged(
    previous: dict[str, Any] | None, kind: ContentEventKind, status: ContentStatus, at: datetime
) -> dict[str, Any]:
    """A kit's status after one event: the event's figures; lessons and the last error kept
    unless the event says new ones."""
    row: dict[str, Any] = {
        "manifest_version": status.manifest_version,
        "serving_version": status.serving_version,
        "state": status.state.value,
        "bytes_total": status.bytes_total,
        "bytes_have": status.bytes_have,
        "bytes_to_go": status.bytes_to_go,
        "missing": list(status.missing),
        "lessons": [lesson.model_dump(mode="json") for lesson in status.lessons],
        "error_reason": None,
        "error_detail": None,
        "error_at": None,
    }
    if previous is not None:
        if not status.lessons and kind != ContentEventKind.CONTENT_READINESS:
            row["lessons"] = previous.get("lessons", [])
        for name in ("error_reason", "error_detail", "error_at"):
            row[name] = previous.get(name)
    if kind in ERRORS:
        row["error_reason"] = (status.reason or kind.value)[:64]
        detail = status.detail
        if status.bytes_missing is not None:
            detail = f"{detail or ''} (bytes missing: {status.bytes_missing})".strip()
        row["error_detail"] = detail[:500] if detail else None
        row["error_at"] = at
    return row


_FIELDS: Final = (
    "manifest_version",
    "serving_version",
    "state",
    "bytes_total",
    "bytes_have",
    "bytes_to_go",
    "missing",
    "lessons",
    "error_reason",
    "error_detail",
    "error_at",
)


def _as_dict(row: KitContentStatus) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _FIELDS}


def _cursor(session: Session) -> ContentCursor:
    row = session.get(ContentCursor, CURSOR)
    if row is None:
        row = ContentCursor(name=CURSOR, value=0)
        session.add(row)
    return row


def apply_new(session: Session, now: datetime) -> set[str]:
    """Keep the status each new content event reports; the kits whose status changed."""
    cursor = _cursor(session)
    newest = fleet_reads.newest_event_id(session)
    events = fleet_reads.events_after(
        session, after_id=cursor.value, kinds=KINDS, limit=EVENTS_PER_PASS
    )
    if not events:  # none of ours: the next pass need not read the others again
        cursor.value = max(cursor.value, newest)
    changed: set[str] = set()
    for event in events:
        cursor.value = event.id
        data = event.body.get("data") if isinstance(event.body, dict) else None
        try:
            status = ContentStatus.model_validate(data if isinstance(data, dict) else {})
        except ValidationError as exc:
            _LOGGER.warning(
                "content event %d of kit %s is malformed: %s",
                event.id,
                event.kit_id,
                str(exc).splitlines()[0],
            )
            continue
        row = session.get(KitContentStatus, event.kit_id)
        values = merged(
            _as_dict(row) if row is not None else None,
            ContentEventKind(event.kind),
            status,
            event.ts,
        )
        if row is None:
            row = KitContentStatus(kit_id=event.kit_id, **values)
            session.add(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        row.event_id, row.updated_at = event.id, now
        changed.add(event.kit_id)
    return changed


def status_of(session: Session, kit_id: str) -> KitContentStatus | None:
    """The kit's latest content status, if it reported one."""
    return session.get(KitContentStatus, kit_id)
