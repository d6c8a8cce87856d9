"""The command-variable attack and a key rotation against a real controller, broker and agent.

The controller builds its bundle from the repository's playbooks and hands it to a real agent
(`kitkeeper-agent run`, `kk_live=false`, `kk_root` in tmp_path), which runs them with real
ansible-playbook. Staff asking for an undeclared variable get a 422 from the controller; the same
variables published straight to the kit's command topic (whoever can publish commands) are
refused by the agent with a reason, and nothing is written. A declared variable within its
bounds goes through. Then the key is rotated with the command line: the kit takes the new key
through the hand-over and refuses a bundle the old key signs.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.remediation import bundles as controller_bundles
from protocol.bundle import pack
from protocol.commands import EventKind
from tests.agent.test_bundle_vars import EXEC_START_PRE, UNIT
from tests.agent.test_remediation import answer, send
from tests.support import Agent, Broker, Controller, wait_for

KIT = "kit-vars"


def _accepted(controller: Controller) -> int | None:
    status, body = controller.get(f"/api/v1/kits/{KIT}/bundle")
    if status == 200 and body["accepted"] is not None and body["accepted"] == body["current"]:
        return int(body["accepted"])
    return None


def _run(controller: Controller, variables: dict[str, object]) -> tuple[int, dict]:
    return controller.post(
        f"/api/v1/kits/{KIT}/playbooks/agent-restart/run", {"vars": variables}, "technician"
    )


@pytest.mark.slow
@pytest.mark.soak  # `make test-slow`: test_bundle_vars.py performs the attack in `make test`
def test_command_variables_and_key_rotation_end_to_end(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    agent = Agent(
        tmp_path,
        broker,
        KIT,
        interval=1,
        KITKEEPER_PLAYBOOK_VARS=json.dumps({"kk_root": str(root), "kk_live": False}),
        KITKEEPER_ACK_TIMEOUT="2",
    )
    agent.start()
    try:
        first = wait_for(lambda: _accepted(controller), 60, "the kit with the bundle")

        # Staff: undeclared or out-of-bounds variables are a 422 that names them, not the value.
        for variables, reason in (
            ({"kk_agent_venv": EXEC_START_PRE}, "kk_agent_venv: is not declared"),
            ({"kk_pip_index_url": "https://evil.example/simple"}, "kk_pip_index_url: is not"),
            ({"kk_agent_version": "1.0\nExecStartPre=/bin/true"}, "control characters"),
        ):
            status, body = _run(controller, variables)
            assert status == 422, body
            assert reason in body["detail"], body
            assert "ExecStartPre" not in json.dumps(body)

        # Whoever publishes commands straight to the kit: refused there, nothing written.
        (attack,) = send(
            broker,
            KIT,
            (
                "run_playbook",
                {
                    "playbook": "agent-restart",
                    "extra_vars": {
                        "kk_agent_venv": EXEC_START_PRE,
                        "kk_pip_index_url": "https://evil.example/simple",
                    },
                },
            ),
        )
        refused = answer(controller, KIT, EventKind.REMEDIATION_RESULT, attack)["data"]
        assert refused["status"] == "refused"
        assert refused["reason"].startswith("extra_vars: kk_agent_venv: is not declared")
        assert not (root / UNIT).exists()

        # A declared variable within its bounds: the real playbook runs and writes the unit.
        status, body = _run(controller, {"kk_agent_restart_delay": 7, "kk_agent_version": ""})
        assert status == 202, body
        done = answer(controller, KIT, EventKind.REMEDIATION_RESULT, body["command_id"])["data"]
        assert done["status"] == "successful", done
        unit = (root / UNIT).read_text()
        assert "ExecStartPre" not in unit
        assert "ExecStart=/opt/kitkeeper/.venv/bin/kitkeeper-agent" in unit

        # Key rotation: the old key (kept here only to play the attacker) signs a hand-over.
        old_key = controller_bundles.load_signing_key(broker.pki.bundle_key)
        controller.stop()
        rotated = controller.cli("bundle", "rotate-key")
        assert rotated.returncode == 0, rotated.stderr
        controller.start()
        second = wait_for(lambda: _accepted(controller), 60, "the kit with the new key's bundle")
        assert second > first
        pinned = (agent.state_dir / "bundle-signing.pub").read_bytes()
        assert pinned == controller_bundles.public_key_path(broker.pki.bundle_key).read_bytes()
        source = controller_bundles.DEFAULT_PLAYBOOKS_DIR
        files = controller_bundles.collect_files(source, source / "rules.yaml")
        data = pack(files, version=second + 1, created_at=datetime.now(UTC))
        stale_args = {
            "bundle_b64": base64.b64encode(data).decode(),
            "signature_b64": base64.b64encode(old_key.sign(data)).decode(),
        }
        (stale,) = send(broker, KIT, ("install_bundle", stale_args))
        reason = answer(controller, KIT, EventKind.BUNDLE_REFUSED, stale)["data"]["reason"]
        assert reason.startswith("signature"), reason
        assert _accepted(controller) == second
    finally:
        agent.stop()
    assert "Traceback" not in agent.log()
