"""Per lesson: is its content on the kit? (pure over a manifest and what the store holds).

A lesson's content is the resources of the tasks that belong to it (`ManifestTask.lesson_start`);
a resource is on the kit when its main file and its captions are held, verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agent.content.store import ContentStore
from protocol.content import ContentManifest, LessonContent, ManifestResource

HORIZON = timedelta(days=7)
"""Lessons reported in a `content_readiness` event: those starting within this."""
MAX_REPORTED = 200


def resource_held(resource: ManifestResource, has: Callable[[str], bool]) -> bool:
    """Whether every file of the resource is on the kit."""
    return has(resource.sha256) and all(has(c.sha256) for c in resource.captions)


def lesson_content(
    manifest: ContentManifest, start: datetime, has: Callable[[str], bool], subject: str = ""
) -> LessonContent:
    """The lesson starting at `start`: ready, or the ids of the resources still missing."""
    missing = [r.id for r in manifest.resources_for(start) if not resource_held(r, has)]
    return LessonContent(start=start, subject=subject, ready=not missing, missing=missing[:50])


def upcoming(
    manifest: ContentManifest, has: Callable[[str], bool], now: datetime
) -> list[LessonContent]:
    """Every lesson of the manifest not over yet and starting within HORIZON, in order."""
    lessons = sorted(
        (x for x in manifest.lessons if x.end > now and x.start < now + HORIZON),
        key=lambda x: x.start,
    )
    return [lesson_content(manifest, x.start, has, x.subject) for x in lessons[:MAX_REPORTED]]


def missing_resources(manifest: ContentManifest, has: Callable[[str], bool]) -> list[str]:
    """The ids of the manifest's resources not (completely) on the kit."""
    return [r.id for r in manifest.resources if not resource_held(r, has)]


@dataclass(frozen=True, slots=True)
class OnKit:
    """One lesson's content on the kit, for the doctor: how many resources, those missing."""

    resources: int
    missing: tuple[str, ...]
    """The missing resources' titles."""


def for_lesson(
    manifest: ContentManifest | None, start: datetime, has: Callable[[str], bool]
) -> OnKit | None:
    """The content of the lesson starting at `start` (None: the lesson has none)."""
    resources = manifest.resources_for(start) if manifest else []
    if not resources:
        return None
    missing = tuple(r.title for r in resources if not resource_held(r, has))
    return OnKit(len(resources), missing)


def next_start(manifest: ContentManifest | None, now: datetime) -> datetime | None:
    """The start of the manifest's next lesson not over yet (running or to come)."""
    starts = sorted(x.start for x in (manifest.lessons if manifest else []) if x.end > now)
    return starts[0] if starts else None


def on_kit(
    state_dir: Path, start: datetime | None = None, now: datetime | None = None
) -> OnKit | None:
    """The content of the lesson at `start` (default: the next one) as the kit holds it now."""
    store = ContentStore(state_dir)
    pending = store.pending()
    manifest = pending.manifest if pending else store.current()
    if start is None and now is not None:
        start = next_start(manifest, now)
    return None if start is None else for_lesson(manifest, start, store.has)
