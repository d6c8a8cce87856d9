"""End to end: a real agent for the lent kit hears its manifest's pointer on the broker, fetches
the signed manifest and the blob over mTLS, verifies and serves them, and the controller shows
its content synced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from agent.content.store import ContentStore
from agent.enroll import CONTENT_KEY_FILE, ENROLLMENT_FILE
from tests.controller.content.assignments_support import KIT, Scene, scene
from tests.controller.content.catalogue_files import PDF
from tests.support import Agent, wait_for

pytestmark = pytest.mark.processes
__all__ = ["scene"]


def _content(scene: Scene) -> dict[str, Any]:
    with scene.staff() as client:
        return client.get(f"/api/v1/kits/{KIT}/content", headers=scene.auth("admin")).json()


def _synced(scene: Scene) -> dict[str, Any] | None:
    kit = _content(scene)
    done = kit["state"] == "synced" and kit["serving_version"] == kit["latest_version"]
    return kit if done else None


def test_an_agent_syncs_its_pupils_assignment(scene: Scene, tmp_path: Path) -> None:
    """The agent (as enrolment left it: certificate, content key, controller URL) ends up serving
    the newest manifest with the PDF verified on disk; staff see every task synced."""
    assert scene.assign(text="for the agent").status_code == 201
    agent = Agent(tmp_path, scene.broker, KIT, interval=2.0)
    state = agent.state_dir
    (state / CONTENT_KEY_FILE).write_bytes(scene.first_key)
    enrolled = {"kit_id": KIT, "controller_url": scene.controller.url,
                "mqtt_host": "127.0.0.1", "mqtt_port": scene.broker.port}  # fmt: skip
    (state / ENROLLMENT_FILE).write_text(json.dumps(enrolled), encoding="utf-8")
    agent.start()
    try:
        kit = wait_for(lambda: _synced(scene), 60, "the kit's content synced")
    finally:
        agent.stop()
    assert kit is not None, agent.log()
    store = ContentStore(state)
    served = store.current()
    assert served is not None
    assert served.version == kit["latest_version"]
    blob = store.blob_path(scene.blobs[0])
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == scene.blobs[0]
    assert blob.read_bytes() == PDF
    assert not store.has(scene.blobs[1])  # never assigned to this pupil
    tasks = [t for t in kit["assignments"] if t["in_manifest"]]
    assert tasks
    assert all(t["synced"] for t in tasks)
