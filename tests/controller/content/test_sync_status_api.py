"""What staff read of a kit's content from its sync events (through the broker), and the alert
for a lesson soon whose content is not on the kit."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.content import ContentEventKind, ContentStatus, LessonContent, SyncState, status_data
from tests.controller.content.assignments_support import KIT, OTHER, PUPIL, KitVoice, Scene, scene
from tests.support import wait_for

pytestmark = pytest.mark.processes
__all__ = ["scene"]


def _get(scene: Scene, path: str, role: str = "admin", lang: str | None = None) -> Any:
    with scene.staff() as client:
        response = client.get(path, headers=scene.auth(role, lang))
    assert response.status_code == 200, response.text
    return response.json()


def _alerts(scene: Scene, lang: str | None = None) -> list[dict[str, Any]]:
    return [
        a for a in _get(scene, "/api/v1/alerts/content", "technician", lang) if a["kit_id"] == KIT
    ]


def _kit(scene: Scene) -> dict[str, Any]:
    return _get(scene, f"/api/v1/kits/{KIT}/content", "teacher")


def _task(kit: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    return next(
        (t for t in kit["assignments"] if t["task_id"] == task_id and t["in_manifest"]), None
    )


def test_sync_status_and_the_lesson_alert(scene: Scene) -> None:
    """A lesson in 20 minutes with a task: alerted until the kit says its content is there; the
    kit's progress, failure (kept as the last error) and sync show per kit and per pupil."""
    made = scene.assign(lesson_start=scene.lesson_start.isoformat(), due_at=None,
                        resources=scene.resources[:1])  # fmt: skip
    assert made.status_code == 201, made.text
    task_id = made.json()[0]["task_id"]
    listed = wait_for(lambda: _task(_kit(scene), task_id), 20, "the task in a manifest")
    assert listed["synced"] is False
    version = _kit(scene)["latest_version"]
    alert = wait_for(lambda: next(iter(_alerts(scene)), None), 20, "the content alert")
    assert alert["missing"] == scene.resources[:1]
    assert alert["pupil_ref"] == PUPIL
    assert "Mathematics" in _alerts(scene, "ru")[0]["message"]

    voice = KitVoice(scene)
    try:

        def send(kind: ContentEventKind, **fields: Any) -> None:
            status = ContentStatus(manifest_version=version, **fields)
            voice.event(kind.value, status_data(status))

        send(ContentEventKind.CONTENT_PROGRESS, state=SyncState.SYNCING, bytes_total=900,
             bytes_have=300, bytes_to_go=600, missing=scene.resources[:1])  # fmt: skip
        seen = wait_for(lambda: (k := _kit(scene))["state"] == "syncing" and k, 20, "progress")
        assert (seen["bytes_to_go"], seen["missing"]) == (600, scene.resources[:1])
        task = next(t for t in seen["assignments"] if t["task_id"] == task_id)
        assert (task["in_manifest"], task["synced"]) == (True, False)

        send(ContentEventKind.CONTENT_FAILED, state=SyncState.FAILED, reason="disk_full",
             detail="not enough space", bytes_missing=5000, bytes_to_go=600)  # fmt: skip
        failed = wait_for(lambda: (k := _kit(scene))["last_error"] and k, 20, "the failure")
        assert failed["last_error"]["reason"] == "disk_full"
        assert "5000" in failed["last_error"]["detail"]

        lessons = [LessonContent(start=scene.lesson_start, subject="Mathematics", ready=True)]
        send(ContentEventKind.CONTENT_SYNCED, state=SyncState.SYNCED, serving_version=version,
             bytes_total=900, bytes_have=900, lessons=lessons)  # fmt: skip
        synced = wait_for(lambda: (k := _kit(scene))["state"] == "synced" and k, 20, "synced")
    finally:
        voice.close()
    task = next(t for t in synced["assignments"] if t["task_id"] == task_id)
    assert (task["synced"], task["missing"]) == (True, [])
    assert synced["last_error"]["reason"] == "disk_full"  # kept: staff see when it was
    assert synced["lessons"][0]["ready"] is True
    assert wait_for(lambda: not _alerts(scene), 10, "the alert gone")
    pupil = _get(scene, f"/api/v1/pupils/{PUPIL}/content", "teacher")
    assert [k["kit_id"] for k in pupil["kits"]] == [KIT]


def test_who_reads_content(scene: Scene) -> None:
    """A teacher reads only their pupils' content; an unknown kit or pupil is a 404."""
    with scene.staff() as client:
        other = client.get(f"/api/v1/pupils/{OTHER}/content", headers=scene.auth("teacher"))
        unknown = client.get("/api/v1/kits/kit-none/content", headers=scene.auth("admin"))
        alerts = client.get("/api/v1/alerts/content", headers=scene.auth("teacher"))
    assert other.status_code == 404
    assert unknown.status_code == 404
    assert alerts.status_code == 403
    assert _get(scene, f"/api/v1/pupils/{OTHER}/content")["kits"] == []
