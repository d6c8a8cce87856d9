"""The content publisher: a background thread that keeps every kit's manifest current.

Each pass (every `content_publish_interval` seconds, and at once when woken after an assignment
or a schedule change) reads the kits' new content events into their sync status, issues a new
manifest to each active kit whose content changed or whose manifest nears expiry
(`manifest_store.refresh`, signed with the content key), and publishes the retained pointer of
every manifest this process has not announced yet on `kits/{id}/manifest`. It also sets the
gauges of manifests issued and of lessons soon whose content is not on the kit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

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

    def wake(self) -> None:
        """Run a pass now (an assignment or a schedule changed)."""
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

    def run_once(self, now: datetime) -> list[tuple[str, ManifestPointer]]:
        """One pass: statuses read, manifests issued, pointers published; those published."""
        try:
            with self._sessions.begin() as session:
                sync_status.apply_new(session, now)
        except SQLAlchemyError:
            _LOGGER.exception("content: reading the kits' content events failed")
        try:
            signer = keys.signer(self._settings.pki_dir)
        except ContentKeyError:
            return []  # logged where it failed; the kits keep their manifests
        with self._sessions.begin() as session:
            for kit_id in fleet.active_kit_ids(session):
                try:
                    with session.begin_nested():
                        if manifest_store.refresh(session, kit_id, now, signer) is not None:
                            self.issued.inc()
                except Exception:  # one kit's bad data must not stop the others' manifests
                    _LOGGER.exception("content: the manifest of kit %s failed", kit_id)
            kit_ids = fleet.active_kit_ids(session)
            newest = manifest_store.newest_per_kit(session, kit_ids)
            due = [
                (kit_id, manifest_store.pointer(row))
                for kit_id, row in newest.items()
                if self._announced.get(kit_id) != row.version
            ]
            self.unready.set(len(sync_status_views.alerts(session, now=now)))
        return [(k, p) for k, p in due if self._announce(k, p)]

    def _announce(self, kit_id: str, pointer: ManifestPointer) -> bool:
        if self._publish is None:
            return False
        try:
            self._publish(kit_id, pointer)
        except Exception:
            _LOGGER.exception(
                "content: announcing manifest %d to kit %s failed", pointer.version, kit_id
            )
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
        self._schedules.request(kit_ids)
        self._content.wake()
