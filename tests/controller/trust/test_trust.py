"""Device trust with real processes: enrolment, tokens, the broker's ACL, refusal, revocation."""

from __future__ import annotations

import sqlite3
import ssl
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from paho.mqtt.enums import CallbackAPIVersion

from agent.identity import generate_key, make_csr
from controller.trust import pki
from protocol.models import Event, EventMessage, Status, StatusMessage, envelope_kwargs
from tests.support import (
    HOSTS,
    Agent,
    Broker,
    Controller,
    connects,
    mqtt_client,
    provision_kit,
    wait_for,
)

AGENT = str(Path(sys.executable).parent / "kitkeeper-agent")


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `kitkeeper-agent enroll` prints follows the locale: these tests read it in English."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


def token(controller: Controller, kit_id: str, hours: str = "24") -> str:
    result = controller.cli("enroll-token", "create", "--kit-id", kit_id, "--hours", hours)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def enroll(
    controller: Controller, token_text: str, state_dir: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            AGENT,
            "enroll",
            "--controller",
            controller.url,
            "--token",
            token_text,
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def certificates(controller: Controller) -> list[tuple[str, str, str]]:
    path = controller.db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT kit_id, issued_via, serial FROM certificates ORDER BY issued_at"
        ).fetchall()


def test_enrolment_end_to_end_and_the_key_never_leaves_the_kit(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    state = tmp_path / "kit-a-state"
    result = enroll(controller, token(controller, "kit-a"), state)
    assert result.returncode == 0, result.stderr
    assert "enrolled as kit kit-a" in result.stdout
    key_path = state / "kit.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    cert = x509.load_pem_x509_certificate((state / "kit.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "kit-a"
    assert (cert.not_valid_after_utc - datetime.now(UTC)).days in (364, 365)
    assert certificates(controller) == [("kit-a", "enroll", format(cert.serial_number, "x"))]

    # `run` finds the identity by itself: no kit id, TLS to the port enrolment recorded.
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        [
            AGENT,
            "run",
            "--state-dir",
            str(state),
            "--interval",
            "0.5",
            "--mqtt-port",
            str(broker.port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        kit = wait_for(
            lambda: (
                (k := controller.get("/api/v1/kits/kit-a")[1]) and k.get("last_seq", 0) >= 3 and k
            ),
            20,
            "the enrolled kit reporting over TLS",
        )
        assert kit["online"] is True
        assert kit["acked_seq"] >= 1
    finally:
        agent.terminate()
        agent.wait(10)
        log.close()

    secret = b"".join(key_path.read_bytes().splitlines()[1:-1])
    assert len(secret) > 40
    haystacks = {
        "controller log": controller.log().encode(),
        "agent log": (tmp_path / "agent.log").read_bytes(),
        "database": Path(controller.db.removeprefix("sqlite:///")).read_bytes(),
    }
    for path in (
        "/api/v1/kits",
        "/api/v1/kits/kit-a",
        "/api/v1/kits/kit-a/telemetry",
        "/api/v1/kits/kit-a/events",
    ):
        haystacks[path] = str(controller.get(path)[1]).encode()
    for where, text in haystacks.items():
        assert secret not in text.replace(b"\\n", b"").replace(b"\n", b""), (
            f"private key in {where}"
        )
        assert b"PRIVATE KEY" not in text, where


def csr_for(kit_id: str, tmp_path: Path) -> str:
    key = generate_key(tmp_path / f"{kit_id}-{time.monotonic_ns()}.key")
    return make_csr(key, kit_id).decode()


def test_bad_tokens_and_csrs_get_a_clear_4xx_and_issue_nothing(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    good = token(controller, "kit-b")
    pin = good.split(":")[2]
    cases = [
        (
            "unknown",
            f"kit-b:not-a-real-secret-at-all:{pin}",
            csr_for("kit-b", tmp_path),
            401,
            "unknown",
        ),
        (
            "wrong kit",
            good.replace("kit-b", "kit-c", 1),
            csr_for("kit-c", tmp_path),
            401,
            "unknown",
        ),
        ("csr of another kit", good, csr_for("kit-z", tmp_path), 422, "kit-z"),
        (
            "garbage csr",
            good,
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            422,
            "CSR",
        ),
    ]
    for name, tok, csr, status, words in cases:
        code, body = controller.post("/api/v1/enroll", {"token": tok, "csr_pem": csr})
        assert code == status, (name, body)
        assert words.lower() in body["detail"].lower(), (name, body)
    assert certificates(controller) == [], "a refused request issued a certificate"

    code, body = controller.post(
        "/api/v1/enroll", {"token": good, "csr_pem": csr_for("kit-b", tmp_path)}
    )
    assert code == 201, body
    code, body = controller.post(
        "/api/v1/enroll", {"token": good, "csr_pem": csr_for("kit-b", tmp_path)}
    )
    assert code == 409
    assert "already used" in body["detail"]

    short = token(controller, "kit-d", hours="0.0003")  # about one second
    time.sleep(1.5)
    code, body = controller.post(
        "/api/v1/enroll", {"token": short, "csr_pem": csr_for("kit-d", tmp_path)}
    )
    assert code == 410
    assert "expired" in body["detail"]

    token(controller, "kit-e")  # a kit is known once a token is made for it
    assert (
        controller.cli(
            "kit", "mark", "--kit-id", "kit-e", "lost", "--broker-dir", str(broker.dir)
        ).returncode
        == 0
    )
    refused = controller.cli("enroll-token", "create", "--kit-id", "kit-e")
    assert refused.returncode == 3
    assert "lost" in refused.stderr
    assert [c[0] for c in certificates(controller)] == ["kit-b"]


def test_a_token_whose_ca_pin_does_not_match_stops_enrolment(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    kit, secret, pin = token(controller, "kit-f").split(":")
    forged = f"{kit}:{secret}:{'0' * len(pin)}"
    result = enroll(controller, forged, tmp_path / "f")
    assert result.returncode == 3
    assert "does not match" in result.stderr
    assert not (tmp_path / "f" / "kit.crt").exists()
    assert certificates(controller) == []


def _publish(client: mqtt.Client, topic: str, payload: bytes) -> int:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    return info.rc


def test_a_kit_cannot_speak_for_or_listen_to_another_kit(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    provision_kit(broker.pki, tmp_path / "a", "kit-a")
    client, received = mqtt_client(broker, tmp_path / "a")
    acks: list[int] = []
    client.on_publish = lambda c, u, mid, rc, props: acks.append(rc.value)
    granted: list[list[int]] = []
    client.on_subscribe = lambda c, u, mid, rcs, props: granted.append([r.value for r in rcs])
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        now = datetime.now(UTC)
        forged = EventMessage(**envelope_kwargs("kit-b", 1, now), body=Event(kind="forged"))
        status = StatusMessage(**envelope_kwargs("kit-b", 0, now), body=Status(state="online"))
        _publish(client, "kits/kit-b/events", forged.to_bytes())
        _publish(client, "kits/kit-b/status", status.to_bytes())
        _publish(client, "kits/kit-a/ack", b"{}")  # a kit may not acknowledge for the controller
        _publish(client, "kits/kit-a/cmd", b"{}")
        wait_for(lambda: len(acks) == 4, 5, "PUBACKs")
        assert acks == [0x87] * 4, "the broker said 'not authorized' to each"
        client.subscribe([("kits/kit-b/cmd", 1), ("kits/kit-b/ack", 1), ("kits/+/telemetry", 1)])
        wait_for(lambda: granted, 5, "SUBACK")
        assert granted == [[0x87] * 3], "the subscription guard refuses other kits' topics"
        # Nothing arrives either; prove it with a positive control: kit B, subscribed to its
        # own commands, does receive them.
        provision_kit(broker.pki, tmp_path / "b", "kit-b")
        kit_b, b_received = mqtt_client(broker, tmp_path / "b")
        kit_b.connect("127.0.0.1", broker.port)
        kit_b.loop_start()
        kit_b.subscribe([("kits/kit-b/cmd", 1), ("kits/kit-b/ack", 1)])
        time.sleep(0.5)
        as_controller = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        context = ssl.create_default_context(cafile=str(broker.pki.ca_cert))
        context.load_cert_chain(str(broker.pki.controller_cert), str(broker.pki.controller_key))
        as_controller.tls_set_context(context)
        as_controller.connect("127.0.0.1", broker.port)
        as_controller.loop_start()
        for topic in ("kits/kit-b/cmd", "kits/kit-b/ack"):
            as_controller.publish(topic, b'{"for": "kit-b only"}', qos=1).wait_for_publish(5)
        kit_b.publish("kits/kit-b/telemetry", b"{}", qos=1).wait_for_publish(5)
        wait_for(lambda: len(b_received) == 2, 5, "kit B receiving its own commands")
        time.sleep(0.5)
        for c in (as_controller, kit_b):
            c.loop_stop()
            c.disconnect()
        assert received == [], [m.topic for m in received]
    finally:
        client.loop_stop()
        client.disconnect()
    # The controller never saw the forged messages.
    assert controller.get("/api/v1/kits/kit-b")[0] == 404
    _, text = controller.get("/metrics")
    assert 'kitkeeper_messages_rejected_total{reason="kit_mismatch"} 0.0' in text
    assert 'kitkeeper_messages_received_total{channel="events"} 0.0' in text


def test_foreign_expired_and_revoked_certificates_are_refused_at_connect(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    provision_kit(broker.pki, tmp_path / "good", "kit-good")
    assert connects(broker, tmp_path / "good")

    other_ca = pki.init_pki(tmp_path / "other-pki", hosts=HOSTS, now=datetime.now(UTC))
    provision_kit(other_ca, tmp_path / "foreign", "kit-foreign")
    assert not connects(broker, tmp_path / "foreign")

    past = datetime.now(UTC) - timedelta(days=30)
    provision_kit(
        broker.pki,
        tmp_path / "expired",
        "kit-old",
        not_before=past,
        not_after=past + timedelta(days=1),
    )
    assert not connects(broker, tmp_path / "expired")

    # Revocation: a live agent loses its rights at once and cannot connect again.
    result = enroll(controller, token(controller, "kit-lost"), tmp_path / "agent-kit-lost")
    assert result.returncode == 0, result.stderr
    agent = Agent(tmp_path, broker, "kit-lost", interval=0.3, provision=False).start()
    try:
        wait_for(
            lambda: controller.get("/api/v1/kits/kit-lost")[1]["last_seq"] >= 2, 20, "reporting"
        )
        result = controller.cli(
            "kit", "mark", "--kit-id", "kit-lost", "lost", "--broker-dir", str(broker.dir)
        )
        assert result.returncode == 0, result.stderr
        assert "broker reloaded" in result.stdout
        time.sleep(1)
        frozen = controller.get("/api/v1/kits/kit-lost")[1]["last_seq"]
        time.sleep(2)
        assert controller.get("/api/v1/kits/kit-lost")[1]["last_seq"] == frozen
        assert controller.get("/api/v1/kits/kit-lost")[1]["lifecycle"] == "lost"
    finally:
        agent.stop()
    assert not connects(broker, agent.state_dir)
    assert connects(broker, tmp_path / "good"), "other kits are unaffected"
    with pytest.raises(AssertionError):
        wait_for(lambda: connects(broker, agent.state_dir), 3, "a revoked kit connecting")


def test_the_agent_renews_its_certificate_before_it_expires(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    state = tmp_path / "agent-kit-renew"
    soon = datetime.now(UTC) + timedelta(days=10)  # inside the 30-day renewal window
    provision_kit(broker.pki, state, "kit-renew", not_after=soon)
    before = x509.load_pem_x509_certificate((state / "kit.crt").read_bytes())
    agent = Agent(tmp_path, broker, "kit-renew", interval=0.5).start()
    try:
        after = wait_for(
            lambda: (
                (
                    c := x509.load_pem_x509_certificate((state / "kit.crt").read_bytes())
                ).serial_number
                != before.serial_number
                and c
            ),
            30,
            "a new certificate on the kit",
        )
        assert after.not_valid_after_utc > soon + timedelta(days=300)
        assert stat.S_IMODE((state / "kit.key").stat().st_mode) == 0o600
        assert ("kit-renew", "renew", format(after.serial_number, "x")) in certificates(controller)
        seq = controller.get("/api/v1/kits/kit-renew")[1]["last_seq"]
        wait_for(
            lambda: controller.get("/api/v1/kits/kit-renew")[1]["last_seq"] > seq + 3,
            20,
            "reporting again with the new certificate",
        )
        events = controller.get("/api/v1/kits/kit-renew/events")[1]["items"]
        results = [e for e in events if e["kind"] == "command_result"]
        assert results
        assert results[0]["body"]["data"]["ok"] is True
    finally:
        agent.stop()
    assert not (state / "kit.key.new").exists()


def test_enrolment_says_what_it_did_in_the_kits_language(
    tmp_path: Path, broker: Broker, controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "kk_KZ.UTF-8")
    state = tmp_path / "kit-kk-state"
    result = enroll(controller, token(controller, "kit-kk"), state)
    assert result.returncode == 0, result.stderr
    assert "kit-kk жинақтамасы ретінде тіркелді" in result.stdout
    assert f"kitkeeper-agent run --state-dir {state}" in result.stdout


def test_enrolling_again_revokes_the_kits_earlier_identity(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    """A re-imaged kit enrols again: its old key (a copy left on an old disk) stops working."""
    old, new = tmp_path / "old-disk", tmp_path / "new-disk"
    assert enroll(controller, token(controller, "kit-re"), old).returncode == 0
    assert connects(broker, old)
    result = enroll(controller, token(controller, "kit-re"), new)
    assert result.returncode == 0, result.stderr
    assert connects(broker, new)
    wait_for(lambda: not connects(broker, old), 10, "the earlier certificate refused")
    path = controller.db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT issued_via, revoke_reason FROM certificates WHERE kit_id = 'kit-re'"
            " ORDER BY issued_at"
        ).fetchall()
    assert rows == [("enroll", "superseded"), ("enroll", None)]
    assert controller.get("/api/v1/kits/kit-re")[1]["lifecycle"] not in ("lost", "retired")
