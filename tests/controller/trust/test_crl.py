"""The revocation list stays valid by itself: re-signed from its own dates, shown, and checked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from agent.identity import generate_key, make_csr, save_identity
from controller.platform.metrics import Metrics
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.crl import (
    CrlKeeper,
    CrlTimes,
    crl_check,
    crl_needs_refresh,
    crl_problem,
    read_crl_times,
)
from controller.trust.pki import write_crl
from tests.support import (
    HOSTS,
    Agent,
    Broker,
    Controller,
    MigratedDb,
    connects,
    faketime_env,
    migrated,
    start_broker,
    wait_for,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
"""Any instant: the decisions below read no clock."""
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("this_update", "next_update", "now", "refresh"),
    [
        (T0, T0 + 30 * DAY, T0, False),  # just signed
        (T0, T0 + 30 * DAY, T0 + 15 * DAY - US, False),  # a microsecond more than half left
        (T0, T0 + 30 * DAY, T0 + 15 * DAY, False),  # exactly half left
        (T0, T0 + 30 * DAY, T0 + 15 * DAY + US, True),  # less than half left
        (T0, T0 + 30 * DAY, T0 + 29 * DAY, True),
        (T0, T0 + 30 * DAY, T0 + 30 * DAY, True),  # expired this instant
        (T0, T0 + 30 * DAY, T0 + 45 * DAY, True),  # long expired (a controller off 45 days)
        (T0, T0 + 30 * DAY, T0 - US, True),  # signed after now: the clock went back
        (T0, T0 + 365 * DAY, T0 + 300 * DAY, False),  # a long CRL: 65 days left is plenty
        (T0, T0 + 365 * DAY, T0 + 350 * DAY + US, True),  # ...under 15 days left is not
        (T0, T0 + 4 * DAY, T0 + DAY, False),  # a short CRL: refreshed at half, not every pass
        (T0, T0 + 4 * DAY, T0 + 2 * DAY + US, True),
        (T0, T0, T0, True),  # malformed: no validity at all
    ],
)
def test_when_the_crl_is_signed_again(
    this_update: datetime, next_update: datetime, now: datetime, refresh: bool
) -> None:
    assert crl_needs_refresh(this_update, next_update, now) is refresh


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (T0 + DAY, None),
        (T0 + 23 * DAY, None),  # exactly 7 days left
        (T0 + 23 * DAY + US, "expires in 6 days 23 hours"),
        (T0 + 29 * DAY + 20 * timedelta(hours=1), "expires in 4 hours"),
        (T0 + 30 * DAY, "expired at 2030-01-31 00:00 UTC"),
        (T0 + 45 * DAY, "refuses every kit"),
        (T0 - DAY, "after this host's clock"),
    ],
)
def test_what_health_says_about_the_crl(now: datetime, words: str | None) -> None:
    problem = crl_problem(CrlTimes(this_update=T0, next_update=T0 + 30 * DAY), now)
    if words is None:
        assert problem is None
    else:
        assert problem is not None
        assert words in problem


def test_the_dates_read_back_are_the_dates_signed(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # a CRL's dates are whole seconds
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=now)
    assert read_crl_times(paths) == CrlTimes(now, now + 30 * DAY)
    write_crl(paths, [], now=now + 20 * DAY)
    assert read_crl_times(paths) == CrlTimes(now + 20 * DAY, now + 50 * DAY)
    assert crl_check(paths, now + 20 * DAY) == "ok"
    paths.crl.write_text("not a CRL")
    assert "cannot read the revocation list" in crl_check(paths, now)


def enrol_and_lose(db: str, paths: pki.PkiPaths, state_dir: Path, kit_id: str) -> None:
    """Enrol a kit and mark it lost, today, as the API and `kit mark` would."""
    database = migrated(db)
    now = datetime.now(UTC)
    key = generate_key(state_dir / "kit.key")
    with database.sessions.begin() as session:
        issued = trust.create_token(session, kit_id=kit_id, paths=paths, now=now, ttl=DAY)
        _, cert_pem, _ = trust.enroll(
            session,
            token=issued.text,
            csr_pem=make_csr(key, kit_id).decode(),
            paths=paths,
            now=now,
            days=365,
        )
        assert trust.set_lifecycle(session, kit_id=kit_id, lifecycle="lost", now=now)
        trust.publish_revocations(session, paths=paths, broker_dir=state_dir / "nowhere", now=now)
    database.engine.dispose()
    save_identity(state_dir, cert_pem=cert_pem, ca_pem=paths.ca_cert.read_bytes())


@pytest.mark.slow
@pytest.mark.processes
def test_45_days_on_kits_still_connect_and_a_lost_kit_is_still_refused(tmp_path: Path) -> None:
    """The site is set up today (its CRL valid 30 days); broker, controller and agents start
    45 days later. The controller signs the CRL again before it first connects: the broker, whose
    CRL has expired, would refuse the controller too."""
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))
    lost_dir = tmp_path / "agent-kit-lost"  # where the Agent helper looks for kit-lost
    enrol_and_lose(f"sqlite:///{tmp_path / 'controller.db'}", paths, lost_dir, "kit-lost")
    serial = x509.load_pem_x509_certificate((lost_dir / "kit.crt").read_bytes()).serial_number
    assert read_crl_times(paths).next_update < datetime.now(UTC) + 45 * DAY, "expired by then"

    later = faketime_env("+45d")
    broker = start_broker(tmp_path, env=later)
    controller = Controller(tmp_path, broker, **later)
    agents: list[Agent] = []
    try:
        controller.start()  # healthy means connected: the broker accepted the controller
        assert "certificate verify failed" not in broker_log(broker), "refused at first"
        faked_now = datetime.now(UTC) + 45 * DAY
        times = read_crl_times(paths)
        assert times.next_update > faked_now, "the controller signed the CRL again at start-up"
        assert times.this_update > faked_now - timedelta(minutes=5)
        assert serial in crl_serials(paths), "still listing the lost kit"

        good = Agent(tmp_path, broker, "kit-good", interval=0.5, **later).start()
        agents.append(good)
        wait_for(
            lambda: controller.get("/api/v1/kits/kit-good")[1]["last_seq"] >= 2,
            30,
            "kit-good reporting 45 days on",
        )
        assert connects(broker, good.state_dir)

        agents.append(
            Agent(tmp_path, broker, "kit-lost", interval=0.5, provision=False, **later).start()
        )
        assert not connects(broker, lost_dir)
        time.sleep(3)
        status, kit = controller.get("/api/v1/kits/kit-lost")
        assert status == 200, kit
        assert kit["last_seq"] == 0, "the lost kit got in"
        assert kit["lifecycle"] == "lost"

        status, health = controller.get("/healthz", None)
        assert (status, health["crl"]) == (200, "ok")
        _, metrics = controller.get("/metrics")
        next_update = gauge(metrics, "kitkeeper_crl_next_update_timestamp_seconds")
        assert next_update == pytest.approx(times.next_update.timestamp())
        assert 0 <= gauge(metrics, "kitkeeper_crl_age_seconds") < 600
    finally:
        for agent in agents:
            agent.stop()
        controller.stop()
        broker.stop()


@pytest.mark.processes
def test_a_controller_that_cannot_sign_says_so_a_week_ahead(tmp_path: Path) -> None:
    """A CRL signed 25 days ago (5 days left) and a CA key the controller cannot use."""
    now = datetime.now(UTC)
    paths = pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=now - 25 * DAY)
    before = paths.crl.read_bytes()
    other = pki.init_pki(tmp_path / "other", hosts=HOSTS, now=now)
    paths.ca_key.write_bytes(other.ca_key.read_bytes())  # not the key of this CA
    broker = start_broker(tmp_path)
    controller = Controller(tmp_path, broker)
    try:
        controller.start(wait_connected=False)
        status, health = wait_for(
            lambda: (r := controller.get("/healthz", None)) and r[1]["mqtt"] == "connected" and r,
            30,
            "the controller connected",
        )
        assert status == 503
        assert health["status"] == "degraded"
        assert "revocation list expires in 4 days" in health["crl"], health
        assert paths.crl.read_bytes() == before
        assert "cannot sign the revocation list again" in controller.log()
        _, metrics = controller.get("/metrics")
        left = gauge(metrics, "kitkeeper_crl_next_update_timestamp_seconds") - now.timestamp()
        assert 4 * 86400 < left <= 5 * 86400
    finally:
        controller.stop()
        broker.stop()


def broker_log(broker: Broker) -> str:
    """What the broker logged so far."""
    return broker.process.log_path.read_text(errors="replace")


def crl_serials(paths: pki.PkiPaths) -> set[int]:
    """The serials the CRL in place revokes."""
    return {r.serial_number for r in x509.load_pem_x509_crl(paths.crl.read_bytes())}


def gauge(metrics: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus text."""
    line = next(line for line in metrics.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_at_start_up_the_crl_is_signed_again_only_if_it_misses_a_revocation(
    tmp_path: Path, migrated_db: MigratedDb
) -> None:
    """A crash between a revocation's commit and its CRL is made good; a sound CRL is left be."""
    now = datetime.now(UTC)
    paths = pki.init_pki(tmp_path / "pki", hosts=["localhost"], now=now)
    engine, sessions = migrated_db.engine, migrated_db.sessions
    keeper = CrlKeeper(paths=paths, sessions=sessions, broker_dir=tmp_path, metrics=Metrics())
    signed = read_crl_times(paths)
    keeper.keep_fresh(now, starting=True)
    assert read_crl_times(paths) == signed, "a sound CRL is not rewritten (no broker reload)"

    key = generate_key(tmp_path / "kit.key")
    with sessions.begin() as session:
        issued = trust.create_token(session, kit_id="kit-x", paths=paths, now=now, ttl=DAY)
        trust.enroll(
            session,
            token=issued.text,
            csr_pem=make_csr(key, "kit-x").decode(),
            paths=paths,
            now=now,
            days=365,
        )
        (serial,) = trust.set_lifecycle(session, kit_id="kit-x", lifecycle="lost", now=now)
    # ... and the controller died before it wrote the CRL.
    keeper.keep_fresh(now)
    assert int(serial, 16) not in crl_serials(paths), "a running pass judges by dates alone"
    keeper.keep_fresh(now, starting=True)
    assert int(serial, 16) in crl_serials(paths)
    engine.dispose()
