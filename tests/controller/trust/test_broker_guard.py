"""A hostile kit against the real broker and controller: it cannot take a share of other kits'
messages, subscribe outside its own topics, or keep a session past its revocation."""

from __future__ import annotations

import sqlite3
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography import x509
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.identity import generate_key, make_csr
from controller.trust import pki
from protocol.models import Event, EventMessage, envelope_kwargs
from tests.controller.records import crl_serials, enrol
from tests.support import Broker, Controller, mqtt_client, provision_kit, wait_for

NOT_AUTHORIZED = 0x87


def _stored(controller: Controller, kit_id: str) -> int:
    with sqlite3.connect(controller.db.removeprefix("sqlite:///")) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM events WHERE kit_id = ? AND kind = ?", (kit_id, "probe")
        ).fetchone()
    return int(count)


def _certificates(controller: Controller, kit_id: str) -> list[tuple[str, str | None]]:
    with sqlite3.connect(controller.db.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT issued_via, revoke_reason FROM certificates WHERE kit_id = ? "
            "ORDER BY issued_at",
            (kit_id,),
        ).fetchall()


def _flood_with_renewals(controller: Controller, kit: mqtt.Client, state_dir: Path) -> None:
    """Ten renewal requests in a row get three certificates; each supersedes the one before,
    but the certificate the kit says it uses stays valid; the CRL lists the superseded."""
    current = x509.load_pem_x509_certificate((state_dir / "kit.crt").read_bytes())
    key = generate_key(state_dir / "kit.key.new")
    data = {"csr_pem": make_csr(key, "kit-b").decode(), "serial": f"{current.serial_number:x}"}
    for seq in range(1, 11):
        message = EventMessage(
            **envelope_kwargs("kit-b", seq, datetime.now(UTC)),
            body=Event(kind="cert_renew_request", data=data),
        )
        kit.publish("kits/kit-b/events", message.to_bytes(), qos=1).wait_for_publish(5)
    wait_for(lambda: controller.log().count("refused to renew kit kit-b") == 7, 15, "7 refusals")
    assert "at most 3); ask again after" in controller.log()
    assert _certificates(controller, "kit-b") == [
        ("enroll", None),
        ("renew", "superseded"),
        ("renew", "superseded"),
        ("renew", None),
    ]
    wait_for(lambda: len(crl_serials(controller.pki)) == 2, 5, "the superseded in the CRL")


def _send_events(broker: Broker, cert_dir: Path, kit_id: str, seqs: range) -> None:
    """Publish one event per seq as the kit, each acknowledged by the broker."""
    client, _ = mqtt_client(broker, cert_dir)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for seq in seqs:
            message = EventMessage(
                **envelope_kwargs(kit_id, seq, datetime.now(UTC)), body=Event(kind="probe")
            )
            client.publish(f"kits/{kit_id}/events", message.to_bytes(), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_hostile_kit_gets_no_share_and_its_session_ends_with_its_revocation(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    provision_kit(broker.pki, tmp_path / "kit-a", "kit-a")
    enrol(controller.db, broker.pki, tmp_path / "kit-b", "kit-b")
    hostile, received = mqtt_client(broker, tmp_path / "kit-b", "kit-b")
    granted: dict[int, list[int]] = {}
    hostile.on_subscribe = lambda c, u, mid, rcs, p: granted.__setitem__(
        mid, [r.value for r in rcs]
    )
    disconnects: list[int] = []
    hostile.on_disconnect = lambda c, u, flags, rc, p: disconnects.append(rc.value)
    session = Properties(PacketTypes.CONNECT)
    session.SessionExpiryInterval = 86400  # a persistent session, as the attacker had
    hostile.connect("127.0.0.1", broker.port, clean_start=False, properties=session)
    hostile.loop_start()
    try:
        wait_for(hostile.is_connected, 5, "the hostile kit connected")
        attempts = [
            "$share/controllers/kits/+/events",  # the group name the code makes public
            f"$share/{pki.share_group(broker.pki)}/kits/+/events",  # even knowing the secret one
            "$share/mine/kits/kit-b/cmd",  # its own topic, but shared
            "kits/+/events",
            "kits/kit-a/cmd",
            "kits/kit-b/#",
            "#",
        ]
        for topic in [*attempts, "kits/kit-b/cmd"]:
            _, mid = hostile.subscribe(topic, qos=1)
            wait_for(lambda mid=mid: mid in granted, 5, f"SUBACK for {topic}")
        codes = [granted[mid] for mid in sorted(granted)]
        assert codes == [[NOT_AUTHORIZED]] * len(attempts) + [[1]], codes

        _send_events(broker, tmp_path / "kit-a", "kit-a", range(1, 41))
        wait_for(lambda: _stored(controller, "kit-a") == 40, 15, "all 40 of kit A's events stored")
        assert received == []
        _flood_with_renewals(controller, hostile, tmp_path / "kit-b")

        # Revoked: the broker drops the live session at once, not at its next handshake.
        result = controller.cli(
            "kit", "mark", "--kit-id", "kit-b", "lost", "--broker-dir", str(broker.dir)
        )
        assert result.returncode == 0, result.stderr
        wait_for(lambda: disconnects, 5, "the revoked kit disconnected by the broker")
        hostile.loop_stop()
    finally:
        hostile.loop_stop()
        hostile.disconnect()

    broker.stop()
    data = broker.dir / "data"  # the broker's persistence holds kits' messages: owner only
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (data, data / "mosquitto.db")] == [
        "0o700",
        "0o600",
    ]
    broker.start()
    wait_for(lambda: controller.log().count("connected to broker") >= 2, 20, "reconnected")
    _send_events(broker, tmp_path / "kit-a", "kit-a", range(41, 61))
    wait_for(lambda: _stored(controller, "kit-a") == 60, 20, "kit A's events after a restart")
    again, _ = mqtt_client(broker, tmp_path / "kit-b", "kit-b")
    connected: list[bool] = []
    again.on_connect = lambda c, u, f, rc, p: connected.append(not rc.is_failure)
    try:
        again.connect("127.0.0.1", broker.port, clean_start=False, properties=session)
        again.loop_start()
        time.sleep(1)
    except OSError:
        pass
    finally:
        again.loop_stop()
    assert True not in connected, "a revoked kit never gets its session back"
