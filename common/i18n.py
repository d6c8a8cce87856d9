"""Texts people read, in Kazakh, Russian and English, from message catalogues.

One scheme for the agent, the controller and the pages: a catalogue per domain and language in
`common/locale/<lang>/<domain>.toml`, a flat table from a message key to its text, with `{name}`
placeholders filled by `str.format`. Every language has every key with the same placeholders
(`tests/common/test_i18n.py` checks each catalogue). Kolibri keeps its texts in
`locale/<lang>/LC_MESSAGES/` the same way; TOML reads without a compile step and keeps Kazakh
and Russian text readable in review.

    >>> catalogue("doctor").text("camera.ok", "kk", name="C270")
    'Камера табылды: C270'
"""

from __future__ import annotations

import functools
import os
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal, get_args

Lang = Literal["kk", "ru", "en"]
LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"


class CatalogueError(Exception):
    """A catalogue that is missing, unreadable, or not a flat table of texts."""


class Catalogue:
    """One domain's texts in every language."""

    def __init__(self, domain: str, texts: Mapping[Lang, Mapping[str, str]]) -> None:
        self.domain = domain
        self._texts = texts

    def keys(self, lang: Lang) -> set[str]:
        """The message keys `lang` has."""
        return set(self._texts[lang])

    def raw(self, key: str, lang: Lang) -> str:
        """The text of `key` in `lang`, placeholders unfilled."""
        try:
            return self._texts[lang][key]
        except KeyError:
            raise KeyError(f"{self.domain}: no message {key!r} in {lang}") from None

    def text(self, key: str, lang: Lang, /, **params: object) -> str:
        """The text of `key` in `lang`, placeholders filled (a decimal comma in kk and ru)."""
        if lang != "en":
            params = {
                k: str(v).replace(".", ",") if isinstance(v, float) else v
                for k, v in params.items()
            }
        return self.raw(key, lang).format(**params)

    def texts(self, key: str, /, **params: object) -> dict[Lang, str]:
        """The text of `key` in every language (kk, ru, en), as an answer's `messages`."""
        return {lang: self.text(key, lang, **params) for lang in LANGS}

    def gettext(self, lang: Lang) -> _Translator:
        """A `gettext`-like callable for templates: `_("key", name=...)`."""
        return _Translator(self, lang)


class _Translator:
    def __init__(self, catalogue: Catalogue, lang: Lang) -> None:
        self._catalogue = catalogue
        self._lang: Lang = lang

    def __call__(self, key: str, /, **params: object) -> str:
        return self._catalogue.text(key, self._lang, **params)


def placeholders(text: str) -> set[str]:
    """The `{name}` placeholders a text uses."""
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def _read(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    bad = sorted(k for k, v in data.items() if not isinstance(v, str))
    if bad:
        raise CatalogueError(f"{path}: not a text: {', '.join(bad)}")
    return data


@functools.cache
def catalogue(domain: str, locale_dir: Path = LOCALE_DIR) -> Catalogue:
    """The catalogue of `domain` (read once per process)."""
    return Catalogue(domain, {lang: _read(locale_dir / lang / f"{domain}.toml") for lang in LANGS})


def domains(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Every catalogue there is (by the English files)."""
    return sorted(p.stem for p in (locale_dir / "en").glob("*.toml"))


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """The user's language from LC_ALL / LC_MESSAGES / LANG (kk_KZ → kk, ru_RU → ru), else en."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")[:2].lower()
        for lang in LANGS:
            if value == lang:
                return lang
    return "en"
