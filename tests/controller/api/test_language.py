"""The language a request is answered in (controller.api.language): ?lang=, Accept-Language, en."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from common.i18n import catalogue
from controller.api.language import from_accept_language, lang_of
from controller.errors import ConflictError


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("kk-KZ", "kk"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en;q=0.5, ru;q=0.8", "ru"),
        ("de-DE, kk;q=0.1", "kk"),
        ("fr, de", None),
        ("ru;q=0, en", "en"),
        ("ru;q=abc, kk;q=0.3", "kk"),
        ("KK_kz", "kk"),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_picks_the_best_supported_language(
    header: str | None, lang: str | None
) -> None:
    assert from_accept_language(header) == lang


def _request(query: str = "", accept: str | None = None) -> Request:
    headers = [(b"accept-language", accept.encode())] if accept else []
    scope = {"type": "http", "query_string": query.encode(), "headers": headers}
    return Request(scope)


def test_the_query_wins_then_the_header_then_english() -> None:
    assert lang_of(_request("lang=kk", "ru-RU")) == "kk"
    assert lang_of(_request("lang=xx", "ru-RU")) == "ru", "an unknown ?lang= is ignored here"
    assert lang_of(_request(accept="ru-RU")) == "ru"
    assert lang_of(_request()) == "en"


def test_detail_follows_the_language_only_when_the_error_carries_messages() -> None:
    class TooShortError(ConflictError):
        domain = "staff"

    error = TooShortError.translated("password.too_short", min=12)
    ru = catalogue("staff").text("password.too_short", "ru", min=12)
    assert error.body_in("ru") == {**error.body(), "detail": ru}
    assert (
        error.body_in("en") == error.body() == {"detail": str(error), "messages": error.messages()}
    )
    assert ConflictError("no such kit").body_in("kk") == {"detail": "no such kit"}
