"""A hostile kit asking too much: help floods, uploads nobody asked for, gzip bombs, made results.

The kit is a raw MQTT client with an enrolled kit's certificate, publishing what it likes through
the real broker to a real controller (one of each for the module, a kit of its own per test); the
pure checks of the upload caps come first.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from controller.fleet.service import ensure_kit
from controller.remediation import diagnostics, quotas
from controller.remediation.diagnostics import UploadRefusedError, unpack
from controller.remediation.tables import KitQuota
from protocol.commands import PrelessonCheck
from protocol.models import Event, EventMessage, envelope_kwargs
from protocol.topics import Channel, kit_topic
from tests.support import (
    Broker,
    Controller,
    metric,
    migrated,
    mqtt_client,
    provision_kit,
    start_broker,
    wait_for,
)

HELP_LIMIT = quotas.DAILY_LIMITS["help_request"]
INCIDENT_LIMIT = quotas.DAILY_LIMITS[quotas.INCIDENT_OPENED]
MiB = 1024 * 1024

# --- the caps, pure ------------------------------------------------------------------------------


def _gzip(content: Any) -> bytes:
    return gzip.compress(json.dumps(content).encode(), mtime=0)


def test_an_upload_unpacks_within_the_caps_or_is_refused_with_a_reason() -> None:
    report = {"agent_log": ["a line"] * 100, "runs": [{"tail": "ok"}]}
    assert unpack(_gzip(report)) == (report, len(json.dumps(report)))
    cases = {
        "unpacks to over": gzip.compress(b"[" + b" " * diagnostics.MAX_EXPANDED_BYTES + b"]"),
        "cut short": _gzip(report)[:-12],
        "follows the gzip": _gzip(report) + b"more",
        "not gzip": zlib.compress(json.dumps(report).encode()),
        "not JSON": gzip.compress(b"{not json"),
        "nested": _gzip({"a": json.loads("[" * 40 + "]" * 40)}),
        "not a JSON object": _gzip([1, 2]),
        "compressed": b"\x1f\x8b" + b"\0" * diagnostics.MAX_COMPRESSED_BYTES,
    }
    for expected, payload in cases.items():
        with pytest.raises(UploadRefusedError, match=expected):
            unpack(payload)


def test_a_kits_daily_quota_starts_again_the_next_day(tmp_path: Path) -> None:
    database = migrated(f"sqlite:///{tmp_path / 'quota.db'}")
    now = datetime(2030, 5, 17, 23, 59, tzinfo=UTC)
    limit = quotas.DAILY_LIMITS["help_request"]
    with database.sessions.begin() as session:
        ensure_kit(session, "kit-q")
    with database.sessions.begin() as session:
        taken = [quotas.take(session, "kit-q", "help_request", now) for _ in range(limit + 3)]
        assert taken == [True] * limit + [False] * 3
        assert quotas.take(session, "kit-q", "self_heal", now)  # each kind has its own
        row = session.get(KitQuota, ("kit-q", "help_request"))
        assert (row.used, row.refused) == (limit, 3)
        assert quotas.take(session, "kit-q", "help_request", now + timedelta(minutes=2))
        assert (row.day, row.used, row.refused) == ("2030-05-18", 1, 0)
    database.engine.dispose()


# --- the hostile kit, through the broker and the controller ---------------------------------------


@dataclass
class HostileKit:
    """A raw MQTT client with a kit's certificate, sending whatever events it likes."""

    kit_id: str
    client: mqtt.Client
    seq: int = 0

    def event(self, kind: str, data: dict[str, Any], message: str = "") -> None:
        self.seq += 1
        body = Event(kind=kind, message=message, data=data)
        sent = EventMessage(**envelope_kwargs(self.kit_id, self.seq, datetime.now(UTC)), body=body)
        topic = kit_topic(self.kit_id, Channel.EVENTS)
        self.client.publish(topic, sent.to_bytes(), qos=1).wait_for_publish(5)

    def handled(self, controller: Controller) -> None:
        """Wait until the controller has acted on everything sent so far (events go in order)."""
        self.seq += 1
        marker = f"marker {self.seq}"
        self.event("bundle_refused", {"reason": marker})
        path = f"/api/v1/kits/{self.kit_id}/bundle"
        wait_for(lambda: controller.get(path)[1]["refused_reason"] == marker, 30, marker)


@dataclass
class Setting:
    """One broker and one controller for the module; each test has a kit of its own."""

    broker: Broker
    controller: Controller
    tmp: Path


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    tmp = tmp_path_factory.mktemp("hostile")
    broker = start_broker(tmp)
    try:
        controller = Controller(tmp, broker, KITKEEPER_REMEDIATION_INTERVAL="0.2").start()
        try:
            yield Setting(broker, controller, tmp)
        finally:
            controller.stop()
    finally:
        broker.stop()


def _kit(setting: Setting, kit_id: str) -> HostileKit:
    provision_kit(setting.broker.pki, setting.tmp / kit_id, kit_id)
    client, _ = mqtt_client(setting.broker, setting.tmp / kit_id, client_id=kit_id)
    client.connect("127.0.0.1", setting.broker.port)
    client.loop_start()
    return HostileKit(kit_id, client)


@pytest.fixture
def kit(request: pytest.FixtureRequest, setting: Setting) -> Iterator[HostileKit]:
    """A kit of the test's own: its id is the test's (indirect) parameter."""
    made = _kit(setting, request.param)
    yield made
    made.client.loop_stop()
    made.client.disconnect()


def _refused(controller: Controller, kind: str, reason: str) -> float:
    try:
        return metric(controller, "kitkeeper_kit_requests_refused_total", kind=kind, reason=reason)
    except KeyError:
        return 0.0


@pytest.mark.processes
@pytest.mark.parametrize("kit", ["kit-hostile-help"], indirect=True)
def test_a_flood_of_help_requests_opens_one_ticket_and_made_up_results_change_nothing(
    kit: HostileKit, setting: Setting
) -> None:
    controller = setting.controller
    for n in range(200):
        kit.event("help_request", {}, message=f"help {n}")
    # Results of runs the controller never sent to this kit.
    made_up = {"command_id": "never-sent", "playbook": "audio-reset", "ok": False, "status": "x"}
    kit.event("remediation_result", made_up)
    kit.event("command_result", {"command_id": "never-sent", "command": "run_playbook"}, "no")
    kit.handled(controller)

    status, found = controller.get(f"/api/v1/tickets?kit_id={kit.kit_id}", "technician")
    assert status == 200, found
    assert [t["kind"] for t in found] == ["help_request"]  # one ticket, not 200
    (ticket,) = found
    assert ticket["occurrences"] == HELP_LIMIT  # the rest of the day's are refused and counted
    assert _refused(controller, "help_request", "daily_quota") == 200 - HELP_LIMIT
    history = controller.get(f"/api/v1/tickets/{ticket['id']}", "technician")[1]["history"]
    assert [e["action"] for e in history].count("repeated") == HELP_LIMIT - 1
    assert history[-1]["detail"]["note"] == f"help {HELP_LIMIT - 1}"
    assert controller.log().count("help_request refused (daily_quota)") == 1  # logged once
    assert controller.get(f"/api/v1/kits/{kit.kit_id}/commands")[1] == []
    assert _refused(controller, "remediation_result", "command_not_sent") == 1
    assert _refused(controller, "command_result", "command_not_sent") == 1

    # Failing and passing the readiness check in turn: each failure would open an incident.
    lesson = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    for ok in [False, True] * (INCIDENT_LIMIT + 5):
        check = PrelessonCheck(lesson_start=lesson, ok=ok, failures=[] if ok else ["camera"])
        kit.event("prelesson_check", check.model_dump(mode="json"))
    kit.handled(controller)
    path = f"/api/v1/incidents?state=all&kit_id={kit.kit_id}"
    assert len(controller.get(path, "technician")[1]) == INCIDENT_LIMIT
    assert _refused(controller, quotas.INCIDENT_OPENED, "daily_quota") == 5


def _upload(content: Any, command_id: str | None) -> dict[str, Any]:
    payload = content if isinstance(content, bytes) else _gzip(content)
    encoded = base64.b64encode(payload).decode()
    return {"command_id": command_id, "encoding": "gzip+base64", "payload": encoded, "size": 1}


def _memory(pid: int, field: str) -> int:
    """A VmRSS/VmHWM figure of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _requests(controller: Controller, kit_id: str) -> list[dict[str, Any]]:
    status, rows = controller.get(f"/api/v1/kits/{kit_id}/diagnostics", "technician")
    assert status == 200, rows
    return rows


@pytest.mark.processes
@pytest.mark.parametrize("kit", ["kit-hostile-upload"], indirect=True)
def test_diagnostics_are_taken_only_as_asked_and_a_gzip_bomb_stops_at_the_cap(
    kit: HostileKit, setting: Setting
) -> None:
    controller = setting.controller
    report = {"agent_log": [f"line {n}" for n in range(200)], "outbox_size": 0}

    # Uploads nobody asked for: refused, nothing stored.
    kit.event("diagnostics", _upload(report, "made-up-request"))
    kit.event("diagnostics", _upload(report, None))
    kit.handled(controller)
    assert _requests(controller, kit.kit_id) == []
    assert _refused(controller, "diagnostics", "not_requested") == 2

    # Asked for, and answered with 44 KB of gzip that would unpack to 45 MB.
    status, asked = controller.post(f"/api/v1/kits/{kit.kit_id}/diagnostics", {}, "technician")
    assert status == 202, asked
    bomb = gzip.compress(b'{"a": "' + b"x" * 45_000_000 + b'"}', 9)
    assert 40_000 < len(bomb) <= diagnostics.MAX_COMPRESSED_BYTES
    pid = controller.process.pid  # type: ignore[union-attr]
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = _memory(pid, "VmRSS")
    kit.event("diagnostics", _upload(bomb, asked["command_id"]))
    kit.handled(controller)
    grown = _memory(pid, "VmHWM") - before
    assert grown < 24 * MiB, f"the controller's peak grew by {grown / MiB:.0f} MiB"
    (refused,) = _requests(controller, kit.kit_id)
    assert "unpacks to over" in refused["refused_reason"]
    assert refused["size"] == 0
    assert _refused(controller, "diagnostics", "too_large") == 1
    status, body = controller.get(f"/api/v1/diagnostics/{refused['id']}", "technician")
    assert status == 502, body
    # A request is used once: a proper upload on the same id is refused too.
    kit.event("diagnostics", _upload(report, asked["command_id"]))
    kit.handled(controller)
    assert _refused(controller, "diagnostics", "not_requested") == 3

    # A proper upload against a new request is kept and shown.
    status, asked = controller.post(f"/api/v1/kits/{kit.kit_id}/diagnostics", {}, "technician")
    assert status == 202, asked
    kit.event("diagnostics", _upload(report, asked["command_id"]))
    status, body = wait_for(
        lambda: (
            (r := controller.get(f"/api/v1/diagnostics/{asked['id']}", "technician"))[0] == 200
            and r
        ),
        30,
        "the upload kept",
    )
    assert body["content"] == report
    assert body["size"] == len(json.dumps(report))
    assert body["refused_reason"] is None
