"""What content sync reports: the kit's `ContentStatus`, as `content_*` events.

Every event's `data` is a status: the manifest being synced and the one served, bytes total, held
and to go, the resources missing, and for a failure or refusal its reason. One outage does not
fill the outbox: the same failure is reported again only after FAILED_EVERY.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime

from agent.content import readiness
from agent.content.fetch import DiskFullError, SyncError
from agent.content.store import ContentStore
from protocol.content import (
    ContentEventKind,
    ContentManifest,
    ContentStatus,
    LessonContent,
    SyncState,
    status_data,
)
from protocol.models import Event, Severity

_LOGGER = logging.getLogger(__name__)

MAX_EVENT_DATA = 40 * 1024
"""An event's data stays well inside the wire's 64 KiB payload (`protocol.limits`)."""
FAILED_EVERY = 1800.0
"""The same failure (reason) is reported at most this often (seconds) while it lasts."""


class Reporter:
    """Builds statuses from the store and publishes them as events."""

    def __init__(
        self,
        store: ContentStore,
        publish_event: Callable[[Event], None],
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self._publish = publish_event
        self._now = now
        self.to_go = 0
        """Bytes still to fetch in the pass under way."""
        self.last = ContentStatus(state=SyncState.SYNCED)
        self._last_failed: tuple[str | None, float] = (None, 0.0)

    def status_of(
        self, manifest: ContentManifest | None, state: SyncState, **extra: object
    ) -> ContentStatus:
        """The status for `manifest` (default: the served one) in `state`, kept as `last`."""
        served = self.store.current()
        target = manifest or served
        missing = readiness.missing_resources(target, self.store.has) if target else []
        total = target.total_bytes if target else 0
        have = sum(b.size for b in target.blobs if self.store.has(b.sha256)) if target else 0
        fields: dict[str, object] = {
            "manifest_version": target.version if target else None,
            "serving_version": served.version if served else None,
            "state": state,
            "bytes_total": total,
            "bytes_have": have,
            "bytes_to_go": self.to_go if state is SyncState.SYNCING else total - have,
            "missing": missing[:2000],
            **extra,
        }
        self.last = ContentStatus.model_validate(fields)
        return self.last

    def emit(
        self, kind: ContentEventKind, state: SyncState, extra: dict[str, object] | None = None
    ) -> ContentStatus:
        """Publish a `kind` event with the pending manifest's status (a repeated failure: not)."""
        waiting = SyncState.WAITING_LESSON
        progress = kind is ContentEventKind.CONTENT_PROGRESS
        if progress and state is waiting and self.last.state is waiting:
            return self.last  # said once when the lesson began, not at every look
        pending = self.store.pending()
        status = self.status_of(pending.manifest if pending else None, state, **(extra or {}))
        failed = kind in (ContentEventKind.CONTENT_FAILED, ContentEventKind.CONTENT_REFUSED)
        if kind is ContentEventKind.CONTENT_FAILED:
            if self._repeated(status.reason):
                return status
        elif kind is ContentEventKind.CONTENT_SYNCED:
            self._last_failed = (None, 0.0)
        message = _message(kind, status)
        level = logging.DEBUG if kind is ContentEventKind.CONTENT_PROGRESS else logging.INFO
        _LOGGER.log(logging.WARNING if failed else level, "%s", message)
        self._publish(
            Event(
                kind=kind.value,
                severity=Severity.WARNING if failed else Severity.INFO,
                message=message,
                data=fitted(status),
            )
        )
        return status

    def _repeated(self, reason: str | None) -> bool:
        """Whether this failure was just reported (the outbox is not filled with one outage)."""
        last, at = self._last_failed
        clock = time.monotonic()
        if last == reason and clock - at < FAILED_EVERY:
            return True
        self._last_failed = (reason, clock)
        return False

    def failed(self, exc: SyncError) -> ContentStatus:
        """Report a pass that could not go on (`content_failed`)."""
        extra: dict[str, object] = {"reason": exc.reason[:64], "detail": exc.detail}
        if isinstance(exc, DiskFullError):
            extra["bytes_missing"] = exc.bytes_missing
        return self.emit(ContentEventKind.CONTENT_FAILED, SyncState.FAILED, extra)

    def refused(self, reason: str, detail: str) -> ContentStatus:
        """Report a manifest or blob refused (`content_refused`), with its reason."""
        return self.emit(
            ContentEventKind.CONTENT_REFUSED,
            SyncState.REFUSED,
            {"reason": reason[:64], "detail": detail[:500]},
        )

    def readiness(self) -> list[LessonContent]:
        """Report, per upcoming lesson, whether its content is on the kit (`content_readiness`)."""
        pending = self.store.pending()
        manifest = pending.manifest if pending else self.store.current()
        if manifest is None:
            return []
        lessons = readiness.upcoming(manifest, self.store.has, self._now())
        self.emit(ContentEventKind.CONTENT_READINESS, self.last.state, {"lessons": lessons})
        return lessons


def fitted(status: ContentStatus) -> dict[str, object]:
    """The status as event data, its lists cut (first ones kept) until it fits MAX_EVENT_DATA."""
    data = status_data(status)
    for lessons, missing in ((60, 400), (20, 100), (5, 20), (0, 0)):
        if len(json.dumps(data)) <= MAX_EVENT_DATA:
            break
        short = [x.model_copy(update={"missing": x.missing[:10]}) for x in status.lessons]
        cut = {"missing": status.missing[:missing], "lessons": short[:lessons]}
        data = status_data(status.model_copy(update=cut))
    return data


def _message(kind: ContentEventKind, status: ContentStatus) -> str:
    version = status.manifest_version
    if kind is ContentEventKind.CONTENT_SYNCED:
        return f"content version {version} synced and served ({status.bytes_total} bytes)"
    if kind is ContentEventKind.CONTENT_PROGRESS:
        if status.state is SyncState.WAITING_LESSON:
            return f"content version {version}: waiting for the online lesson to end"
        return f"content version {version}: {status.bytes_to_go} bytes to go"
    if kind is ContentEventKind.CONTENT_READINESS:
        late = [x for x in status.lessons if not x.ready]
        if not late:
            return "content ready for every upcoming lesson"
        first = late[0]
        return (
            f"content missing for the lesson at {first.start:%H:%M} UTC: {', '.join(first.missing)}"
        )
    return f"content {kind.value.removeprefix('content_')}: {status.reason}: {status.detail}"
