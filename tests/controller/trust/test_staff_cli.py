"""`kitkeeper-controller user disable|enable|password`, in process against a migrated database."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from controller import cli
from controller.platform.audit_table import AuditEntry
from controller.trust import staff
from controller.trust.staff import TOKEN_TTL
from controller.trust.tables import User
from tests.support import MigratedDb

PASSWORD = "a long enough pass phrase 7"


def _user_with_token(db: MigratedDb, username: str, role: str = "teacher") -> str:
    now = datetime.now(UTC)
    with db.sessions.begin() as session:
        user = staff.create_user(session, username=username, password=PASSWORD, role=role, now=now)
        token, _ = staff.issue_token(session, user, now=now, ttl=TOKEN_TTL)
    return token


def _signed_in(db: MigratedDb, token: str) -> bool:
    with db.sessions() as session:
        return staff.authenticate(session, token=token, now=datetime.now(UTC)) is not None


def _actions(db: MigratedDb, username: str) -> list[str]:
    with db.sessions() as session:
        query = select(AuditEntry.action).where(AuditEntry.entity_id == username)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def test_a_password_reset_revokes_every_token_and_holds_to_the_policy(
    migrated_db: MigratedDb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _user_with_token(migrated_db, "reset-me")
    args = ["user", "password", "--username", "reset-me", "--password-stdin"]
    monkeypatch.setattr("sys.stdin", io.StringIO("tooshort\n"))
    assert cli.main([*args, "--db", migrated_db.url]) == 3
    assert "at least 12 characters" in capsys.readouterr().err
    assert _signed_in(migrated_db, token)
    monkeypatch.setattr("sys.stdin", io.StringIO("another long pass phrase\n"))
    assert cli.main([*args, "--db", migrated_db.url]) == 0
    assert "1 token(s) revoked" in capsys.readouterr().out
    assert not _signed_in(migrated_db, token)
    assert _actions(migrated_db, "reset-me")[-1] == "password_reset"


def test_disable_and_enable_from_the_command_line(
    migrated_db: MigratedDb, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _user_with_token(migrated_db, "tech-1", role="technician")
    _user_with_token(migrated_db, "boss", role="admin")
    db = ["--db", migrated_db.url]
    assert cli.main(["user", "disable", "--username", "tech-1", *db]) == 0
    assert "disabled: their tokens are revoked" in capsys.readouterr().out
    assert not _signed_in(migrated_db, token)
    assert cli.main(["user", "enable", "--username", "tech-1", *db]) == 0
    with migrated_db.sessions() as session:
        assert session.scalar(select(User.disabled).where(User.username == "tech-1")) is False
    assert _actions(migrated_db, "tech-1")[-2:] == ["user_disabled", "user_enabled"]
    assert cli.main(["user", "disable", "--username", "nobody", *db]) == 3
    assert cli.main(["user", "disable", "--username", "boss", *db]) == 3  # the last admin
    assert "last enabled admin" in capsys.readouterr().err
