"""Every catalogue: every language has every key, with the same placeholders, in its own script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.i18n import LANGS, Catalogue, CatalogueError, catalogue, domains, placeholders

DOMAINS = domains()


def test_there_are_catalogues() -> None:
    assert "agent" in DOMAINS


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_language_has_every_key(domain: str) -> None:
    texts = catalogue(domain)
    keys = {lang: texts.keys(lang) for lang in LANGS}
    everything = set().union(*keys.values())
    missing = {lang: sorted(everything - have) for lang, have in keys.items() if everything - have}
    assert missing == {}


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_translation_has_the_same_placeholders(domain: str) -> None:
    texts = catalogue(domain)
    differ = [
        key
        for key in texts.keys("en")
        if len({frozenset(placeholders(texts.raw(key, lang))) for lang in LANGS}) != 1
    ]
    assert differ == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_kazakh_and_russian_texts_are_not_left_in_english(domain: str) -> None:
    """A kk or ru text with Latin words only (beyond placeholders and codes) is untranslated."""
    texts = catalogue(domain)
    untranslated = []
    for lang in ("kk", "ru"):
        for key in texts.keys(lang):
            text = re.sub(r"{\w+}", "", texts.raw(key, lang))
            words = re.findall(r"[^\W\d_]{4,}", text)
            if words and not any(re.search("[а-яёәғқңөұүһі]", w, re.I) for w in words):
                untranslated.append(f"{lang}:{key}")
    assert untranslated == []


def test_a_text_is_filled_with_a_decimal_comma_in_kazakh_and_russian() -> None:
    texts = Catalogue("t", {"kk": {"x": "{v} мс"}, "ru": {"x": "{v} мс"}, "en": {"x": "{v} ms"}})
    assert texts.text("x", "kk", v=1.5) == "1,5 мс"
    assert texts.text("x", "en", v=1.5) == "1.5 ms"
    assert texts.gettext("ru")("x", v=2.25) == "2,25 мс"


def test_an_unknown_key_names_the_catalogue_and_the_language() -> None:
    with pytest.raises(KeyError, match="agent: no message 'nope' in kk"):
        catalogue("agent").text("nope", "kk")


def test_a_broken_catalogue_is_refused_with_its_path(tmp_path: Path) -> None:
    for lang in LANGS:
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "x.toml").write_text('a = "ok"\n', encoding="utf-8")
    (tmp_path / "ru" / "x.toml").write_text("a = [1]\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not a text: a"):
        catalogue("x", tmp_path)
