"""The agent shows the controller's enrolment refusal in the technician's language (issue 13)."""

from __future__ import annotations

import io
import json
import urllib.error
from email.message import Message

import pytest

from agent import enroll

MESSAGES = {
    "kk": "белгісіз тіркеу токені",
    "ru": "неизвестный токен регистрации",
    "en": "unknown enrolment token",
}


def answer(body: object) -> urllib.error.HTTPError:
    raw = io.BytesIO(json.dumps(body).encode())
    return urllib.error.HTTPError("https://c/api/v1/enroll", 401, "Unauthorized", Message(), raw)


@pytest.mark.parametrize(("lang", "expected"), [("ru_RU.UTF-8", "ru"), ("kk_KZ.UTF-8", "kk")])
def test_a_refusal_is_shown_in_the_agents_language(
    monkeypatch: pytest.MonkeyPatch, lang: str, expected: str
) -> None:
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", lang)
    body = {"detail": MESSAGES["en"], "messages": MESSAGES}
    assert enroll._refusal(answer(body)) == MESSAGES[expected]


def test_a_refusal_without_messages_shows_its_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "ru_RU.UTF-8")
    assert enroll._refusal(answer({"detail": "no such thing"})) == "no such thing"
    assert enroll._refusal(answer(["odd"])) == "Unauthorized"
