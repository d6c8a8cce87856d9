"""What the agent says to pupils and parents: the `agent` catalogue in `common/locale/`."""

from __future__ import annotations

from common.i18n import LANGS as LANGS
from common.i18n import Lang as Lang
from common.i18n import catalogue
from common.i18n import default_lang as default_lang

DOMAIN = "agent"


def t(code: str, lang: Lang, **params: object) -> str:
    """The message `code` in `lang`, with its parameters filled in (decimal comma in kk, ru)."""
    return catalogue(DOMAIN).text(code, lang, **params)
