"""Enrolment tokens expire exactly when they say, and say it the way they enforce it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent.identity import generate_key, make_csr
from controller import cli
from controller.fleet.tables import Kit
from controller.platform.audit_table import AuditEntry
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.tables import EnrollToken
from tests.support import HOSTS, MigratedDb

US = timedelta(microseconds=1)


@pytest.fixture
def paths(tmp_path: Path) -> pki.PkiPaths:
    return pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))


@pytest.fixture
def db(migrated_db: MigratedDb) -> str:
    return migrated_db.url


@pytest.fixture
def sessions(migrated_db: MigratedDb) -> sessionmaker[Session]:
    return migrated_db.sessions


@pytest.mark.parametrize(
    ("now", "ttl", "expires"),
    [
        ("2030-01-01T10:00:00.000000", 24, "2030-01-02T10:00:00"),
        ("2030-01-01T10:00:00.999999", 24, "2030-01-02T10:00:00"),  # cut, never lengthened
        ("2030-01-01T10:00:00.500000", 0.0003, "2030-01-01T10:00:01"),  # 1.08 s
        ("2030-12-31T23:59:59.000001", 1 / 3600, "2031-01-01T00:00:00"),  # over the year
    ],
)
def test_a_token_expires_at_a_whole_second(now: str, ttl: float, expires: str) -> None:
    made = datetime.fromisoformat(now).replace(tzinfo=UTC)
    expires_at = trust.token_expiry(made, timedelta(hours=ttl))
    assert expires_at == datetime.fromisoformat(expires).replace(tzinfo=UTC)
    assert expires_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("offset", "refused"),
    [(-timedelta(hours=1), False), (-US, False), (timedelta(0), True), (US, True)],
)
def test_a_token_works_until_the_microsecond_before_it_expires(
    tmp_path: Path,
    paths: pki.PkiPaths,
    sessions: sessionmaker[Session],
    offset: timedelta,
    refused: bool,
) -> None:
    made = datetime.now(UTC)
    with sessions.begin() as session:
        issued = trust.create_token(
            session, kit_id="kit-t", paths=paths, now=made, ttl=timedelta(hours=1)
        )
    with sessions() as session:  # read back from SQLite, which keeps no time zone
        stored = session.scalars(select(EnrollToken.expires_at)).one()
    assert stored == issued.expires_at
    assert stored.tzinfo is not None
    csr = make_csr(generate_key(tmp_path / "kit.key"), "kit-t").decode()

    def attempt() -> str:
        with sessions.begin() as session:
            kit_id, _, _ = trust.enroll(
                session,
                token=issued.text,
                csr_pem=csr,
                paths=paths,
                now=issued.expires_at + offset,
                days=365,
            )
        return kit_id

    if not refused:
        assert attempt() == "kit-t"
        return
    with pytest.raises(trust.TrustError) as caught:
        attempt()
    assert caught.value.kind is trust.TrustErrorKind.TOKEN_EXPIRED
    assert trust.instant(issued.expires_at) in str(caught.value)


def test_the_cli_shows_the_instant_the_controller_enforces(
    db: str,
    paths: pki.PkiPaths,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["enroll-token", "create", "--kit-id", "kit-c", "--hours", "2", "--db", db]
    code = cli.main([*args, "--pki-dir", str(paths.root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = re.search(r"valid until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", err)
    assert shown is not None, err
    with sessions() as session:
        stored = session.scalars(select(EnrollToken.expires_at)).one()
        audited = session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == "enroll_token_created")
        ).one()
    assert stored == datetime.fromisoformat(shown[1]).replace(tzinfo=UTC)
    assert audited is not None
    assert datetime.fromisoformat(audited["expires_at"]) == stored
    assert out.strip().startswith("kit-c:")
    assert "certificate" not in err, "a kit never enrolled has no certificate to replace"


def test_marking_a_mistyped_kit_is_refused_and_creates_no_kit(
    db: str,
    paths: pki.PkiPaths,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`kit mark` on a kit id nobody recorded says so (it used to create a phantom kit)."""
    code = cli.main(
        ["kit", "mark", "--kit-id", "kit-typo", "lost", "--db", db, "--pki-dir", str(paths.root)]
    )
    _, err = capsys.readouterr()
    assert code != 0
    assert "no kit 'kit-typo'" in err
    with sessions() as session:
        assert session.get(Kit, "kit-typo") is None
        with pytest.raises(trust.TrustError) as caught:
            trust.set_lifecycle(
                session, kit_id="kit-typo", lifecycle="retired", now=datetime.now(UTC)
            )
    assert caught.value.status == 404
