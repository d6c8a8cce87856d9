"""Building a kit's manifest and deciding its version: pure, no clock and no I/O.

`current_tasks` keeps the pupil's tasks a kit must hold (not cancelled; due in the future or
within the last day, or belonging to a lesson of the window); `build` makes the manifest of
those tasks, the lessons of the next days and only the resources (and their blobs) the tasks
name. `content_digest` hashes a manifest without its version and times, and `next_issue` says
whether a new version is due: when the content changed, or when the one held has less than
`RENEW_BEFORE` of validity left (a kit offline for days keeps a valid one: freeze protection).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from protocol.content import (
    LESSON_DAYS,
    MAX_LESSONS,
    MAX_RESOURCES,
    MAX_TASKS,
    BlobRef,
    ContentManifest,
    Language,
    ManifestLesson,
    ManifestResource,
    ManifestTask,
    canonical,
)

VALIDITY: Final = timedelta(days=7)
"""How long a signed manifest is valid."""
RENEW_BEFORE: Final = timedelta(days=3)
"""A manifest with less validity left than this is issued again (a new version)."""
RECENT_DUE: Final = timedelta(days=1)
"""A task due this long ago is still on the kit."""
WINDOW: Final = timedelta(days=LESSON_DAYS)
"""The lessons (and lesson tasks) a manifest lists: the next LESSON_DAYS days."""
DEFAULT_LANGUAGE: Final[Language] = "kk"


@dataclass(frozen=True, slots=True)
class Issued:
    """The newest manifest a kit was given: its version, content digest and expiry."""

    version: int
    content_digest: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one kit's manifest is made of (read by `manifest_store`)."""

    kit_id: str
    timezone: str
    lessons: Sequence[ManifestLesson]
    tasks: Sequence[ManifestTask]
    resources: Sequence[ManifestResource]
    blobs: Sequence[BlobRef]


def current_tasks(tasks: Iterable[ManifestTask], now: datetime) -> list[ManifestTask]:
    """The tasks a kit must hold at `now` (the caller leaves out cancelled ones), by id."""
    since, until = now - RECENT_DUE, now + WINDOW
    kept = [
        t
        for t in tasks
        if (t.due_at is not None and t.due_at >= since)
        or (t.lesson_start is not None and since <= t.lesson_start < until)
    ]
    return sorted(kept, key=lambda t: (t.lesson_start or t.due_at or now, t.id))


def language_of(resources: Sequence[ManifestResource]) -> Language:
    """The pupil's language as their resources show it (the most used; Kazakh when none)."""
    counts = Counter(r.language for r in resources)
    if not counts:
        return DEFAULT_LANGUAGE
    top = max(counts.values())
    return next(lang for lang in ("kk", "ru", "en") if counts.get(lang) == top)


def build(inputs: Inputs, *, version: int, issued_at: datetime) -> ContentManifest:
    """The manifest of `inputs`: tasks whose resources are known, only those resources' blobs."""
    known = {r.id: r for r in inputs.resources}
    tasks: list[ManifestTask] = []
    named: set[str] = set()
    for task in inputs.tasks:  # the soonest first, within the manifest's limits
        mine = [r for r in task.resources if r in known]
        if len(tasks) == MAX_TASKS or len(named | set(mine)) > MAX_RESOURCES:
            break
        tasks.append(task.model_copy(update={"resources": mine}))
        named.update(mine)
    resources = sorted((known[r] for r in named), key=lambda r: r.id)
    wanted = {sha for r in resources for sha in (r.sha256, *(c.sha256 for c in r.captions))}
    blobs = sorted((b for b in inputs.blobs if b.sha256 in wanted), key=lambda b: b.sha256)
    return ContentManifest(
        kit_id=inputs.kit_id,
        version=version,
        issued_at=issued_at,
        expires_at=issued_at + VALIDITY,
        language=language_of(resources),
        timezone=inputs.timezone,
        lessons=sorted(inputs.lessons, key=lambda lesson: (lesson.start, lesson.end))[:MAX_LESSONS],
        tasks=tasks,
        resources=resources,
        blobs=blobs,
    )


def content_digest(manifest: ContentManifest) -> str:
    """The hash of what a manifest says, without its version and times."""
    content = manifest.model_dump(mode="json", exclude={"version", "issued_at", "expires_at"})
    return hashlib.sha256(canonical(content)).hexdigest()


def next_issue(previous: Issued | None, digest: str, now: datetime) -> int | None:
    """The version to issue now, or None when the held one still stands."""
    if previous is None:
        return 1
    if previous.content_digest == digest and previous.expires_at - now >= RENEW_BEFORE:
        return None
    return previous.version + 1
