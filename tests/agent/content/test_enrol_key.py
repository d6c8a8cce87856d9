"""Enrolment hands the kit the content key: `content-signing.pub`, the key the controller signs
manifests with (so the kit's sync checks them against what the controller really uses)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.enroll import CONTENT_KEY_FILE
from controller.content import keys as content_keys
from tests.support import BIN, Controller


def test_enrolment_pins_the_controllers_content_key(tmp_path: Path, controller: Controller) -> None:
    made = controller.cli("enroll-token", "create", "--kit-id", "kit-ck")
    assert made.returncode == 0, made.stderr
    state = tmp_path / "kit-ck"
    token = made.stdout.strip().splitlines()[0]
    args = ["enroll", "--controller", controller.url, "--token", token, "--state-dir", str(state)]
    done = subprocess.run(
        [str(BIN / "kitkeeper-agent"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pinned = (state / CONTENT_KEY_FILE).read_bytes()
    assert pinned == content_keys.public_pem(controller.pki.root)
