"""Per lesson: its content on the kit or what is missing; the doctor's pre-lesson check says it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import doctor
from agent.content.readiness import for_lesson, next_start, on_kit, upcoming
from agent.content.report import MAX_EVENT_DATA, fitted
from agent.content.store import ContentStore
from protocol.base import Unavailable
from protocol.content import (
    BlobRef,
    ContentManifest,
    ContentStatus,
    LessonContent,
    ManifestLesson,
    ManifestResource,
    ManifestTask,
    SyncState,
    sign_manifest,
)
from tests.agent.content.lab import KIT

NOW = datetime.now(UTC).replace(microsecond=0)
FIRST = NOW + timedelta(minutes=20)
SECOND = NOW + timedelta(days=1)
HELD, ABSENT, OTHER = "1" * 64, "2" * 64, "3" * 64


def _manifest() -> ContentManifest:
    blobs = [BlobRef(sha256=s, size=10, media_type="x/y") for s in (HELD, ABSENT, OTHER)]
    resources = [
        ManifestResource(id="a", title="Әліппе", kind="pdf", language="kk", sha256=HELD),
        ManifestResource(id="b", title="Математика 2", kind="video", language="kk", sha256=ABSENT),
        ManifestResource(id="c", title="Reading", kind="audio", language="en", sha256=OTHER),
    ]
    return ContentManifest(
        kit_id=KIT,
        version=1,
        issued_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(days=7),
        lessons=[
            ManifestLesson(start=start, end=start + timedelta(minutes=45))
            for start in (FIRST, SECOND)
        ],
        blobs=blobs,
        resources=resources,
        tasks=[
            ManifestTask(id="t1", type="classwork", lesson_start=FIRST, resources=["a", "b"]),
            ManifestTask(id="t2", type="homework", lesson_start=SECOND, resources=["c"]),
        ],
    )


def _has(sha: str) -> bool:
    return sha in (HELD, OTHER)


def test_each_upcoming_lesson_says_ready_or_the_resources_missing() -> None:
    lessons = upcoming(_manifest(), _has, NOW)
    assert [(x.start, x.ready, x.missing) for x in lessons] == [
        (FIRST, False, ["b"]),
        (SECOND, True, []),
    ]
    assert next_start(_manifest(), NOW) == FIRST
    assert for_lesson(_manifest(), NOW + timedelta(hours=5), _has) is None  # no materials


def _checks(content: object) -> list[doctor.Check]:
    unchecked = Unavailable(unavailable="not collected")
    return doctor.evaluate(
        peripherals=unchecked,
        connectivity=None,
        disks=unchecked,
        battery=unchecked,
        profile=None,
        content=content,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("lang", "words"),
    [("kk", "әлі компьютерге жүктелмеген"), ("ru", "не все материалы урока"), ("en", "not all")],
)
def test_the_pre_lesson_check_names_the_missing_materials(lang: str, words: str) -> None:
    checks = _checks(for_lesson(_manifest(), FIRST, _has))
    content = next(c for c in checks if c.what == "content")
    assert content.status == "fail"
    assert content in doctor.failing(checks)
    text = doctor.render(checks, lang)  # type: ignore[arg-type]
    assert words in text.lower()
    assert "Математика 2" in text
    ready = _checks(for_lesson(_manifest(), SECOND, _has))
    assert next(c for c in ready if c.what == "content").status == "ok"


def test_the_kit_reads_the_lesson_content_from_its_store(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    assert on_kit(tmp_path, now=NOW) is None  # nothing synced yet: nothing to say
    store.set_pending(sign_manifest(_manifest(), Ed25519PrivateKey.generate()))
    got = on_kit(tmp_path, now=NOW)
    assert got is not None
    assert got.missing == ("Әліппе", "Математика 2")  # nothing held yet


def test_a_status_with_long_lists_fits_in_one_event() -> None:
    lesson = LessonContent(start=NOW, ready=False, missing=[f"res-{i:060d}" for i in range(50)])
    status = ContentStatus(
        state=SyncState.SYNCING,
        missing=[f"resource-{i:055d}" for i in range(2000)],
        lessons=[lesson] * 200,
    )
    data = fitted(status)
    assert len(json.dumps(data)) <= MAX_EVENT_DATA
    assert data["missing"][:2] == status.missing[:2]  # type: ignore[index]
    assert fitted(ContentStatus(state=SyncState.SYNCED)) == {"state": "synced", **_zeros()}


def _zeros() -> dict[str, object]:
    return {"bytes_total": 0, "bytes_have": 0, "bytes_to_go": 0, "missing": [], "lessons": []}
