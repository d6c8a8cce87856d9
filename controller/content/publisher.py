"""The content publisher: a background thread that keeps every kit's manifest current.

Each pass (every `content_publish_interval` seconds, and at once when asked after an assignment
or a schedule change) reads the kits' new content events into their sync status and looks again
at the manifests of the kits asked for (`request`); every `FULL_SWEEP` (and at the first pass) it
looks at every active kit, which takes up what no request names: the window of lessons moving on,
catalogue edits, a manifest nearing expiry. A kit gets a new manifest when its content changed or
its manifest nears expiry (`manifest_store.refresh`, signed with the content key); the retained
pointer of each new manifest (after a restart: of every newest one) is published on
`kits/{id}/manifest`, again at the next pass if that failed. It also sets the gauges of
manifests issued and of lessons soon whose content is not on the kit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.content import keys, manifest_store, sync_status, sync_status_views
from controller.content.assignment_errors import ContentKeyError
from controller.fleet import queries as fleet
from controller.platform.metrics import Metrics
from controller.remediation.schedule_publisher import SchedulePublisher
from protocol.content import ManifestPointer

_LOGGER = logging.getLogger(__name__)

PublishPointer = Callable[[str, ManifestPointer], None]
KITS_PER_COMMIT = 25
"""Kits refreshed per transaction: a few tens of milliseconds of write lock at a time."""
FULL_SWEEP = timedelta(minutes=15)
"""How often every active kit's manifest is looked at again, asked for or not."""


class ContentPublisher:
    """Keeps kits' manifests current and announced; `wake` runs a pass now."""

    def __init__(
        self,
        *,
        settings: ControllerSettings,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        publish: PublishPointer | None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._publish = publish
        self._announced: dict[str, int] = {}
        self._requested: set[str] = set()
        self._lock = threading.Lock()
        self._swept_at: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.issued = Counter(
            "kitkeeper_content_manifests_issued",
            "Content manifests signed and stored for kits",
            registry=metrics.registry,
        )
        self.unready = Gauge(
            "kitkeeper_content_lessons_unready",
            "Lessons within 30 minutes whose content is not on the kit",
            registry=metrics.registry,
        )

    def start(self) -> None:
        """Run passes in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._loop, name="content", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current pass and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def request(self, kit_ids: Iterable[str]) -> None:
        """Look at these kits' manifests now (their assignments or schedule changed)."""
        with self._lock:
            self._requested.update(kit_ids)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._wake.clear()
            try:
                self.run_once(datetime.now(UTC))
            except Exception:  # one bad pass must not stop the publisher
                _LOGGER.exception("content pass failed")
            elapsed = time.monotonic() - started
            self._wake.wait(max(0.0, self._settings.content_publish_interval - elapsed))

    def run_once(
        self, now: datetime, *, everything: bool | None = None
    ) -> list[tuple[str, ManifestPointer]]:
        """One pass (over every active kit when `everything`, by default when FULL_SWEEP has
        passed, else over the kits asked for): statuses read, manifests issued, pointers
        published; those published."""
        try:
            with self._sessions.begin() as session:
                sync_status.apply_new(session, now)
        except SQLAlchemyError:
            _LOGGER.exception("content: reading the kits' content events failed")
        with self._lock:
            requested, self._requested = self._requested, set()
        if everything is None:
            everything = self._swept_at is None or now - self._swept_at >= FULL_SWEEP
        try:
            signer = keys.signer(self._settings.pki_dir)
        except ContentKeyError:
            return []  # logged where it failed; the kits keep their manifests
        with self._sessions() as session:
            kit_ids = fleet.active_kit_ids(session, kit_ids=None if everything else requested)
        for start in range(0, len(kit_ids), KITS_PER_COMMIT):  # short write locks
            self._refresh(kit_ids[start : start + KITS_PER_COMMIT], now, signer)
        if everything:
            self._swept_at = now
        with self._sessions() as session:
            if everything:
                active = set(kit_ids)
                newest = manifest_store.newest_per_kit(session)
                newest = {k: row for k, row in newest.items() if k in active}
            else:
                newest = manifest_store.newest_per_kit(session, [*kit_ids, *self._unannounced()])
            due = [
                (kit_id, manifest_store.pointer(row))
                for kit_id, row in newest.items()
                if self._announced.get(kit_id) != row.version
            ]
            self.unready.set(len(sync_status_views.alerts(session, now=now)))
        return [(k, p) for k, p in due if self._announce(k, p)]

    def _refresh(self, kit_ids: list[str], now: datetime, signer: keys.Signer) -> None:
        issued: list[str] = []
        try:
            with self._sessions.begin() as session:
                for kit_id in kit_ids:
                    try:
                        with session.begin_nested():
                            if manifest_store.refresh(session, kit_id, now, signer) is not None:
                                issued.append(kit_id)
                    except Exception:  # one kit's bad data must not stop the others'
                        _LOGGER.exception("content: the manifest of kit %s failed", kit_id)
        except SQLAlchemyError:
            _LOGGER.exception("content: storing the manifests of kits %s failed", kit_ids)
            return
        for kit_id in issued:
            self.issued.inc()
            self._announced.pop(kit_id, None)

    def _unannounced(self) -> list[str]:
        """Kits whose newest pointer could not be published (retried at each pass)."""
        return [k for k, v in self._announced.items() if v < 0]

    def _announce(self, kit_id: str, pointer: ManifestPointer) -> bool:
        if self._publish is None:
            return False
        try:
            self._publish(kit_id, pointer)
        except Exception:
            _LOGGER.exception(
                "content: announcing manifest %d to kit %s failed", pointer.version, kit_id
            )
            self._announced[kit_id] = -1  # tried again at the next pass
            return False
        self._announced[kit_id] = pointer.version
        return True


class ScheduleRequests:
    """The schedule publisher's `request`, also waking the content publisher (lessons changed)."""

    def __init__(self, schedules: SchedulePublisher, content: ContentPublisher) -> None:
        self._schedules = schedules
        self._content = content

    def request(self, kit_ids: Iterable[str]) -> None:
        """Publish these kits' schedules, and look at their manifests now."""
        kit_ids = list(kit_ids)
        self._schedules.request(kit_ids)
        self._content.request(kit_ids)
