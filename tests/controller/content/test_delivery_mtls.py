"""A kit fetches its signed manifest and the blobs it names over HTTPS with its certificate
(Range, If-Range); not another kit's, not a blob no manifest of its names, not without a
certificate. The manifest's pointer is retained on the broker."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agent.identity import generate_key, make_csr
from controller.content import keys
from protocol.content import ManifestMessage, document_digest, verify_manifest
from tests.controller.content.assignments_support import (
    KIT,
    OTHER_KIT,
    KitVoice,
    Scene,
    scene,
)
from tests.controller.content.catalogue_files import PDF
from tests.support import BIN, wait_for

pytestmark = pytest.mark.processes
__all__ = ["scene"]


def _manifest_naming(scene: Scene, blob: str) -> httpx.Response | None:
    with scene.kit() as client:
        response = client.get(f"/api/v1/kits/{KIT}/manifest")
    return response if response.status_code == 200 and blob in response.text else None


@pytest.fixture(scope="module")
def manifest(scene: Scene) -> httpx.Response:
    """The kit's manifest once it names the first PDF (assigned here)."""
    assert scene.assign().status_code == 201
    found = wait_for(lambda: _manifest_naming(scene, scene.blobs[0]), 20, "the kit's manifest")
    assert found is not None
    return found


def test_the_kit_gets_its_signed_manifest(scene: Scene, manifest: httpx.Response) -> None:
    """Signed by the content key the kit pins, for this kit, naming the task's resource."""
    signed, _ = verify_manifest(
        manifest.content, pinned_key_pem=scene.first_key, kit_id=KIT, now=datetime.now(UTC)
    )
    assert manifest.headers["etag"] == f'"{document_digest(manifest.content)}"'
    assert scene.resources[0] in {r.id for r in signed.resources}
    assert scene.blobs[1] not in {b.sha256 for b in signed.blobs}
    assert [lesson.webinar_url for lesson in signed.lessons] == ["https://webinar.example.kz:443"]
    with scene.kit() as client:
        by_version = client.get(f"/api/v1/kits/{KIT}/manifest?version={signed.version}")
    assert by_version.content == manifest.content


def test_the_pointer_is_retained_on_the_broker(scene: Scene, manifest: httpx.Response) -> None:
    """The kit, connecting, hears the retained pointer: version, digest, size and URL."""
    voice = KitVoice(scene)
    try:
        message = wait_for(lambda: voice.received[-1] if voice.received else None, 10, "pointer")
    finally:
        voice.close()
    pointer = ManifestMessage.model_validate_json(message.payload).body
    with scene.kit() as client:
        document = client.get(pointer.url)
    assert document.status_code == 200
    assert pointer.sha256 == document_digest(document.content)
    assert pointer.size == len(document.content)
    assert message.retain


def test_blobs_with_range_and_if_range(scene: Scene, manifest: httpx.Response) -> None:
    """A named blob whole, in ranges, and with If-Range on its ETag (the sha256)."""
    url = f"/api/v1/content/blobs/{scene.blobs[0]}"
    with scene.kit() as client:
        whole = client.get(url)
        part = client.get(url, headers={"Range": "bytes=10-"})
        kept = client.get(url, headers={"Range": "bytes=0-3", "If-Range": f'"{scene.blobs[0]}"'})
        stale = client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"other"'})
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == scene.blobs[0]
    assert whole.headers["etag"] == f'"{scene.blobs[0]}"'
    assert (part.status_code, part.content) == (206, PDF[10:])
    assert (kept.status_code, kept.content) == (206, PDF[:4])
    assert stale.status_code == 200


def test_what_a_kit_may_not_have(scene: Scene, manifest: httpx.Response) -> None:
    """Another kit: not this kit's manifest nor its blobs; this kit: no blob its manifests do
    not name (the same answer as for no blob at all); no certificate: no blob; staff: the
    manifest for admins only; a malformed hash: 422."""
    named, unnamed = scene.blobs
    with scene.kit(OTHER_KIT) as other:
        assert other.get(f"/api/v1/kits/{KIT}/manifest").status_code == 403
        assert other.get(f"/api/v1/content/blobs/{named}").status_code == 404
    with scene.kit() as kit:
        not_named = kit.get(f"/api/v1/content/blobs/{unnamed}")
        nowhere = kit.get(f"/api/v1/content/blobs/{'0' * 64}")
        assert kit.get("/api/v1/content/blobs/XYZ").status_code == 422
    assert not_named.status_code == nowhere.status_code == 404
    assert not_named.json() == nowhere.json()
    with scene.staff() as staff:
        assert staff.get(f"/api/v1/content/blobs/{named}").status_code == 403
        blob_as_admin = staff.get(f"/api/v1/content/blobs/{named}", headers=scene.auth("admin"))
        assert blob_as_admin.status_code == 403
        assert staff.get(f"/api/v1/kits/{KIT}/manifest").status_code == 403
        as_teacher = staff.get(f"/api/v1/kits/{KIT}/manifest", headers=scene.auth("teacher"))
        assert as_teacher.status_code == 403
        as_admin = staff.get(f"/api/v1/kits/{KIT}/manifest", headers=scene.auth("admin"))
        assert as_admin.status_code == 200
        assert (
            staff.get(f"/api/v1/kits/{OTHER_KIT}/manifest", headers=scene.auth("admin")).status_code
            == 404
        )


def test_enrolment_gives_the_content_key(scene: Scene, tmp_path: Path) -> None:
    """A kit enrolling is given the content key (beside the bundle key, not the same)."""
    made = scene.controller.cli("enroll-token", "create", "--kit-id", "kit-e3")
    assert made.returncode == 0, made.stderr
    key = generate_key(tmp_path / "kit.key")
    status, body = scene.controller.post(
        "/api/v1/enroll",
        {
            "token": made.stdout.strip().splitlines()[-1],
            "csr_pem": make_csr(key, "kit-e3").decode(),
        },
    )
    assert status == 201, body
    assert body["content_key_pem"].encode() == scene.first_key
    assert body["content_key_pem"] != body["bundle_key_pem"]


def test_after_a_key_rotation_kits_follow_the_hand_over(scene: Scene) -> None:
    """`content-key rotate`: the next manifest is signed by the new key and carries the
    hand-over, so a kit pinned to the first key takes it and learns the new key."""
    rotated = subprocess.run(
        [str(BIN / "kitkeeper-controller"), "content-key", "rotate",
         "--pki-dir", str(scene.broker.pki.root)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    assert "hand-over 1" in rotated.stdout
    assert scene.assign(text="after the rotation").status_code == 201
    found = wait_for(lambda: _manifest_naming(scene, "after the rotation"), 20, "a new manifest")
    assert found is not None
    signed, key_pem = verify_manifest(
        found.content, pinned_key_pem=scene.first_key, kit_id=KIT, now=datetime.now(UTC)
    )
    assert key_pem != scene.first_key
    assert key_pem == keys.public_pem(scene.broker.pki.root)
    assert any(t.text == "after the rotation" for t in signed.tasks)
