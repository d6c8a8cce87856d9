"""The language a request is answered in: `?lang=`, else Accept-Language, else English.

    @router.get("/things")
    def things(lang: RequestLang) -> ...:
        return catalogue("things").text("key", lang)

`?lang=kk|ru|en` wins (a link can carry it); otherwise the Accept-Language header's best
supported language by its q-values ("kk-KZ" is kk, "ru-RU;q=0.8" is ru); otherwise English, so
clients that ask for nothing read what they always did. The error handler
(`controller.api.errors`) uses the same choice for `detail`.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Query, Request

from common.i18n import LANGS, Lang

DEFAULT_LANG: Final[Lang] = "en"


def _supported(tag: str) -> Lang | None:
    """The language of one language tag ("kk-KZ" → kk, "RU" → ru), if supported."""
    primary = tag.strip().split("-", 1)[0].split("_", 1)[0].lower()
    for lang in LANGS:
        if primary == lang:
            return lang
    return None


def _quality(params: list[str]) -> float:
    """The q-value among one entry's parameters (1 when absent, 0 when unreadable)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def from_accept_language(header: str | None) -> Lang | None:
    """The supported language the header prefers most (first listed wins a tie), if any."""
    if not header:
        return None
    best: tuple[float, int, Lang] | None = None
    for position, entry in enumerate(header.split(",")):
        tag, *params = entry.split(";")
        lang = _supported(tag)
        q = _quality(params)
        if lang is None or q <= 0:
            continue
        rank = (q, -position, lang)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2] if best else None


def lang_of(request: Request) -> Lang:
    """The language to answer `request` in (also for the error handlers, outside a route)."""
    asked = request.query_params.get("lang")
    if asked:
        lang = _supported(asked)
        if lang is not None:
            return lang
    return from_accept_language(request.headers.get("accept-language")) or DEFAULT_LANG


def request_lang(
    request: Request,
    lang: Annotated[
        str | None,
        Query(
            description="The language of texts in the answer: kk, ru or en (another value is "
            "ignored: then Accept-Language, else en).",
        ),
    ] = None,
) -> Lang:
    """FastAPI dependency: the language to answer in (`?lang=`, Accept-Language, en), the same
    choice as `lang_of` (which the error handlers use): a language not supported is ignored."""
    return lang_of(request)


RequestLang = Annotated[Lang, Depends(request_lang)]
"""A route parameter holding the request's language: `def route(lang: RequestLang)`."""
