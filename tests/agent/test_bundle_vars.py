"""Command variables against the real signed bundle: only what a playbook declares gets through.

The attack (issue 12, item 2): whoever can publish a `run_playbook` command used to hand
`agent-restart` a `kk_agent_venv` with a newline and an `ExecStartPre=` line, written into the
agent's systemd unit and run as root, or a package index of their choosing for pip. Here the
repository's own playbooks are built into a bundle and signed as the controller does, the kit's
runner is the agent's own (`agent.playbooks.Runner`) and runs go through ansible-runner and
ansible-playbook for real, against a root in tmp_path (`kk_live=false`). A declared variable
within its bounds going through, from the controller's API to a real agent:
`tests/agent/test_bundle_e2e.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.bundles import BundleStore
from agent.playbooks import Runner
from controller.remediation import bundles as controller_bundles
from protocol.commands import EventKind, RemediationResult, RunPlaybookArgs
from protocol.models import Event
from protocol.playbook_vars import VarsError, VarSpec, check_vars

UNIT = "etc/systemd/system/kitkeeper-agent.service"
EXEC_START_PRE = "/opt/kitkeeper/.venv\nExecStartPre=/bin/sh -c 'id > /tmp/owned'\n#"


@dataclass
class Kit:
    """A kit with the real bundle accepted, its runner, and what it published."""

    root: Path
    state: Path
    runner: Runner
    events: list[Event] = field(default_factory=list)

    def results(self) -> list[RemediationResult]:
        return [
            RemediationResult.model_validate(e.data)
            for e in self.events
            if e.kind == EventKind.REMEDIATION_RESULT
        ]


@dataclass(frozen=True)
class Signed:
    key: Ed25519PrivateKey
    bundle: controller_bundles.SignedBundle


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    """The repository's playbooks and rules, built and signed as the controller does."""
    key = Ed25519PrivateKey.generate()
    playbooks = controller_bundles.DEFAULT_PLAYBOOKS_DIR
    store = controller_bundles.BundleStore(tmp_path_factory.mktemp("controller-bundles"))
    signed = store.build(
        playbooks, controller_bundles.default_rules_path(playbooks), key, datetime.now(UTC)
    )
    return Signed(key, signed)


def make_kit(tmp_path: Path, real: Signed, **kit_vars: Any) -> Kit:
    state, root = tmp_path / "state", tmp_path / "root"
    state.mkdir()
    root.mkdir()
    (state / "bundle-signing.pub").write_bytes(controller_bundles.public_key_pem(real.key))
    signed = real.bundle
    store = BundleStore(state)
    store.install(signed.data, signed.signature)
    events: list[Event] = []
    runner = Runner(
        state,
        store,
        events.append,
        playbook_vars={"kk_root": str(root), "kk_live": False, **kit_vars},
    )
    return Kit(root, state, runner, events)


@pytest.fixture
def kit(tmp_path: Path, real_bundle: Signed) -> Iterator[Kit]:
    made = make_kit(tmp_path, real_bundle)
    yield made
    made.runner.close()


ATTACKS = {
    "newline into the unit": ({"kk_agent_venv": EXEC_START_PRE}, "kk_agent_venv: is not declared"),
    "a package index": (
        {"kk_agent_version": "0.2.1", "kk_pip_index_url": "https://evil.example/simple"},
        "kk_pip_index_url: is not declared",
    ),
    "undeclared": ({"kk_anything": "x"}, "kk_anything: is not declared"),
    "newline in a declared var": (
        {"kk_agent_version": "0.2.1\nExecStartPre=/bin/true"},
        "kk_agent_version: carries control characters",
    ),
    "outside the pattern": (
        {"kk_agent_version": "0.2 --pre"},
        "kk_agent_version: does not match its declared pattern",
    ),
    "wrong type": ({"kk_agent_restart_delay": True}, "kk_agent_restart_delay: must be a whole"),
    "out of range": ({"kk_agent_restart_delay": 100000}, "kk_agent_restart_delay: must be at most"),
    "ansible's own": ({"ansible_become": True}, "ansible_become: is not declared"),
    "the kit's own": ({"kk_root": "/"}, "kk_root: is not declared"),
}


@pytest.mark.parametrize(("extra_vars", "reason"), ATTACKS.values(), ids=ATTACKS.keys())
def test_variables_the_bundle_does_not_allow_are_refused_and_nothing_runs(
    kit: Kit, extra_vars: dict[str, Any], reason: str
) -> None:
    args = RunPlaybookArgs(playbook="agent-restart", extra_vars=extra_vars)
    result = kit.runner.run_command(args, command_id="attack")
    assert (result.ok, result.status) == (False, "refused")
    assert result.reason.startswith(f"extra_vars: {reason}"), result.reason
    assert "ExecStartPre" not in result.reason, "the reason never echoes the value"
    assert kit.results() == [result]
    assert EventKind.REMEDIATION_STARTED not in [e.kind for e in kit.events]
    assert not (kit.state / "runs").exists()
    assert not (kit.root / UNIT).exists()


@pytest.mark.processes
def test_the_playbook_itself_refuses_a_unit_path_with_a_newline(
    tmp_path: Path, real_bundle: Signed
) -> None:
    """Defence in depth: even a kit's own setting cannot put lines into the unit."""
    kit = make_kit(tmp_path, real_bundle, kk_agent_venv=EXEC_START_PRE)
    try:
        result = kit.runner.run("agent-restart", wait=True)
    finally:
        kit.runner.close()
    assert (result.ok, result.status) == (False, "failed"), result.tail
    assert result.failed == ["Check what goes into the unit and onto pip's command line"]
    assert not (kit.root / UNIT).exists()


# --- the pure check, as the controller uses it too ---------------------------------------------


SPECS = {
    "kk_name": VarSpec(type="str", pattern="[a-z]+", max_length=5),
    "kk_size": VarSpec(type="int", min=1, max=10),
    "kk_mode": VarSpec(type="str", choices=["on", "off"]),
    "kk_on": VarSpec(type="bool"),
}


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"kk_name": "abc", "kk_size": 10, "kk_mode": "off", "kk_on": False}, None),
        ({"kk_name": "abcdef"}, "kk_name: is longer than 5 characters"),
        ({"kk_name": "ab\u2028c"}, "kk_name: carries control characters or template delimiters"),
        ({"kk_name": "\x00"}, "kk_name: carries control characters or template delimiters"),
        ({"kk_name": "{{x}}"}, "kk_name: carries control characters or template delimiters"),
        ({"kk_mode": "maybe"}, "kk_mode: is not one of the declared choices"),
        ({"kk_size": 0}, "kk_size: must be at least 1"),
        ({"kk_size": "3"}, "kk_size: must be a whole number"),
        ({"kk_on": 1}, "kk_on: must be true or false"),
        ({"Bad\nName": 1}, "(a variable): is not declared by this playbook in the signed bundle"),
    ],
)
def test_check_vars(values: dict[str, Any], problem: str | None) -> None:
    if problem is None:
        assert check_vars(SPECS, values) == values
    else:
        with pytest.raises(VarsError) as caught:
            check_vars(SPECS, values)
        assert str(caught.value) == problem


def test_text_without_a_pattern_or_choices_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="needs a pattern or choices"):
        VarSpec(type="str")
