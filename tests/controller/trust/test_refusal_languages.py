"""Enrolment and renewal refusals say themselves in Kazakh, Russian and English (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agent.identity import generate_key, make_csr
from controller.api.routes import docs
from controller.trust import enrolment as trust
from controller.trust import pki
from controller.trust.refusals import RouteRefusedError
from tests.support import HOSTS, MigratedDb


@pytest.fixture
def paths(tmp_path: Path) -> pki.PkiPaths:
    return pki.init_pki(tmp_path / "pki", hosts=HOSTS, now=datetime.now(UTC))


def test_enrolment_refusals_are_said_in_every_language(
    tmp_path: Path, paths: pki.PkiPaths, migrated_db: MigratedDb
) -> None:
    sessions: sessionmaker[Session] = migrated_db.sessions
    now = datetime.now(UTC)
    with sessions.begin() as session:
        issued = trust.create_token(
            session, kit_id="kit-l", paths=paths, now=now, ttl=timedelta(hours=1)
        )
    other_csr = make_csr(generate_key(tmp_path / "other.key"), "kit-other").decode()

    def refusal(token: str, csr: str, at: datetime) -> trust.TrustError:
        with pytest.raises(trust.TrustError) as caught, sessions.begin() as session:
            trust.enroll(session, token=token, csr_pem=csr, paths=paths, now=at, days=365)
        return caught.value

    unknown = refusal("kit-l:nope:pin", other_csr, now)
    assert str(unknown) == "unknown enrolment token", "English as before"
    assert unknown.body_in("ru") == {
        "detail": "неизвестный токен регистрации",
        "messages": unknown.messages(),
    }
    assert unknown.body_in("kk")["detail"] == "белгісіз тіркеу токені"

    expired = refusal(issued.text, other_csr, issued.expires_at)
    at = trust.instant(issued.expires_at)
    assert str(expired) == f"this enrolment token expired at {at}; create a new one"
    assert (
        expired.body_in("ru")["detail"]
        == f"срок этого токена регистрации истёк {at}; создайте новый"
    )

    wrong_kit = refusal(issued.text, other_csr, now)
    assert wrong_kit.kind is trust.TrustErrorKind.BAD_REQUEST
    assert str(wrong_kit) == (
        "the certificate request's common name 'kit-other' does not match kit id 'kit-l'"
    )
    messages = wrong_kit.messages()
    assert messages is not None
    assert messages["kk"] == (
        "сертификат сұрауының жалпы атауы 'kit-other' жинақ коды 'kit-l' сәйкес келмейді"
    )


def test_an_unknown_kit_state_is_refused_in_every_language(migrated_db: MigratedDb) -> None:
    with pytest.raises(trust.TrustError) as caught, migrated_db.sessions.begin() as session:
        trust.set_lifecycle(session, kit_id="kit-x", lifecycle="gone", now=datetime.now(UTC))
    assert str(caught.value).startswith("unknown kit state 'gone'; one of ")
    messages = caught.value.messages()
    assert messages is not None
    assert messages["ru"].startswith("неизвестное состояние комплекта 'gone'; допустимы: ")


def test_the_routes_own_refusals_are_said_in_every_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "odd.js").write_text("changed")
    monkeypatch.setattr(docs, "ASSETS", {"odd.js": ("0" * 64, "text/javascript")})
    monkeypatch.setattr(docs, "_static_dir", lambda: tmp_path)
    docs.asset_bytes.cache_clear()
    with pytest.raises(RouteRefusedError) as caught:
        docs.asset_bytes("odd.js")
    assert caught.value.status == 503
    assert str(caught.value) == "odd.js is not the file this version expects"
    assert (
        caught.value.body_in("ru")["detail"] == "odd.js — не тот файл, который ожидает эта версия"
    )
    quota = RouteRefusedError(
        429, "route.probe_quota", headers={"Retry-After": "7"}, count=5, seconds="60"
    )
    assert str(quota) == "a kit may probe 5 times in 60 seconds"
    assert quota.headers == {"Retry-After": "7"}
    assert RouteRefusedError.headers is None, "the class keeps none"
    assert quota.body_in("kk")["detail"] == "жинақ байланысты 60 с ішінде 5 рет тексере алады"
