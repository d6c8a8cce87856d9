"""The kit's remediation: accepting signed bundles, and real ansible-runner runs of their playbooks.

Every playbook here is a small fixture written into a bundle in tmp_path and works under `kk_root`
in tmp_path: nothing touches the real machine.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from agent import diagnostics
from agent.bundles import BundleStore
from agent.config import AgentSettings
from agent.playbooks import MAX_PROGRESS_EVENTS, Runner
from controller.remediation import bundles as controller_bundles
from protocol.bundle import BundleError, BundleRefusal, pack
from protocol.commands import EventKind, RemediationResult, RunPlaybookArgs
from protocol.models import Command, CommandMessage, Event, new_msg_id
from protocol.topics import Channel, kit_topic
from tests.support import BIN, Agent, Broker, Controller, wait_for

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


def playbook(playbook_id: str, tasks: str, *, timeout: int = 60, declares: str = "{}") -> bytes:
    return f"""
- name: {playbook_id}
  hosts: localhost
  gather_facts: false
  vars:
    kitkeeper:
      {{id: {playbook_id}, disruptive: false, timeout: {timeout}, description: test,
       vars: {declares}}}
  tasks:
{tasks}""".encode()


MARKER = playbook(
    "write-marker",
    """
    - name: write the marker
      ansible.builtin.copy:
        dest: "{{ kk_root }}/marker.txt"
        content: "{{ greeting | default('fixed') }}\\n"
    - name: look around
      ansible.builtin.debug:
        msg: "live is {{ kk_live }}"
""",
    declares="{greeting: {type: str, pattern: '[a-z ]+', max_length: 20}}",
)
FAILING = playbook(
    "camera-check",
    """
    - name: first step
      ansible.builtin.debug:
        msg: fine so far
    - name: the camera answers
      ansible.builtin.fail:
        msg: no camera on /dev/video0
    - name: never reached
      ansible.builtin.debug:
        msg: unreachable
""",
)
SLOW = playbook(
    "slow",
    """
    - name: wait far too long
      ansible.builtin.command:
        argv:
          - "{{ ansible_playbook_python }}"
          - "-c"
          - "import time; time.sleep(30)"
          - "{{ kk_root }}"  # only to recognise the process
      changed_when: false
""",
    timeout=3,
)
HOLD = playbook(
    "hold",
    """
    - name: hold the runner
      ansible.builtin.command: sleep 2
      changed_when: false
""",
)
MANY = playbook(
    "many-steps",
    "".join(
        f"""
    - name: step {n}
      ansible.builtin.debug:
        msg: "{n}"
"""
        for n in range(MAX_PROGRESS_EVENTS + 5)
    ),
)
PLAYBOOKS = {
    "playbooks/write-marker.yml": MARKER,
    "playbooks/camera-check.yml": FAILING,
    "playbooks/slow.yml": SLOW,
    "playbooks/hold.yml": HOLD,
    "playbooks/many-steps.yml": MANY,
    "rules.yaml": b"rules: []\n",
}


@dataclass
class Kit:
    """A kit's state directory with the bundle key, its bundle store and runner, what it said."""

    tmp: Path
    key: Ed25519PrivateKey
    store: BundleStore
    runner: Runner
    events: list[Event] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.tmp / "state"

    @property
    def root(self) -> Path:
        return self.tmp / "root"

    def bundle(self, version: int, files: dict[str, bytes] | None = None) -> tuple[bytes, bytes]:
        data = pack(files or PLAYBOOKS, version=version, created_at=NOW)
        return data, self.key.sign(data)

    def install(self, version: int = 1, files: dict[str, bytes] | None = None) -> None:
        self.store.install(*self.bundle(version, files))

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def results(self) -> list[RemediationResult]:
        return [
            RemediationResult.model_validate(e.data)
            for e in self.events
            if e.kind == EventKind.REMEDIATION_RESULT
        ]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    key = Ed25519PrivateKey.generate()
    state = tmp_path / "state"
    state.mkdir()
    (state / "bundle-signing.pub").write_bytes(controller_bundles.public_key_pem(key))
    (tmp_path / "root").mkdir()
    store = BundleStore(state)
    events: list[Event] = []
    runner = Runner(
        state,
        store,
        events.append,
        playbook_vars={"kk_root": str(tmp_path / "root"), "kk_live": False},
    )
    yield Kit(tmp_path, key, store, runner, events)
    runner.close()


# --- accepting bundles -------------------------------------------------------------------------


def test_a_verified_bundle_is_accepted_and_extracted(kit: Kit) -> None:
    assert kit.store.accepted_version() is None
    kit.install(3)
    assert kit.store.accepted_version() == 3
    assert (kit.store.current_dir / "rules.yaml").read_bytes() == b"rules: []\n"
    assert (kit.store.current_dir / "playbooks" / "write-marker.yml").read_bytes() == MARKER
    manifest = kit.store.manifest()
    assert manifest is not None
    assert set(manifest.playbooks) == {"write-marker", "camera-check", "slow", "hold", "many-steps"}


def test_an_older_version_is_refused_and_nothing_is_replaced(kit: Kit) -> None:
    kit.install(2)
    before = {p: p.read_bytes() for p in kit.store.root.rglob("*") if p.is_file()}
    older = {**PLAYBOOKS, "rules.yaml": b"rules: [older]\n"}
    with pytest.raises(BundleError) as caught:
        kit.install(1, older)
    assert caught.value.reason is BundleRefusal.VERSION
    assert "older than the accepted version 2" in str(caught.value)
    after = {p: p.read_bytes() for p in kit.store.root.rglob("*") if p.is_file()}
    assert after == before
    assert kit.store.accepted_version() == 2


def test_the_same_version_again_is_fine_only_with_the_same_bytes(kit: Kit) -> None:
    data, signature = kit.bundle(4)
    kit.store.install(data, signature)
    assert kit.store.install(data, signature).version == 4  # a resend: no-op success
    other = {**PLAYBOOKS, "rules.yaml": b"rules: [other]\n"}
    with pytest.raises(BundleError) as caught:
        kit.install(4, other)
    assert caught.value.reason is BundleRefusal.VERSION
    assert (kit.store.current_dir / "rules.yaml").read_bytes() == b"rules: []\n"


def test_a_newer_version_replaces_the_old_one(kit: Kit) -> None:
    kit.install(1)
    kit.install(2, {**PLAYBOOKS, "rules.yaml": b"rules: [newer]\n"})
    assert kit.store.accepted_version() == 2
    assert (kit.store.current_dir / "rules.yaml").read_bytes() == b"rules: [newer]\n"
    assert sorted(p.name for p in kit.store.root.iterdir()) == [
        "2",
        "2.sig",
        "2.tar.gz",
        "current",
        "state.json",
    ]


@pytest.mark.parametrize("reason", ["unsigned", "tampered", "other key", "no key"])
def test_a_bad_bundle_is_refused_and_nothing_is_installed(kit: Kit, reason: str) -> None:
    data, signature = kit.bundle(1)
    if reason == "unsigned":
        signature = b""
    elif reason == "tampered":
        data = data[:-20] + bytes(20)
    elif reason == "other key":
        signature = Ed25519PrivateKey.generate().sign(data)
    else:
        (kit.state / "bundle-signing.pub").unlink()
    with pytest.raises(BundleError) as caught:
        kit.store.install(data, signature)
    expected = {
        "unsigned": BundleRefusal.UNSIGNED,
        "tampered": BundleRefusal.SIGNATURE,
        "other key": BundleRefusal.SIGNATURE,
        "no key": BundleRefusal.NO_KEY,
    }
    assert caught.value.reason is expected[reason]
    assert kit.store.accepted_version() is None
    assert not kit.store.current_dir.exists()


def test_the_bundle_key_setting_overrides_the_enrolled_one(kit: Kit, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    key_file = tmp_path / "other.pub"
    key_file.write_bytes(controller_bundles.public_key_pem(other))
    store = BundleStore(kit.state, public_key=key_file)
    data = pack(PLAYBOOKS, version=1, created_at=NOW)
    assert store.install(data, other.sign(data)).version == 1
    with pytest.raises(BundleError):
        kit.store.verified()  # the enrolled key does not verify it


# --- refusing to run ---------------------------------------------------------------------------


def test_a_bundle_tampered_on_disk_is_refused_before_running(kit: Kit) -> None:
    kit.install(1)
    stored = kit.store.root / "1.tar.gz"
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    result = kit.runner.run("write-marker", command_id="c-1")
    assert (result.ok, result.status) == (False, "refused")
    assert result.reason.startswith("signature")
    assert kit.kinds() == [EventKind.REMEDIATION_RESULT]
    assert kit.results()[0].command_id == "c-1"
    assert not (kit.root / "marker.txt").exists()
    assert not (kit.state / "runs").exists(), "nothing ran"


def test_an_extracted_playbook_changed_on_disk_is_refused(kit: Kit) -> None:
    kit.install(1)
    extracted = kit.store.current_dir / "playbooks" / "write-marker.yml"
    extracted.chmod(0o644)
    extracted.write_bytes(MARKER.replace(b"marker.txt", b"../../etc/passwd"))
    result = kit.runner.run("write-marker")
    assert result.status == "refused"
    assert result.reason.startswith("hash")
    assert not (kit.state / "runs").exists()


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ({"playbook": "write-marker"}, "no_bundle"),
        ({"playbook": "format-disk"}, "unknown_playbook"),
        ({"playbook": "write-marker", "min_bundle_version": 2}, "bundle_version"),
        ({"playbook": "write-marker", "extra_vars": {"ansible_become": True}}, "extra_vars"),
        (
            {"playbook": "write-marker", "extra_vars": {"greeting": "{{ lookup('pipe', 'id') }}"}},
            "extra_vars",
        ),
        ({"playbook": "write-marker", "extra_vars": {"Bad-Name": 1}}, "extra_vars"),
    ],
    ids=["no bundle", "unknown", "too old", "ansible var", "jinja", "bad name"],
)
def test_refusals_publish_a_result_and_run_nothing(
    kit: Kit, call: dict[str, Any], reason: str
) -> None:
    if reason != "no_bundle":
        kit.install(1)
    args = RunPlaybookArgs.model_validate(call)
    result = kit.runner.run_command(args, command_id="c-2")
    assert (result.ok, result.status) == (False, "refused")
    assert result.reason.startswith(reason), result.reason
    assert kit.results() == [result]
    assert kit.results()[0].command_id == "c-2"
    assert EventKind.REMEDIATION_STARTED not in kit.kinds()
    assert not (kit.state / "runs").exists()


# --- real runs ---------------------------------------------------------------------------------


@pytest.mark.processes
def test_a_successful_run_reports_what_changed_in_order(kit: Kit) -> None:
    kit.install(1)
    result = kit.runner.run("write-marker", command_id="cmd-42", incident_id=7)
    assert (result.ok, result.status, result.rc) == (True, "successful", 0), result.tail
    assert result.changed == ["write the marker"]
    assert result.failed == []
    assert result.bundle_version == 1
    assert "PLAY RECAP" in result.tail
    assert "\x1b[" not in result.tail, "no colour codes in the output"
    assert (kit.root / "marker.txt").read_text() == "fixed\n"
    kinds = kit.kinds()
    assert kinds[0] == EventKind.REMEDIATION_STARTED
    assert kinds[-1] == EventKind.REMEDIATION_RESULT
    assert kinds[1:-1] == [EventKind.REMEDIATION_PROGRESS] * 2
    assert all(e.data["command_id"] == "cmd-42" for e in kit.events)
    assert all(e.data["incident_id"] == 7 for e in kit.events)
    started = kit.events[0].data
    assert (started["playbook"], started["bundle_version"], started["check"]) == (
        "write-marker",
        1,
        False,
    )
    progress = [e.data for e in kit.events[1:-1]]
    assert [(p["task"], p["changed"], p["failed"]) for p in progress] == [
        ("write the marker", True, False),
        ("look around", False, False),
    ]
    assert kit.results() == [result]
    # Its output stays for diagnostics.
    runs = list((kit.state / "runs").iterdir())
    assert len(runs) == 1
    assert (runs[0] / "result.json").exists()


@pytest.mark.processes
def test_a_failing_task_is_named_in_the_result(kit: Kit) -> None:
    kit.install(1)
    result = kit.runner.run("camera-check", command_id="c-3")
    assert (result.ok, result.status) == (False, "failed")
    assert result.rc not in (0, None)
    assert result.failed == ["the camera answers"]
    assert "no camera on /dev/video0" in result.reason
    progress = [e.data for e in kit.events if e.kind == EventKind.REMEDIATION_PROGRESS]
    assert [(p["task"], p["failed"]) for p in progress] == [
        ("first step", False),
        ("the camera answers", True),
    ]
    assert kit.events[-1].severity == "warning"


@pytest.mark.processes
def test_a_run_past_its_timeout_is_stopped(kit: Kit) -> None:
    kit.install(1)
    started = time.monotonic()
    result = kit.runner.run("slow")
    elapsed = time.monotonic() - started
    assert (result.ok, result.status) == (False, "timeout")
    assert "3s" in result.reason
    assert elapsed < 15, f"the 3 s timeout took {elapsed:.1f}s"
    # Nothing of it goes on: not ansible's workers (their own sessions), not the module's child.
    time.sleep(0.5)
    left = [
        proc.name
        for proc in Path("/proc").iterdir()
        if proc.name.isdigit() and str(kit.tmp).encode() in _cmdline(proc)
    ]
    assert left == [], "processes of the stopped run are still running"


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.processes
def test_check_mode_changes_nothing_but_says_what_would_change(kit: Kit) -> None:
    kit.install(1)
    result = kit.runner.run("write-marker", check=True)
    assert (result.ok, result.status, result.check) == (True, "successful", True)
    assert result.changed == ["write the marker"]
    assert not (kit.root / "marker.txt").exists()
    assert kit.events[0].data["check"] is True


@pytest.mark.processes
def test_a_second_run_while_one_runs_is_refused_as_busy(kit: Kit) -> None:
    kit.install(1)
    first = kit.runner.run("hold", command_id="first", wait=False)
    assert (first.ok, first.status) == (True, "started")
    assert kit.runner.busy
    second = kit.runner.run("write-marker", command_id="second")
    assert (second.ok, second.status) == (False, "busy")
    assert second.reason.startswith("busy")
    assert "hold" in second.reason
    wait_for(lambda: not kit.runner.busy, 30, "the first run to finish")
    by_command = {r.command_id: r for r in kit.results()}
    assert by_command["second"].status == "busy"
    assert by_command["first"].status == "successful"
    assert not (kit.root / "marker.txt").exists()
    # Free again: the next run goes ahead.
    assert kit.runner.run("write-marker").ok


@pytest.mark.processes
def test_progress_is_capped_per_run(kit: Kit) -> None:
    kit.install(1)
    result = kit.runner.run("many-steps")
    assert result.ok
    assert kit.kinds().count(EventKind.REMEDIATION_PROGRESS) == MAX_PROGRESS_EVENTS
    assert kit.kinds()[-1] == EventKind.REMEDIATION_RESULT


@pytest.mark.processes
def test_a_command_cannot_set_the_kits_own_variables(kit: Kit, tmp_path: Path) -> None:
    kit.install(1)
    args = RunPlaybookArgs(
        playbook="write-marker",
        extra_vars={"greeting": "hello", "kk_root": str(tmp_path / "elsewhere")},
    )
    result = kit.runner.run_command(args, command_id="c-4")
    assert (result.ok, result.status) == (False, "refused")
    assert result.reason == (
        "extra_vars: kk_root: is not declared by this playbook in the signed bundle"
    )
    kit.runner.run_command(
        args.model_copy(update={"extra_vars": {"greeting": "hello"}}), command_id="c-5"
    )
    wait_for(lambda: len(kit.results()) == 2, 60, "the result")
    assert kit.results()[1].ok
    assert (kit.root / "marker.txt").read_text() == "hello\n"
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.processes
def test_only_the_last_runs_are_kept(kit: Kit) -> None:
    kit.install(1)
    runner = Runner(
        kit.state,
        kit.store,
        kit.events.append,
        keep_runs=2,
        playbook_vars={"kk_root": str(kit.root), "kk_live": False},
    )
    for _ in range(3):
        assert runner.run("write-marker").ok
    assert len(list((kit.state / "runs").iterdir())) == 2


# --- diagnostics -------------------------------------------------------------------------------


@pytest.mark.processes
def test_diagnostics_carry_the_last_runs_and_fit_a_message(kit: Kit) -> None:
    kit.install(1)
    kit.runner.run("camera-check")
    settings = AgentSettings(state_dir=kit.state)
    report = diagnostics.collect(kit.state, settings, 50, outbox_size=3)
    event = diagnostics.diagnostics_event(report, command_id="c-5")
    assert event.kind == EventKind.DIAGNOSTICS
    assert event.data["command_id"] == "c-5"
    assert event.data["encoding"] == "gzip+base64"
    assert len(event.data["payload"]) <= diagnostics.MAX_ENCODED_CHARS
    decoded = diagnostics.decode_payload(event.data)
    assert decoded["bundle_version"] == 1
    assert decoded["outbox_size"] == 3
    assert decoded["runs"][0]["result"]["failed"] == ["the camera answers"]
    assert "no camera" in decoded["runs"][0]["tail"]
    assert decoded["telemetry"]["hostname"]
    assert event.data["size"] == len(json.dumps(decoded, sort_keys=True).encode())


def test_diagnostics_shorten_the_logs_to_fit() -> None:
    noise = [os.urandom(60).hex() for _ in range(3000)]  # ~360 kB that gzip cannot shrink
    report = {"agent_log": noise, "dmesg": noise[:100], "runs": [], "telemetry": {"x": 1}}
    event = diagnostics.diagnostics_event(report, command_id=None)
    assert len(event.data["payload"]) <= diagnostics.MAX_ENCODED_CHARS
    assert event.data["truncated"] is True
    decoded = diagnostics.decode_payload(event.data)
    assert 0 < len(decoded["agent_log"]) < len(noise)
    assert decoded["agent_log"][-1] == noise[-1], "the newest lines are kept"
    assert decoded["telemetry"] == {"x": 1}


# --- end to end: the controller's commands over MQTT to a real agent ---------------------------


def test_enrolment_hands_out_the_bundle_key(tmp_path: Path, controller: Controller) -> None:
    made = controller.cli("enroll-token", "create", "--kit-id", "kit-new")
    assert made.returncode == 0, made.stderr
    state = tmp_path / "kit-new"
    enrolled = subprocess.run(
        [
            str(BIN / "kitkeeper-agent"),
            "enroll",
            "--controller",
            controller.url,
            "--token",
            made.stdout.strip(),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    saved = state / "bundle-signing.pub"
    assert saved.read_bytes() == controller.pki.bundle_public_key.read_bytes()
    assert saved.stat().st_mode & 0o777 == 0o644
    key = controller_bundles.load_signing_key(controller.pki.bundle_key)
    data = pack(PLAYBOOKS, version=1, created_at=NOW)
    assert BundleStore(state).install(data, key.sign(data)).version == 1


def send(broker: Broker, kit_id: str, *commands: tuple[str, dict[str, Any]]) -> list[str]:
    """Publish commands to a kit as the controller would; their ids.

    The broker makes a certificate's CN the client id, so this client and the running
    controller share one and push each other off: connect, publish, leave at once (the
    controller reconnects and resubscribes; what kits sent meanwhile waits in their outboxes).
    """
    now = datetime.now(UTC)
    messages = [
        CommandMessage(
            kit_id=kit_id,
            msg_id=new_msg_id(),
            seq=0,
            ts=now,
            body=Command(kind=kind, expires_at=now + timedelta(minutes=5), args=args),
        )
        for kind, args in commands
    ]
    context = ssl.create_default_context(cafile=str(broker.pki.ca_cert))
    context.load_cert_chain(str(broker.pki.controller_cert), str(broker.pki.controller_key))
    for attempt in range(5):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.tls_set_context(context)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        try:
            for message in messages:
                client.publish(
                    kit_topic(kit_id, Channel.CMD), message.to_bytes(), qos=1
                ).wait_for_publish(5)
            break
        except (RuntimeError, ValueError):  # pushed off by the controller: again
            time.sleep(0.5 * (attempt + 1))
        finally:
            client.disconnect()
            client.loop_stop()
    else:
        raise AssertionError("could not publish the commands")
    return [m.msg_id for m in messages]


def stored_events(controller: Controller, kit_id: str) -> list[dict[str, Any]]:
    status, page = controller.get(f"/api/v1/kits/{kit_id}/events?limit=1000")
    return [item["body"] for item in page["items"]] if status == 200 else []


def answer(controller: Controller, kit_id: str, kind: str, command_id: str) -> dict[str, Any]:
    """The stored event of `kind` about one command (waits for it)."""
    return wait_for(
        lambda: next(
            (
                e
                for e in stored_events(controller, kit_id)
                if e["kind"] == kind and e["data"].get("command_id") == command_id
            ),
            None,
        ),
        30,
        f"a stored {kind} for command {command_id}",
    )


@pytest.fixture
def plain_controller(tmp_path: Path, broker: Broker) -> Iterator[Controller]:
    """The controller without its escalation ladder: only this test sends bundles and commands."""
    proc = Controller(tmp_path, broker, KITKEEPER_REMEDIATION="false").start()
    yield proc
    proc.stop()


@pytest.mark.slow
def test_bundles_and_runs_through_the_broker_and_the_controller(
    tmp_path: Path, broker: Broker, plain_controller: Controller
) -> None:
    controller = plain_controller
    kit_id = "kit-fix"
    root = tmp_path / "root"
    root.mkdir()
    agent = Agent(
        tmp_path,
        broker,
        kit_id,
        interval=1,
        KITKEEPER_PLAYBOOK_VARS=json.dumps({"kk_root": str(root), "kk_live": False}),
        KITKEEPER_ACK_TIMEOUT="2",  # resend soon what the broker dropped while `send` was on
    )
    source = tmp_path / "playbooks"
    source.mkdir()
    for path, data in PLAYBOOKS.items():
        (source / Path(path).name).write_bytes(data)
    key = controller_bundles.ensure_signing_key(broker.pki.bundle_key)  # what the kit trusts
    store = controller_bundles.BundleStore(tmp_path / "test-bundles")
    older = store.build(source, source / "rules.yaml", key, datetime.now(UTC))
    (source / "rules.yaml").write_bytes(b"rules: [newer]\n")
    newer = store.build(source, source / "rules.yaml", key, datetime.now(UTC))
    assert (older.version, newer.version) == (1, 2)

    agent.start()
    try:
        wait_for(
            lambda: any(e["kind"] == "agent_started" for e in stored_events(controller, kit_id)),
            30,
            "the kit online",
        )
        (early,) = send(broker, kit_id, ("run_playbook", {"playbook": "write-marker"}))
        refused_run = answer(controller, kit_id, EventKind.REMEDIATION_RESULT, early)
        assert refused_run["data"]["status"] == "refused"
        assert refused_run["data"]["reason"].startswith("no_bundle")

        good = controller_bundles.install_command_args(newer).model_dump()
        tampered = {**good, "bundle_b64": base64.b64encode(newer.data[:-8] + bytes(8)).decode()}
        unsigned = {**good, "signature_b64": ""}
        old = controller_bundles.install_command_args(older).model_dump()
        tampered_id, unsigned_id, installed, older_id = send(
            broker,
            kit_id,
            ("install_bundle", tampered),
            ("install_bundle", unsigned),
            ("install_bundle", good),
            ("install_bundle", old),
        )
        refusals = {"tampered": tampered_id, "unsigned": unsigned_id, "older": older_id}
        reasons = {
            name: answer(controller, kit_id, EventKind.BUNDLE_REFUSED, command_id)["data"]["reason"]
            for name, command_id in refusals.items()
        }
        assert reasons["tampered"].startswith("signature"), reasons
        assert reasons["unsigned"].startswith("unsigned"), reasons
        assert reasons["older"].startswith("version"), reasons
        for command_id in refusals.values():
            assert answer(controller, kit_id, "command_result", command_id)["data"]["ok"] is False
        accepted = answer(controller, kit_id, EventKind.BUNDLE_INSTALLED, installed)
        assert accepted["data"]["version"] == 2
        assert "write-marker" in accepted["data"]["playbooks"]
        kinds = [e["kind"] for e in stored_events(controller, kit_id)]
        assert EventKind.REMEDIATION_STARTED not in kinds, "nothing ran"
        assert not (root / "marker.txt").exists()

        run, bad_args = send(
            broker,
            kit_id,
            (
                "run_playbook",
                {"playbook": "write-marker", "incident_id": 5, "extra_vars": {"greeting": "hi"}},
            ),
            ("run_playbook", {"playbook": "../etc"}),
        )
        result = answer(controller, kit_id, EventKind.REMEDIATION_RESULT, run)
        assert result["data"]["ok"] is True, result
        assert result["data"]["status"] == "successful"
        assert result["data"]["changed"] == ["write the marker"]
        assert result["data"]["bundle_version"] == 2
        assert result["data"]["incident_id"] == 5
        assert (root / "marker.txt").read_text() == "hi\n"
        # In seq order, once all are stored (what the broker dropped while this test's client
        # held the controller's identity comes again from the kit's outbox).
        wait_for(
            lambda: (
                [
                    e["kind"]
                    for e in stored_events(controller, kit_id)
                    if e["data"].get("command_id") == run
                ]
                == [
                    EventKind.REMEDIATION_STARTED,
                    EventKind.REMEDIATION_PROGRESS,
                    EventKind.REMEDIATION_PROGRESS,
                    EventKind.REMEDIATION_RESULT,
                ]
            ),
            30,
            "started, progress and result of the run, in order",
        )
        invalid = answer(controller, kit_id, "command_result", bad_args)
        assert invalid["data"]["ok"] is False
        assert "invalid arguments" in invalid["message"]

        (asked,) = send(broker, kit_id, ("collect_diagnostics", {"log_lines": 20}))
        report = answer(controller, kit_id, EventKind.DIAGNOSTICS, asked)
        decoded = diagnostics.decode_payload(report["data"])
        assert decoded["bundle_version"] == 2
        assert decoded["runs"][0]["result"]["command_id"] == run
    finally:
        agent.stop()
    assert "Traceback" not in agent.log()
