"""The per-kit manifest builder and its versioning (pure, tables; times relative to a fixed now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.content import manifests
from controller.content.manifests import Inputs, Issued
from protocol.content import (
    MAX_TASKS,
    BlobRef,
    Caption,
    ManifestLesson,
    ManifestResource,
    ManifestTask,
    ResourceKind,
    TaskType,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SHA = {name: (name * 64)[:64] for name in "abcdef"}


def _task(
    task_id: str,
    *,
    due: timedelta | None = None,
    lesson: timedelta | None = None,
    resources: tuple[str, ...] = ("r1",),
) -> ManifestTask:
    return ManifestTask(
        id=task_id,
        type=TaskType.HOMEWORK,
        due_at=NOW + due if due is not None else None,
        lesson_start=NOW + lesson if lesson is not None else None,
        resources=list(resources),
    )


def _resource(
    rid: str, sha: str, language: str = "ru", captions: tuple[str, ...] = ()
) -> ManifestResource:
    return ManifestResource(
        id=rid,
        title=f"Resource {rid}",
        kind=ResourceKind.VIDEO if captions else ResourceKind.PDF,
        language=language,  # type: ignore[arg-type]
        sha256=sha,
        captions=[Caption(language="kk", sha256=c) for c in captions],
    )


def _blob(sha: str, size: int = 100) -> BlobRef:
    return BlobRef(sha256=sha, size=size, media_type="application/pdf")


@pytest.mark.parametrize(
    ("due", "lesson", "kept"),
    [
        (timedelta(days=2), None, True),  # due ahead
        (-timedelta(hours=23), None, True),  # due within the last day
        (-timedelta(days=2), None, False),  # long past
        (None, timedelta(days=3), True),  # its lesson in the window
        (None, timedelta(days=20), False),  # its lesson beyond the window
        (None, -timedelta(days=2), False),  # its lesson long past
        (-timedelta(days=5), timedelta(days=1), True),  # past due, lesson ahead: kept
        (None, None, False),  # neither
    ],
)
def test_current_tasks(due: timedelta | None, lesson: timedelta | None, kept: bool) -> None:
    """A kit holds tasks due ahead or within a day, or whose lesson is in the window."""
    task = _task("a1", due=due, lesson=lesson)
    assert (manifests.current_tasks([task], NOW) == [task]) is kept


def test_build_lists_only_the_named_resources_and_their_blobs() -> None:
    """Only resources tasks name, with their main and caption blobs; unknown ones dropped."""
    inputs = Inputs(
        kit_id="kit-1",
        timezone="Asia/Almaty",
        lessons=[
            ManifestLesson(start=NOW + timedelta(days=1), end=NOW + timedelta(days=1, hours=1)),
            ManifestLesson(start=NOW, end=NOW + timedelta(hours=1)),
        ],
        tasks=[_task("a1", due=timedelta(days=1), resources=("r1", "r3", "gone"))],
        resources=[
            _resource("r1", SHA["a"]),
            _resource("r2", SHA["b"]),
            _resource("r3", SHA["c"], captions=(SHA["d"],)),
        ],
        blobs=[_blob(SHA[x]) for x in "abcde"],
    )
    manifest = manifests.build(inputs, version=4, issued_at=NOW)
    assert [r.id for r in manifest.resources] == ["r1", "r3"]
    assert [b.sha256 for b in manifest.blobs] == [SHA["a"], SHA["c"], SHA["d"]]
    assert manifest.tasks[0].resources == ["r1", "r3"]
    assert [lesson.start for lesson in manifest.lessons] == [NOW, NOW + timedelta(days=1)]
    assert manifest.expires_at - manifest.issued_at == manifests.VALIDITY
    assert manifest.version == 4
    assert manifest.language == "ru"


def test_content_digest_ignores_version_and_times() -> None:
    """Two builds of the same inputs at other times and versions have one digest; a change not."""
    inputs = Inputs(
        "kit-1",
        "Asia/Almaty",
        [],
        [_task("a1", due=timedelta(days=1))],
        [_resource("r1", SHA["a"])],
        [_blob(SHA["a"])],
    )
    one = manifests.build(inputs, version=1, issued_at=NOW)
    two = manifests.build(inputs, version=9, issued_at=NOW + timedelta(hours=5))
    assert manifests.content_digest(one) == manifests.content_digest(two)
    changed = Inputs(
        "kit-1",
        "Asia/Almaty",
        [],
        [_task("a2", due=timedelta(days=1))],
        inputs.resources,
        inputs.blobs,
    )
    three = manifests.build(changed, version=1, issued_at=NOW)
    assert manifests.content_digest(three) != manifests.content_digest(one)


@pytest.mark.parametrize(
    ("previous", "digest", "expected"),
    [
        (None, "x", 1),  # the first
        (Issued(3, "x", NOW + timedelta(days=6)), "x", None),  # unchanged, valid long enough
        (Issued(3, "x", NOW + timedelta(days=6)), "y", 4),  # content changed
        (Issued(3, "x", NOW + timedelta(days=2, hours=23)), "x", 4),  # under 3 days left
        (Issued(3, "x", NOW + timedelta(days=3)), "x", None),  # exactly 3 days left
        (Issued(3, "x", NOW - timedelta(days=1)), "x", 4),  # expired
    ],
)
def test_next_issue(previous: Issued | None, digest: str, expected: int | None) -> None:
    """A new version only when the content changed or fewer than 3 days of validity remain."""
    assert manifests.next_issue(previous, digest, NOW) == expected


@pytest.mark.parametrize(
    ("languages", "expected"),
    [([], "kk"), (["ru"], "ru"), (["ru", "en", "en"], "en"), (["ru", "kk"], "kk")],
)
def test_language_of(languages: list[str], expected: str) -> None:
    """The pupil's language is that of most of their resources (Kazakh first on a tie)."""
    resources = [_resource(f"r{i}", SHA["a"], lang) for i, lang in enumerate(languages)]
    assert manifests.language_of(resources) == expected


def test_a_manifest_stays_within_its_limits() -> None:
    """More current tasks than a manifest may list: the soonest are kept, the build succeeds."""
    tasks = [_task(f"a{n}", due=timedelta(hours=n + 1)) for n in range(MAX_TASKS + 5)]
    inputs = Inputs(
        "kit-1", "Asia/Almaty", [], tasks, [_resource("r1", SHA["a"])], [_blob(SHA["a"])]
    )
    manifest = manifests.build(inputs, version=1, issued_at=NOW)
    assert len(manifest.tasks) == MAX_TASKS
    assert manifest.tasks[0].id == "a0"
