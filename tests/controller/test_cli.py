"""The controller's command line: clear refusals, secure by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes

CONTROLLER = str(Path(sys.executable).parent / "kitkeeper-controller")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONTROLLER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_serve_refuses_to_run_without_a_device_ca(tmp_path: Path) -> None:
    result = run("serve", "--db", f"sqlite:///{tmp_path}/k.db", "--pki-dir", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "no device CA" in result.stderr
    assert "pki init" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_rules_it_cannot_use_and_says_where(tmp_path: Path) -> None:
    assert run("pki", "init", "--pki-dir", str(tmp_path / "pki")).returncode == 0
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{id: x, when: [], ladder: [{action: technician}]}]\n")
    result = run(
        "serve",
        "--db",
        f"sqlite:///{tmp_path}/k.db",
        "--pki-dir",
        str(tmp_path / "pki"),
        env={"KITKEEPER_RULES_PATH": str(rules)},
    )
    assert result.returncode == 2, result.stderr
    assert "rules: rules.0.when" in result.stderr
    assert "Traceback" not in result.stderr


def test_pki_init_twice_is_refused_and_keeps_the_ca(tmp_path: Path) -> None:
    assert run("pki", "init", "--pki-dir", str(tmp_path / "pki")).returncode == 0
    before = (tmp_path / "pki" / "ca.key").read_bytes()
    again = run("pki", "init", "--pki-dir", str(tmp_path / "pki"))
    assert again.returncode == 3
    assert "already" in again.stderr
    assert (tmp_path / "pki" / "ca.key").read_bytes() == before


def test_broker_config_writes_tls_acl_and_crl(tmp_path: Path) -> None:
    assert run("pki", "init", "--pki-dir", str(tmp_path / "pki")).returncode == 0
    result = run(
        "broker-config",
        "--pki-dir",
        str(tmp_path / "pki"),
        "--out",
        str(tmp_path / "broker"),
        "--db",
        f"sqlite:///{tmp_path}/k.db",
    )
    assert result.returncode == 0, result.stderr
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    for line in (
        "require_certificate true",
        "use_identity_as_username true",
        "crlfile",
        "acl_file",
    ):
        assert line in conf
    assert "allow_anonymous false" in conf
    assert "max_queued_messages 1000000" in conf
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "pattern write kits/%u/telemetry" in acl
    assert "pattern read kits/%u/cmd" in acl
    assert "pattern write kits/%u/cmd" not in acl


def test_broker_config_without_a_ca_is_a_clear_error(tmp_path: Path) -> None:
    result = run("broker-config", "--pki-dir", str(tmp_path / "none"), "--out", str(tmp_path / "b"))
    assert result.returncode == 2
    assert "pki init" in result.stderr


def test_enroll_token_for_a_bad_kit_id_is_refused(tmp_path: Path) -> None:
    assert run("pki", "init", "--pki-dir", str(tmp_path / "pki")).returncode == 0
    result = run(
        "enroll-token",
        "create",
        "--kit-id",
        "bad/id",
        "--db",
        f"sqlite:///{tmp_path}/k.db",
        "--pki-dir",
        str(tmp_path / "pki"),
    )
    assert result.returncode in (2, 3)
    assert "kit id" in result.stderr


def test_import_with_a_bad_row_imports_nothing_unless_partial(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/k.db"
    (tmp_path / "k.csv").write_text(
        "kit_id,profile,lifecycle\nkit-a,base,active\nkit-b,base,active\n"
    )
    kits = run("import", "kits", str(tmp_path / "k.csv"), "--db", db)
    assert "2 kits imported (2 created, 0 updated, 0 unchanged)" in kits.stdout, kits.stderr
    (tmp_path / "c.csv").write_text(
        "serial,kind,model,condition,kit_id\nS1,webcam,C270,good,kit-a\nS1,webcam,C270,good,kit-b\n"
        "S2,headset,H390,good,kit-a\n"
    )
    refused = run("import", "components", str(tmp_path / "c.csv"), "--db", db)
    assert refused.returncode == 3
    assert "line 3" in refused.stderr
    assert "nothing imported" in refused.stderr
    partial = run("import", "components", str(tmp_path / "c.csv"), "--partial", "--db", db)
    assert partial.returncode == 0
    assert "2 components imported" in partial.stdout


@pytest.mark.parametrize("hours", ["0", "-1", "8761", "1e300", "nan", "inf"])
def test_an_enrolment_token_lives_more_than_nothing_and_at_most_a_year(
    tmp_path: Path, hours: str
) -> None:
    assert run("pki", "init", "--pki-dir", str(tmp_path / "pki")).returncode == 0
    result = run(
        "enroll-token",
        "create",
        "--kit-id",
        "kit-1",
        "--hours",
        hours,
        "--db",
        f"sqlite:///{tmp_path}/k.db",
        "--pki-dir",
        str(tmp_path / "pki"),
    )
    assert result.returncode == 2, result.stderr
    assert "--hours must be more than 0 and at most 8760 (a year)" in result.stderr
    assert "Traceback" not in result.stderr
