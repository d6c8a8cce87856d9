"""One running controller shared by the assignments' test modules (test_assign*, test_delivery*,
test_sync_status*), with its scene: kit-l1 lent to p-001 (teacher "teacher"), p-002 with no teacher
and no kit, a lesson of p-001 in 20 minutes, two PDFs in the catalogue, and kit certificates for
kit-l1 and kit-x2 (mTLS). Started by the first module that asks, stopped at the session's end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.content import keys
from protocol.models import Event, EventMessage, envelope_kwargs
from protocol.topics import Channel, kit_topic
from tests.controller.content.catalogue_files import PDF
from tests.controller.records import OTHER_PUPIL, lend
from tests.support import (
    Broker,
    Controller,
    mqtt_client,
    one_off_lesson,
    provision_kit,
    ssl_context,
    start_broker,
    wait_for,
)

KIT = "kit-l1"
OTHER_KIT = "kit-x2"
PUPIL = "p-001"
OTHER = "p-002"
SECOND_PDF = PDF.replace(b"%%EOF", b"% second\n%%EOF")


@dataclass
class Scene:
    """The shared controller and what the tests use of it."""

    controller: Controller
    broker: Broker
    tmp: Path
    resources: list[str]
    blobs: list[str]
    lesson_start: datetime
    first_key: bytes
    """The content key the controller made at its start: what the kits were given."""

    def auth(self, role: str, lang: str | None = None) -> dict[str, str]:
        """Headers for a member of staff with `role` (and a language)."""
        out = {"Authorization": f"Bearer {self.controller.tokens[role]}"}
        return out | ({"Accept-Language": lang} if lang else {})

    def staff(self) -> httpx.Client:
        """An HTTPS client trusting the test CA, with no certificate."""
        return httpx.Client(
            base_url=self.controller.url, verify=self.controller.context, timeout=30
        )

    def kit(self, kit_id: str = KIT) -> httpx.Client:
        """An HTTPS client presenting the kit's certificate."""
        context = ssl_context(self.broker.pki, self.tmp / kit_id)
        return httpx.Client(base_url=self.controller.url, verify=context, timeout=30)

    def assign(self, role: str = "admin", **fields: Any) -> httpx.Response:
        """POST an assignment (default: resource 0 to p-001, due in two days)."""
        body = {
            "pupils": [PUPIL],
            "resources": self.resources[:1],
            "type": "homework",
            "due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        } | fields
        with self.staff() as client:
            return client.post("/api/v1/assignments", json=body, headers=self.auth(role))


class KitVoice:
    """The kit's MQTT side: reports events with increasing seq, hears its retained topics."""

    def __init__(self, scene: Scene, kit_id: str = KIT) -> None:
        self.kit_id = kit_id
        self.seq = 0
        self.client, self.received = mqtt_client(scene.broker, scene.tmp / kit_id, kit_id)
        self.client.connect("127.0.0.1", scene.broker.port)
        self.client.subscribe(kit_topic(kit_id, Channel.MANIFEST), 1)
        self.client.loop_start()

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """Send one event."""
        self.seq += 1
        message = EventMessage(
            **envelope_kwargs(self.kit_id, self.seq, datetime.now(UTC)),
            body=Event(kind=kind, message=kind, data=data),
        )
        topic = kit_topic(self.kit_id, Channel.EVENTS)
        self.client.publish(topic, message.to_bytes(), qos=1).wait_for_publish(5)

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


_SHARED: dict[str, Scene] = {}


def _upload(controller: Controller, data: bytes, title: str) -> tuple[str, str]:
    fields = {"title": title, "subject": "Математика", "grade": "5", "language": "ru"}
    fields["kind"] = "pdf"
    with httpx.Client(base_url=controller.url, verify=controller.context, timeout=30) as client:
        response = client.post(
            "/api/v1/content",
            data=fields,
            files={"file": ("lesson.pdf", data, "application/pdf")},
            headers={"Authorization": f"Bearer {controller.tokens['teacher']}"},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    return body["id"], body["sha256"]


def _build(tmp: Path) -> Scene:
    broker = start_broker(tmp)
    controller = Controller(
        tmp,
        broker,
        KITKEEPER_CONTENT_DIR=str(tmp / "content"),
        KITKEEPER_CONTENT_PUBLISH_INTERVAL="1",
    ).start()
    lend(controller)
    assert controller.post("/api/v1/pupils", OTHER_PUPIL, "admin")[0] == 201
    start = (datetime.now(UTC) + timedelta(minutes=20)).replace(second=0, microsecond=0)
    schedule = one_off_lesson(start, 40, subject="Mathematics", mode="online",
                              server="webinar.example.kz:443")  # fmt: skip
    assert controller.put(f"/api/v1/pupils/{PUPIL}/schedule", schedule, "admin")[0] == 200
    assert controller.post(f"/api/v1/pupils/{PUPIL}/schedule/approve", {}, "admin")[0] == 200
    first = _upload(controller, PDF, "Дроби")
    second = _upload(controller, SECOND_PDF, "Проценты")
    for kit_id in (KIT, OTHER_KIT):
        provision_kit(broker.pki, tmp / kit_id, kit_id)
    made = keys.key_path(broker.pki.root)  # by the controller's first pass: read, not made here
    wait_for(made.exists, 20, "the content key")
    return Scene(
        controller,
        broker,
        tmp,
        [first[0], second[0]],
        [first[1], second[1]],
        start,
        keys.public_pem(broker.pki.root),
    )


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Scene:
    """The shared scene (built once per test session)."""
    if "scene" not in _SHARED:
        built = _build(tmp_path_factory.mktemp("assignments"))
        _SHARED["scene"] = built

        def stop() -> None:
            built.controller.stop()
            built.broker.stop()

        request.config.add_cleanup(stop)
    return _SHARED["scene"]
