"""Assignments through the API of a running controller: teachers only for their own pupils, one
assignment per pupil, refusals in kk/ru/en, the list, cancel, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.controller.content.assignments_support import OTHER, PUPIL, Scene, scene

pytestmark = pytest.mark.processes
__all__ = ["scene"]


def test_a_teacher_assigns_to_their_pupil_for_a_lesson_audited(scene: Scene) -> None:
    """The task belongs to the pupil's lesson: its subject comes from it; the audit log has it."""
    response = scene.assign(
        "teacher",
        resources=scene.resources[:1],
        type="classwork",
        difficulty="basic",
        text="  Решите задачи 1-5  ",
        lesson_start=scene.lesson_start.isoformat(),
        due_at=None,
    )
    assert response.status_code == 201, response.text
    [made] = response.json()
    assert made["pupil_ref"] == PUPIL
    assert made["subject"] == "Mathematics"
    assert made["text"] == "Решите задачи 1-5"
    assert made["task_id"] == f"a{made['id']}"
    with scene.staff() as client:
        one = client.get(f"/api/v1/assignments/{made['id']}", headers=scene.auth("teacher"))
        audit = client.get(
            "/api/v1/audit",
            params={"entity": "assignment", "entity_id": str(made["id"])},
            headers=scene.auth("admin"),
        )
    assert one.json()["resources"] == scene.resources[:1]
    assert [e["action"] for e in audit.json()] == ["assignment.create"]
    assert audit.json()[0]["actor"] == "teacher"


@pytest.mark.parametrize(
    ("role", "fields", "status", "russian"),
    [
        ("teacher", {"pupils": [OTHER]}, 404, "нет ученика p-002"),
        ("admin", {"pupils": ["p-404"]}, 404, "нет ученика p-404"),
        ("admin", {"resources": ["f" * 32]}, 422, "таких ресурсов нет в каталоге"),
        ("admin", {"due_at": None}, 422, "укажите срок сдачи"),
        ("admin", {"lesson_start": "2030-01-01T05:00:00+00:00"}, 422, "нет утверждённого урока"),
        ("admin", {"due_at": "2001-01-01T00:00:00+00:00"}, 422, "уже прошёл"),
    ],
)
def test_refused_with_a_reason_in_each_language(
    scene: Scene, role: str, fields: dict[str, object], status: int, russian: str
) -> None:
    """Another teacher's pupil, an unknown pupil or resource, no date, no such lesson, a past due
    date: each refused in plain words, in the reader's language, nothing stored."""
    before = _count(scene)
    with scene.staff() as client:
        body = {"pupils": [PUPIL], "resources": scene.resources[:1], "type": "homework",
                "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()} | fields  # fmt: skip
        response = client.post("/api/v1/assignments", json=body, headers=scene.auth(role, "ru"))
    assert response.status_code == status, response.text
    assert russian in response.json()["detail"]
    assert set(response.json()["messages"]) == {"kk", "ru", "en"}
    assert _count(scene) == before


def _count(scene: Scene) -> int:
    with scene.staff() as client:
        return len(client.get("/api/v1/assignments", headers=scene.auth("admin")).json())


def test_technicians_do_not_assign_and_bad_input_is_a_4xx(scene: Scene) -> None:
    """A technician is refused (403); a malformed body or id is a 422, never a 500."""
    assert scene.assign("technician").status_code == 403
    assert scene.assign(pupils=["../x"]).status_code == 422
    assert scene.assign(type="exam").status_code == 422
    assert scene.assign(pupils=[]).status_code == 422
    with scene.staff() as client:
        assert client.get("/api/v1/assignments/0", headers=scene.auth("admin")).status_code == 422
        missing = client.get("/api/v1/assignments/999999", headers=scene.auth("admin"))
    assert missing.status_code == 404


def test_several_pupils_get_one_assignment_each_cancelled_on_its_own(scene: Scene) -> None:
    """One request for two pupils makes two assignments (one batch); a teacher sees only their
    pupil's; one is cancelled (once) and leaves the active list."""
    response = scene.assign(pupils=[PUPIL, OTHER], text="Повторить")
    assert response.status_code == 201, response.text
    mine, other = response.json()
    assert (mine["pupil_ref"], other["pupil_ref"]) == (PUPIL, OTHER)
    assert mine["batch"] == other["batch"]
    with scene.staff() as client:

        def active(pupil: str, value: str = "true") -> list[int]:
            got = client.get("/api/v1/assignments", params={"pupil": pupil, "active": value},
                             headers=scene.auth("admin"))  # fmt: skip
            return [a["id"] for a in got.json()]

        assert other["id"] in active(OTHER)
        seen = client.get("/api/v1/assignments", headers=scene.auth("teacher")).json()
        assert {a["pupil_ref"] for a in seen} == {PUPIL}
        hidden = client.get(f"/api/v1/assignments/{other['id']}", headers=scene.auth("teacher"))
        assert hidden.status_code == 404
        url = f"/api/v1/assignments/{other['id']}/cancel"
        cancelled = client.post(url, headers=scene.auth("admin"))
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["cancelled_by"] == "admin"
        again = client.post(url, headers=scene.auth("admin", "kk"))
        assert again.status_code == 409
        assert "бас тартылған" in again.json()["detail"]
        assert other["id"] not in active(OTHER)
        assert other["id"] in active(OTHER, "false")
        assert mine["id"] not in active(PUPIL, "false")
        assert mine["id"] in active(PUPIL)
