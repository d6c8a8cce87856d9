"""Certificates at their edges: renewed on the last day, and a way back the day after expiry.

Kits are enrolled today through the real API; broker, controller and agents then run a year on
under libfaketime, so every clock agrees (the controller refuses messages dated a day ahead).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from agent.i18n import LANGS, Lang, t
from agent.identity import expired
from tests.support import (
    Agent,
    Broker,
    Controller,
    connects,
    faketime_env,
    provision_kit,
    start_broker,
    wait_for,
)

AGENT = str(Path(sys.executable).parent / "kitkeeper-agent")
T0 = datetime(2030, 6, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the agent tells a person follows the locale: these tests read it in English."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


@pytest.mark.parametrize("lang", LANGS)
def test_what_to_do_past_expiry_keeps_the_commands_whole_in_every_language(lang: Lang) -> None:
    text = t(
        "certificate.enrolment_needed",
        lang,
        kit_id="kit-h",
        date="2031-06-01 08:00",
        controller="https://school:8443",
        state_dir="/var/lib/kitkeeper",
    )
    assert "`kitkeeper-controller enroll-token create --kit-id kit-h`" in text
    assert (
        "`kitkeeper-agent enroll --controller https://school:8443 --token TOKEN "
        "--state-dir /var/lib/kitkeeper`" in text
    )
    assert "2031-06-01 08:00 UTC" in text


@pytest.mark.parametrize(
    ("now", "past"),
    [(T0 - US, False), (T0, False), (T0 + US, True), (T0 + timedelta(days=60), True)],
)
def test_a_certificate_is_valid_up_to_its_not_after_inclusive(now: datetime, past: bool) -> None:
    assert expired(T0, now) is past


def token(controller: Controller, kit_id: str, env: dict[str, str] | None = None) -> str:
    result = controller.cli("enroll-token", "create", "--kit-id", kit_id, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() + "\n" + result.stderr


def enroll(
    controller: Controller, token_text: str, state_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["enroll", "--controller", controller.url, "--token", token_text.splitlines()[0]]
    return subprocess.run(
        [AGENT, *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env and {**controller.env, **env},
    )


def serial(state_dir: Path) -> int:
    return x509.load_pem_x509_certificate((state_dir / "kit.crt").read_bytes()).serial_number


def restart_at(broker: Broker, controller: Controller, env: dict[str, str]) -> None:
    """Stop both and start them again with another clock."""
    controller.stop()
    broker.stop()
    broker.process.env = env
    controller.env.update(env)
    broker.start()
    controller.start()


@pytest.mark.slow
@pytest.mark.soak  # `make test-slow`: the broker and controller restarted at three dates
@pytest.mark.processes
def test_renewed_on_the_last_day_and_enrolled_again_the_day_after(tmp_path: Path) -> None:
    broker = start_broker(tmp_path)
    controller = Controller(tmp_path, broker).start()
    agents: list[Agent] = []
    try:
        # Today: two kits enrolled by a technician.
        for kit_id in ("kit-r", "kit-h"):
            result = enroll(controller, token(controller, kit_id), tmp_path / f"agent-{kit_id}")
            assert result.returncode == 0, result.stderr
        enrolled_until = datetime.now(UTC) + timedelta(days=365)

        # 364 days on, one day inside the renewal window: renewed over MQTT.
        restart_at(broker, controller, faketime_env("+364d"))
        renewing = Agent(tmp_path, broker, "kit-r", 0.5, False, **faketime_env("+364d")).start()
        agents.append(renewing)
        before = serial(renewing.state_dir)
        wait_for(lambda: serial(renewing.state_dir) != before, 30, "a renewed certificate")
        renewed = x509.load_pem_x509_certificate((renewing.state_dir / "kit.crt").read_bytes())
        assert renewed.not_valid_after_utc > enrolled_until + timedelta(days=360)
        seq = controller.get("/api/v1/kits/kit-r")[1]["last_seq"]
        wait_for(
            lambda: controller.get("/api/v1/kits/kit-r")[1]["last_seq"] > seq + 2,
            20,
            "kit-r reporting with its new certificate",
        )
        renewing.stop()

        # An hour past expiry: the broker refuses the certificate, so no renewal over MQTT;
        # the agent says so once, keeps its outbox filling, and a re-enrolment brings it back.
        later = faketime_env(f"+{365 * 86400 + 3600}")
        restart_at(broker, controller, later)
        holiday = Agent(tmp_path, broker, "kit-h", 0.5, False, **later).start()
        agents.append(holiday)
        wait_for(lambda: "enrolled again" in holiday.log(), 15, "the agent saying what to do")
        assert "enroll-token create --kit-id kit-h" in holiday.log()
        assert f"--controller {controller.url}" in holiday.log()
        assert not connects(broker, holiday.state_dir)
        wait_for(lambda: holiday.last_seq() >= 3, 15, "snapshots kept offline")
        assert holiday.running
        assert "cannot reach broker" not in holiday.log(), "it kept trying a refused certificate"
        assert controller.get("/api/v1/kits/kit-h")[1]["last_seq"] == 0

        made = token(controller, "kit-h", env=later)
        assert "certificate expired" in made, made
        old = serial(holiday.state_dir)
        queued = holiday.last_seq()
        result = enroll(controller, made, holiday.state_dir, env=later)
        assert result.returncode == 0, result.stderr
        assert "enrolled again as kit kit-h" in result.stdout
        assert serial(holiday.state_dir) != old
        kit = wait_for(
            lambda: (
                (k := controller.get("/api/v1/kits/kit-h")[1]) and k["acked_seq"] >= queued and k
            ),
            30,
            "kit-h delivering what it kept while its certificate had expired",
        )
        assert kit["online"] is True
        wait_for(lambda: holiday.outbox_size() < queued, 15, "the kit's outbox draining")
    finally:
        for agent in agents:
            agent.stop()
        controller.stop()
        broker.stop()


@pytest.mark.processes
def test_a_token_for_another_kit_does_not_overwrite_this_kit(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    state = tmp_path / "agent-kit-a"
    assert enroll(controller, token(controller, "kit-a"), state).returncode == 0
    before = serial(state)
    result = enroll(controller, token(controller, "kit-b"), state)
    assert result.returncode == 3
    assert "holds the identity and outbox of kit kit-a" in result.stderr
    assert serial(state) == before


@pytest.mark.slow
@pytest.mark.processes
def test_a_running_kit_enrolled_again_takes_up_its_new_certificate(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    """Re-enrolment revokes the old certificate: the running agent must switch, not lock out."""
    state = tmp_path / "agent-kit-r"
    assert enroll(controller, token(controller, "kit-r"), state).returncode == 0
    agent = Agent(tmp_path, broker, "kit-r", interval=0.3, provision=False).start()
    try:
        reporting = lambda: controller.get("/api/v1/kits/kit-r")[1].get("last_seq", 0)  # noqa: E731
        wait_for(lambda: reporting() >= 2, 20, "kit-r reporting")
        old = serial(state)
        result = enroll(controller, token(controller, "kit-r"), state)
        assert result.returncode == 0, result.stderr
        assert serial(state) != old
        wait_for(lambda: "enrolled again" in agent.log(), 15, "the agent taking up the new one")
        broker.stop()  # every connection drops; the old certificate could no longer come back
        broker.start()
        seq = reporting()
        wait_for(lambda: reporting() > seq + 3, 30, "kit-r reporting with its new certificate")
    finally:
        agent.stop()


@pytest.mark.slow
@pytest.mark.processes
def test_a_kit_whose_clock_runs_two_days_ahead_still_reports_and_is_flagged(
    tmp_path: Path, broker: Broker, controller: Controller
) -> None:
    """Its own clock calls its certificate expired; the broker, on the right time, does not."""
    state = tmp_path / "agent-kit-fast"
    provision_kit(broker.pki, state, "kit-fast", not_after=datetime.now(UTC) + timedelta(days=1))
    agent = Agent(
        tmp_path,
        broker,
        "kit-fast",
        interval=0.5,
        provision=False,
        KITKEEPER_EXPIRED_PROBE_INTERVAL="2",
        **faketime_env("+2d"),
    ).start()
    try:
        wait_for(lambda: "expired on" in agent.log(), 20, "the agent saying its clock's verdict")
        wait_for(
            lambda: controller.get("/api/v1/kits/kit-fast")[1].get("last_seq", 0) >= 3,
            30,
            "the kit reporting all the same",
        )
        wait_for(
            lambda: "the broker accepts the certificate this kit's clock calls" in agent.log(),
            10,
            "the agent noticing its clock was what was wrong",
        )
        kit = controller.get("/api/v1/kits/kit-fast")[1]
        skew = [e for e in kit["events"] if e["kind"] == "clock_skew"]
        assert skew, "the wrong clock is flagged"
        assert skew[0]["message"].startswith("the kit's clock is 2 d")
        assert skew[0]["message"].endswith("ahead of the controller's")
        latest = datetime.fromisoformat(kit["last_seen_at"])
        assert abs(latest - datetime.now(UTC)) < timedelta(minutes=5), "kept with our time"
    finally:
        agent.stop()
