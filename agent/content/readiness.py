"""Per lesson: is its content on the kit? (pure over a manifest and what the store holds).

A lesson's content is the resources of the tasks that belong to it (`ManifestTask.lesson_start`);
a resource is on the kit when its main file and its captions are held, verified.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

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
