"""Content sync on the kit: the signed manifest fetched and checked, its blobs brought, a switch.

One pass (`ContentSync.run_once`), run by the sync thread on a manifest pointer, a `sync_content`
command, at start and again after a failure:

1. the pointer kept from `kits/{id}/manifest` (`content/pointer.json`) names a document the kit
   does not hold: it is fetched, its digest checked against the pointer, `verify_manifest`
   checks it with the pinned content key (following hand-overs, then pinned), the kit id, the
   rollback floor and the expiry; it becomes the pending manifest. A refusal: `content_refused`;
2. the bytes still missing are checked against the free space and a reserve: short, a
   `content_failed` event (`disk_full`, `bytes_missing`) and nothing is downloaded;
3. each missing blob is put together (local chunks, `Range` for the rest, resumed after any
   interruption), paced by the bandwidth cap and paused while an online lesson is on;
4. complete: the store switches atomically, unneeded blobs are collected, `content_synced` and
   `content_readiness` (per upcoming lesson) are reported.

The previous content stays served through every failure and refusal.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import AgentSettings
from agent.content.fetch import (
    BlobFetcher,
    BlobRefusedError,
    Client,
    DiskFullError,
    LessonOnError,
    SyncError,
)
from agent.content.pacing import TokenBucket, lesson_on
from agent.content.plan import Segment, chunk_index, plan, remaining, remote_bytes, shortfall
from agent.content.report import Reporter
from agent.content.store import ContentStore, Held
from agent.enroll import CONTENT_KEY_FILE
from common.files import PUBLIC_MODE, write_atomic
from policy.lessons import Lesson
from protocol.content import (
    MAX_MANIFEST_BYTES,
    BlobRef,
    ContentEventKind,
    ContentManifest,
    ContentStatus,
    LessonContent,
    ManifestError,
    ManifestPointer,
    ManifestRefusal,
    SyncState,
    document_digest,
    verify_manifest,
)
from protocol.models import Event

_LOGGER = logging.getLogger(__name__)

POINTER_FILE = "pointer.json"
TICK = 60.0
"""The sync thread looks again at least this often (seconds): pointers, lessons coming."""
PRELESSON = timedelta(minutes=30)
"""Content readiness is reported again this long before each lesson."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncSettings:
    """How the sync behaves (from the agent's settings)."""

    rate: float = 4 * 1024 * 1024
    reserve_bytes: int = 1024**3
    reserve_ratio: float = 0.10
    timeout: float = 30.0
    retry: float = 60.0
    progress_every: float = 5.0


class ContentSync:
    """The kit's content sync; see the module docstring."""

    def __init__(
        self,
        *,
        state_dir: Path,
        kit_id: str,
        controller_url: str,
        tls: ssl.SSLContext | None,
        publish_event: Callable[[Event], None],
        lessons: Callable[[], list[Lesson]] = list,
        settings: SyncSettings | None = None,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings or SyncSettings()
        self.store = ContentStore(state_dir)
        self._key_path = state_dir / CONTENT_KEY_FILE
        self._kit_id = kit_id
        self._client = Client(controller_url, tls, timeout=self.settings.timeout)
        self._publish = publish_event
        self._lessons = lessons
        self._now = now
        self._refused: set[str] = set()
        """Digests of documents refused (not fetched again until a new pointer or a command)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bucket = TokenBucket(self.settings.rate, now=time.monotonic())
        self._last_progress = 0.0
        self._announced: set[datetime] = set()
        self.reporter = Reporter(self.store, publish_event, now)
        self.fetcher = BlobFetcher(self._client, self.store, self._gate)

    # --- triggers ----------------------------------------------------------------------------

    def on_pointer(self, pointer: ManifestPointer) -> None:
        """Keep the controller's latest pointer and sync to it (on paho's thread: never raises)."""
        try:
            write_atomic(
                self.store.root / POINTER_FILE, pointer.model_dump_json().encode(), PUBLIC_MODE
            )
        except OSError:
            _LOGGER.exception("cannot keep the content manifest pointer")
        self._wake.set()

    def request(self) -> None:
        """Sync now (a `sync_content` command): refusals are tried again."""
        self._refused.clear()
        self._wake.set()

    def start(self) -> None:
        """Start the sync thread (it syncs at once: a pending manifest resumes)."""
        self._thread = threading.Thread(target=self._loop, name="content-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop at the next piece and wait for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                status = self.run_once()
            except Exception:  # the boundary of a thread: log, wait, try again
                _LOGGER.exception("content sync failed")
                status = ContentStatus(state=SyncState.FAILED)
            try:
                self._before_lessons()
            except Exception:
                _LOGGER.exception("content readiness failed")
            settled = status.state in (SyncState.SYNCED, SyncState.REFUSED)
            self._wake.wait(TICK if settled else min(self.settings.retry, TICK))

    def _before_lessons(self) -> None:
        """Report readiness once as each lesson with content comes within PRELESSON."""
        pending = self.store.pending()
        manifest = pending.manifest if pending else self.store.current()
        now = self._now()
        due = [
            x.start
            for x in (manifest.lessons if manifest else [])
            if now < x.start <= now + PRELESSON and x.start not in self._announced
        ]
        if due:
            self._announced = {s for s in self._announced if s > now - PRELESSON} | set(due)
            self.report_readiness()

    # --- one pass ----------------------------------------------------------------------------

    def run_once(self) -> ContentStatus:
        """One sync pass; the status it ends in (also reported as an event)."""
        status = self._guarded(self._take_pointer)
        if status is not None:
            return status
        pending = self.store.pending()
        document = self.store.pending_document()
        if pending is None or document is None:
            return self.reporter.status_of(None, SyncState.SYNCED)
        if pending.digest in self._refused:
            return self.reporter.status_of(pending.manifest, SyncState.REFUSED)
        status = self._guarded(lambda: self._bring(pending.manifest), pending.digest)
        return status or self._switch(document, pending.manifest)

    def _guarded(self, step: Callable[[], None], digest: str | None = None) -> ContentStatus | None:
        """Run one step; the status to end the pass with when it could not finish."""
        try:
            step()
        except ManifestError as exc:
            return self.reporter.refused(exc.reason.value, exc.detail)
        except LessonOnError:
            return self.reporter.emit(ContentEventKind.CONTENT_PROGRESS, SyncState.WAITING_LESSON)
        except BlobRefusedError as exc:
            if digest is not None:
                self._refused.add(digest)  # not switched to; a new pointer or a command retries
            return self.reporter.refused(exc.reason, exc.detail)
        except SyncError as exc:
            if self._stop.is_set():  # the agent stops: nothing failed, the partial file stays
                return self.reporter.status_of(None, SyncState.SYNCING)
            return self.reporter.failed(exc)
        return None

    def _switch(self, document: bytes, manifest: ContentManifest) -> ContentStatus:
        self._client.close()  # nothing more to fetch: no idle connection kept
        self.store.switch(document)
        freed = self.store.collect()
        _LOGGER.info("content version %d served (%d bytes freed)", manifest.version, freed)
        status = self.reporter.emit(ContentEventKind.CONTENT_SYNCED, SyncState.SYNCED)
        self.report_readiness()
        return status

    def _take_pointer(self) -> None:
        """Fetch and verify the document the kept pointer names, if the kit lacks it."""
        try:
            pointer = ManifestPointer.model_validate_json(
                (self.store.root / POINTER_FILE).read_bytes()
            )
        except FileNotFoundError:
            return
        except ValueError:
            _LOGGER.warning("ignoring an unreadable manifest pointer")
            return
        newest = self.store.newest()
        if (newest is not None and newest.digest == pointer.sha256) or (
            pointer.sha256 in self._refused
        ):
            return
        document = self._client.document(pointer.url, min(pointer.size, MAX_MANIFEST_BYTES))
        try:
            manifest, key_pem = self._verified(pointer, document, newest)
        except ManifestError:
            self._refused.add(pointer.sha256)  # not fetched again: no retry storm on a bad one
            raise
        if key_pem != self._pinned_key():  # a hand-over followed: the new key from now on
            write_atomic(self._key_path, key_pem, PUBLIC_MODE)
        self.store.set_pending(document)
        _LOGGER.info(
            "content manifest %d accepted: %d blobs", manifest.version, len(manifest.blobs)
        )

    def _verified(
        self, pointer: ManifestPointer, document: bytes, newest: Held | None
    ) -> tuple[ContentManifest, bytes]:
        if len(document) != pointer.size or document_digest(document) != pointer.sha256:
            raise ManifestError(
                ManifestRefusal.DIGEST, "the document does not match the pointer's digest"
            )
        return verify_manifest(
            document,
            pinned_key_pem=self._pinned_key(),
            kit_id=self._kit_id,
            now=self._now(),
            held_version=newest.manifest.version if newest else None,
            held_digest=newest.digest if newest else None,
        )

    def _pinned_key(self) -> bytes:
        try:
            return self._key_path.read_bytes()
        except FileNotFoundError:
            raise ManifestError(
                ManifestRefusal.SIGNATURE, "no content key on the kit (enrol it again)"
            ) from None

    # --- blobs -------------------------------------------------------------------------------

    def plans(self, manifest: ContentManifest) -> list[tuple[BlobRef, list[Segment]]]:
        """Each missing blob with its plan (local chunks from the blobs the kit holds)."""
        held = [
            b
            for h in (self.store.current_held(), self.store.pending())
            if h
            for b in h.manifest.blobs
        ]
        index = chunk_index(held, self.store.has)
        return [(b, plan(b, index)) for b in self.store.missing(manifest)]

    def _bring(self, manifest: ContentManifest) -> None:
        todo = self.plans(manifest)
        needed = sum(b.size - self.fetcher.partial_size(b.sha256) for b, _ in todo)
        usage = shutil.disk_usage(self.store.root)
        short = shortfall(
            free=usage.free,
            total=usage.total,
            needed=needed,
            reserve_bytes=self.settings.reserve_bytes,
            reserve_ratio=self.settings.reserve_ratio,
        )
        if short:
            raise DiskFullError(needed, short, usage.free)
        self.reporter.to_go = sum(
            remote_bytes(remaining(p, self.fetcher.partial_size(b.sha256))) for b, p in todo
        )
        self._gate(0)
        for blob, segments in todo:
            self.fetcher.fetch(blob, segments)

    def _gate(self, n: int) -> None:
        lesson = lesson_on(self._now(), self._lessons())
        if lesson is not None:
            raise LessonOnError(lesson.start)
        wait = self._bucket.wait(n, time.monotonic())
        if wait > 0:
            self._stop.wait(wait)
        if self._stop.is_set():
            raise SyncError("stopped", "the agent is stopping")
        self.reporter.to_go = max(0, self.reporter.to_go - n)
        if time.monotonic() - self._last_progress >= self.settings.progress_every:
            self._last_progress = time.monotonic()
            pending = self.store.pending()
            if pending is not None:
                self.reporter.emit(ContentEventKind.CONTENT_PROGRESS, SyncState.SYNCING)

    # --- what the kit reports ----------------------------------------------------------------

    def status(self) -> ContentStatus:
        """The last status reported."""
        return self.reporter.last

    def report_readiness(self) -> list[LessonContent]:
        """Report, per upcoming lesson, whether its content is on the kit (`content_readiness`)."""
        return self.reporter.readiness()


def from_settings(
    settings: AgentSettings,
    *,
    kit_id: str,
    controller_url: str | None,
    tls: ssl.SSLContext | None,
    publish_event: Callable[[Event], None],
    lessons: Callable[[], list[Lesson]],
) -> ContentSync | None:
    """The agent's content sync (None for a kit never enrolled: no controller to fetch from)."""
    if controller_url is None or tls is None:
        return None
    return ContentSync(
        state_dir=settings.state_dir,
        kit_id=kit_id,
        controller_url=controller_url,
        tls=tls,
        publish_event=publish_event,
        lessons=lessons,
        settings=SyncSettings(
            rate=settings.content_rate,
            reserve_bytes=settings.content_reserve_bytes,
            reserve_ratio=settings.content_reserve_ratio,
            timeout=settings.content_timeout,
            retry=settings.content_retry,
        ),
    )
