"""A schedule file's line errors in every language (the schedules catalogue, `import.*`).

A line's reason is either one catalogue text (`line_error`) or put together from several, such
as an iCalendar event's name before what is wrong with it, or a contradiction found in the
whole schedule (`said`): each says itself in kk, ru and en (`RowError.messages`), and its
`reason` is the English text, as the command line and the tests read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from common.i18n import LANGS, Lang, catalogue
from controller.errors import InvalidValue
from controller.platform.csvfile import RowError
from controller.schedules.errors import DOMAIN

Say = Callable[[Lang], str]


@dataclass(frozen=True)
class SaidRowError(RowError):
    """A line's error whose reason is said by `say` in any language."""

    say: Say | None = field(default=None, compare=False, repr=False)

    def messages(self) -> dict[Lang, str]:
        """The reason in every language."""
        if self.say is None:
            return super().messages()
        return {lang: self.say(lang) for lang in LANGS}


def text(key: str, /, **params: object) -> Say:
    """`key` of the schedules catalogue in any language; a param that is a `Say` is said too."""

    def say(lang: Lang) -> str:
        filled = {k: v(lang) if callable(v) else v for k, v in params.items()}
        return catalogue(DOMAIN).text(key, lang, **filled)

    return say


def said(row: int, column: str | None, say: Say) -> RowError:
    """The error of a line, said by `say` (its `reason`: English)."""
    return SaidRowError(row, column, say("en"), say=say)


def line_error(row: int, column: str | None, key: str, /, **params: object) -> RowError:
    """The error of a line from the schedules catalogue (a param may be a `Say`)."""
    if any(callable(v) for v in params.values()):
        return said(row, column, text(key, **params))
    reason = catalogue(DOMAIN).text(key, "en", **params)
    return RowError(row, column, reason, key, params, DOMAIN)


def value_error(row: int, column: str | None, exc: ValueError) -> RowError:
    """The error of a cell a parser or validator refused (from its catalogue when it has one)."""
    if isinstance(exc, InvalidValue):
        return RowError(row, column, str(exc), exc.key, exc.params, exc.domain)
    return line_error(row, column, "import.invalid", detail=str(exc))


def reason_of(exc: ValueError) -> Say:
    """What a parser or validator refused, in any language (from its catalogue when it has one)."""
    if isinstance(exc, InvalidValue):
        return exc.text
    return text("import.invalid", detail=str(exc))


def invalid(key: str, /, **params: object) -> InvalidValue:
    """A parser's refusal from the schedules catalogue (a ValueError)."""
    return InvalidValue(DOMAIN, key, **params)
