"""What the pupil's page shows, in one language: lessons, tasks, materials, what is missing (pure).

Everything here is a function of the manifest, the clock's `now`, the language and a `has`
callable telling which blobs are on the kit; no I/O, no clock. Times are shown in the manifest's
time zone (the pupil's), 24-hour, dates as the language writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.i18n import Lang, catalogue
from protocol.content import ContentManifest, ManifestResource, ManifestTask
from protocol.models import LessonMode

PAGE: Final = "page"
SCHEDULES: Final = "schedules"
WEEK_DAYS: Final = 7
LANG_NAMES: Final[dict[Lang, str]] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
"""Each language's own name, shown in that language on the switch (never translated)."""


class Words:
    """The page's texts in one language, with the dates, times and labels it needs."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self._page = catalogue(PAGE)
        self._schedules = catalogue(SCHEDULES)

    def __call__(self, key: str, /, **params: object) -> str:
        """The page's text `key`, filled."""
        return self._page.text(key, self.lang, **params)

    def day(self, when: date) -> str:
        """A day as "Monday, 07.12.2026" in this language."""
        weekday = self._schedules.text(f"weekday.{when.weekday()}", self.lang)
        return self(
            "day", weekday=weekday, date=self("date", d=when.day, m=when.month, y=when.year)
        )

    def mode(self, mode: LessonMode) -> str:
        """How a lesson is given."""
        return self._schedules.text(f"mode.{mode.value}", self.lang)

    def kind(self, resource: ManifestResource) -> str:
        """What a material is (interactive lesson, PDF document, ...)."""
        return self(f"kind.{resource.kind.value}")

    def language(self, lang: str) -> str:
        """A material's language, named in this language."""
        return self(f"language.{lang}")


def clock(moment: datetime) -> str:
    """A time of day as 09:05."""
    return f"{moment:%H:%M}"


def zone(manifest: ContentManifest) -> tzinfo:
    """The pupil's time zone (UTC when the manifest names one this kit does not know)."""
    try:
        return ZoneInfo(manifest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def safe_link(url: str | None) -> str | None:
    """A webinar link only when it is http(s): never a script or a local file."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


@dataclass(frozen=True, slots=True)
class Material:
    """A material as a link: its id, title, kind (in the page's language) and language."""

    id: str
    title: str
    kind: str
    language: str
    """The material's own language (its title is marked with it for a screen reader)."""


@dataclass(frozen=True, slots=True)
class LessonRow:
    """One row of a lessons table."""

    day: str
    time: str
    subject: str
    mode: str
    webinar_url: str | None


@dataclass(frozen=True, slots=True)
class TaskItem:
    """A task as the page lists it."""

    id: str
    name: str
    due: str
    level: str
    lesson: str | None
    text: str
    materials: tuple[Material, ...]


@dataclass(frozen=True, slots=True)
class Home:
    """The home page: today, the rest of the week, the tasks, the content notes."""

    today: str
    today_lessons: tuple[LessonRow, ...]
    week_lessons: tuple[LessonRow, ...]
    tasks: tuple[TaskItem, ...]
    content_notes: tuple[str, ...]
    has_content: bool


def material(resource: ManifestResource, words: Words) -> Material:
    """A resource as a link."""
    kind = words.kind(resource)
    return Material(resource.id, resource.title, kind, resource.language)


def _when(moment: datetime | None, tz: tzinfo, words: Words) -> tuple[str, str] | None:
    if moment is None:
        return None
    local = moment.astimezone(tz)
    return words.day(local.date()), clock(local)


def task_item(task: ManifestTask, manifest: ContentManifest, words: Words) -> TaskItem:
    """A task with its due date, level, lesson and materials in this language."""
    tz = zone(manifest)
    subject = task.subject or "—"
    due = _when(task.due_at, tz, words)
    lesson = _when(task.lesson_start, tz, words)
    found = (manifest.resource(r) for r in task.resources)
    return TaskItem(
        id=task.id,
        name=words("task.name", type=words(f"task.type.{task.type.value}"), subject=subject),
        due=words("task.due", day=due[0], time=due[1]) if due else words("task.no_due"),
        level=words("task.level", level=words(f"task.difficulty.{task.difficulty.value}")),
        lesson=words("task.lesson", day=lesson[0], time=lesson[1]) if lesson else None,
        text=task.text,
        materials=tuple(material(r, words) for r in found if r is not None),
    )


def _row(start: datetime, end: datetime, tz: tzinfo, words: Words) -> tuple[str, str]:
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    span = words("time.range", start=clock(local_start), end=clock(local_end))
    return words.day(local_start.date()), span


def lesson_rows(
    manifest: ContentManifest, first: date, last: date, words: Words
) -> tuple[LessonRow, ...]:
    """The lessons whose local day is from `first` to `last`, in time order."""
    tz = zone(manifest)
    rows = []
    for lesson in sorted(manifest.lessons, key=lambda x: x.start):
        if not first <= lesson.start.astimezone(tz).date() <= last:
            continue
        day, span = _row(lesson.start, lesson.end, tz, words)
        online = lesson.mode is LessonMode.ONLINE
        rows.append(
            LessonRow(
                day=day,
                time=span,
                subject=lesson.subject or "—",
                mode=words.mode(lesson.mode),
                webinar_url=safe_link(lesson.webinar_url) if online else None,
            )
        )
    return tuple(rows)


def missing_materials(resource: ManifestResource, has: Callable[[str], bool]) -> bool:
    """Whether any file of `resource` (its main file, its captions) is not on the kit."""
    return not all(has(sha) for sha in (resource.sha256, *(c.sha256 for c in resource.captions)))


def content_notes(
    manifests: Iterable[ContentManifest],
    now: datetime,
    has: Callable[[str], bool],
    words: Words,
) -> tuple[str, ...]:
    """For each lesson of the coming week whose materials are not all here: which ones."""
    notes: dict[datetime, str] = {}
    for manifest in manifests:
        tz = zone(manifest)
        horizon = now + timedelta(days=WEEK_DAYS)
        for lesson in sorted(manifest.lessons, key=lambda x: x.start):
            if lesson.end <= now or lesson.start > horizon or lesson.start in notes:
                continue
            absent = [
                r.title for r in manifest.resources_for(lesson.start) if missing_materials(r, has)
            ]
            if absent:
                day, span = _row(lesson.start, lesson.end, tz, words)
                notes[lesson.start] = words(
                    "content.missing",
                    subject=lesson.subject or "—",
                    day=day,
                    time=span,
                    titles=", ".join(absent),
                )
    return tuple(notes[k] for k in sorted(notes))


def home(
    manifest: ContentManifest | None,
    pending: ContentManifest | None,
    now: datetime,
    has: Callable[[str], bool],
    words: Words,
) -> Home:
    """The home page's content at `now`."""
    shown = [m for m in (pending, manifest) if m is not None]
    notes = content_notes(shown, now, has, words)
    if manifest is None:
        today = now.astimezone(zone(pending) if pending else ZoneInfo("UTC")).date()
        return Home(words.day(today), (), (), (), notes, has_content=False)
    today = now.astimezone(zone(manifest)).date()
    tomorrow = today + timedelta(days=1)
    week_end = today + timedelta(days=WEEK_DAYS - 1)
    never = datetime.max.replace(tzinfo=now.tzinfo)
    tasks = sorted(manifest.tasks, key=lambda x: (x.due_at or never, x.id))
    return Home(
        today=words.day(today),
        today_lessons=lesson_rows(manifest, today, today, words),
        week_lessons=lesson_rows(manifest, tomorrow, week_end, words),
        tasks=tuple(task_item(t, manifest, words) for t in tasks),
        content_notes=notes,
        has_content=True,
    )
