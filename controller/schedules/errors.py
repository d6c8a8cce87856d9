"""What the schedule functions refuse, each with the HTTP status that fits and what it answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from common.i18n import Lang, catalogue
from controller.errors import ControllerError
from controller.platform.csvfile import RowError

DOMAIN: Final = "schedules"
"""The catalogue of the schedules' messages (common/locale/<lang>/schedules.toml)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a schedule; `parts` are the (list, index) it concerns."""

    parts: tuple[tuple[str, int], ...]
    message: str
    """In English (the command line, an import's line)."""
    say: Callable[[Lang], str] | None = field(default=None, compare=False, repr=False)
    """The message in any language (None: English only)."""

    def text(self, lang: Lang) -> str:
        """The message in `lang`."""
        return self.say(lang) if self.say is not None else self.message

    @property
    def where(self) -> str:
        """E.g. "slots[0], slots[2]"."""
        return ", ".join(f"{name}[{index}]" for name, index in self.parts)

    def as_dict(self, lang: Lang = "en") -> dict[str, Any]:
        """For a JSON error report, in `lang`."""
        return {"where": self.where, "message": self.text(lang)}


class ScheduleError(ControllerError):
    """A schedule change or look-up refused; `status` is the HTTP status that fits. Raised with
    `translated(key, ...)` it says why in kk/ru/en (`refused.*` in the schedules catalogue)."""

    status = 409
    domain = DOMAIN


class ScheduleNotFoundError(ScheduleError):
    """No such pupil, kit or schedule."""

    status = 404


class LessonRangeError(ScheduleError):
    """A range of lessons asked for that ends before it starts, or is too long."""

    status = 422


class ScheduleInvalidError(ScheduleError):
    """A schedule that contradicts itself: overlapping lessons, a cancelled lesson that is not."""

    status = 422

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in problems))
        self.problems = list(problems)

    def detail(self, lang: Lang = "en") -> dict[str, Any]:
        """Each problem and where it is, in `lang`."""
        return {
            "message": catalogue(DOMAIN).text("invalid.message", lang),
            "problems": [p.as_dict(lang) for p in self.problems],
        }

    def body_in(self, lang: Lang) -> dict[str, Any]:
        """The problems said in `lang`."""
        return {"detail": self.detail(lang)}


class ScheduleImportError(ScheduleError):
    """A file that cannot be read as a schedule; `errors` name the line and the field."""

    status = 422

    def __init__(self, errors: Sequence[RowError], file_format: str) -> None:
        super().__init__(
            "; ".join(
                f"line {e.row}, {e.column}: {e.reason}"
                if e.row and e.column
                else f"line {e.row}: {e.reason}"
                if e.row
                else e.reason
                for e in errors
            )
        )
        self.errors = list(errors)
        self.file_format = file_format

    def detail(self) -> str:
        """How many errors, in which kind of file; `body` lists them."""
        return str(self.messages()["en"])

    def messages(self) -> dict[Lang, str]:
        """How many errors, in which kind of file, in kk, ru and en."""
        return catalogue(DOMAIN).texts(
            "import.nothing", count=len(self.errors), format=self.file_format
        )

    def body(self) -> dict[str, Any]:
        """The detail and every error with its line (none for an iCalendar file), column and
        reason (English), and both in every language (`messages`)."""
        return {
            "detail": self.detail(),
            "messages": self.messages(),
            "errors": [
                {
                    "row": e.row or None,
                    "column": e.column,
                    "reason": e.reason,
                    "messages": e.messages(),
                }
                for e in self.errors
            ],
        }

    def body_in(self, lang: Lang) -> dict[str, Any]:
        """`body()` with the detail and each reason in `lang`."""
        body = self.body()
        if lang == "en":
            return body
        errors = [{**e, "reason": e["messages"][lang]} for e in body["errors"]]
        return {**body, "detail": body["messages"][lang], "errors": errors}


class ScheduleTooLargeError(ScheduleImportError):
    """A schedule or a file past a limit (`limits`), refused before anything is expanded.

    The reason is in English (`str`, the CLI); the answer adds it in every language
    (`messages`: kk, ru, en) from the `schedules` catalogue.
    """

    status = 422

    def __init__(self, key: str, *, column: str | None = None, **params: object) -> None:
        self.key = key
        self.params = params
        reason = catalogue(DOMAIN).text(key, "en", **params)
        super().__init__([RowError(0, column, reason, key, params, DOMAIN)], "schedule")

    def messages(self) -> dict[Lang, str]:
        """The reason in Kazakh, Russian and English."""
        return catalogue(DOMAIN).texts(self.key, **self.params)

    def detail(self) -> str:
        """The reason, in English."""
        return str(self)

    def body(self) -> dict[str, Any]:
        """The reason as every import error is, and in each language (`messages`)."""
        return {**super().body(), "detail": self.detail(), "messages": self.messages()}

    def body_in(self, lang: Lang) -> dict[str, Any]:
        """`body()` with the reason in `lang`."""
        body = super().body_in(lang)
        return body if lang == "en" else {**body, "detail": self.messages()[lang]}
