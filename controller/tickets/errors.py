"""The root of what the tickets domain refuses: said in kk/ru/en from common/locale/*/tickets.toml.

A parameter may itself be said in each reader's language: `Said(key)` names another key of the
tickets catalogue (a state, a kind, why a step is refused), and a mapping from language to text
(`ControllerError.messages()` of an error from another domain) gives each language its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from common.i18n import Lang, catalogue
from controller.errors import ControllerError


@dataclass(frozen=True)
class Said:
    """A parameter that is a key of the tickets catalogue, said in the reader's language."""

    key: str

    def say(self, lang: Lang) -> str:
        """The key's text in `lang` (`ControllerError` fills a parameter with it)."""
        return catalogue("tickets").text(self.key, lang)


class TicketsError(ControllerError):
    """A ticket change refused, said in every language; `status` is the HTTP status that fits.

    `reason` is the catalogue key (`error.*`, `move.*`; a refused step says why more broadly,
    `TicketTransitionError.reason`); never put a person's name, IIN or phone
    in the parameters.
    """

    domain: ClassVar[str | None] = "tickets"

    def __init__(self, key: str, status: int = 409, /, **params: object) -> None:
        """The refusal `key` of the tickets catalogue, its placeholders filled by `params`."""
        self.reason: str = key
        super().__init__(key=key, params=params)
        self.status = status

    def body(self) -> dict[str, Any]:
        """`detail` in English, `reason` and `messages` in every language for the pages."""
        return {"detail": self.detail(), "reason": self.reason, "messages": self.messages()}
