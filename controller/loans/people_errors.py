"""Refusals about pupils and guardians that the school reads: in Kazakh, Russian and English."""

from __future__ import annotations

from typing import Any, ClassVar

from common.i18n import catalogue
from controller.loans.errors import PeopleError


class PeopleRefusedError(PeopleError):
    """A change to a person refused; `messages` says why in every language (`people.toml`).

    The parameters are references, user names, contract numbers and dates, never a person's
    name, IIN or phone.
    """

    domain: ClassVar[str | None] = "people"

    def __init__(self, key: str, status: int = 409, **params: object) -> None:
        self.key = self.reason = key
        self.params = params
        super().__init__(catalogue("people").text(key, "en", **params), status)
        self.message_key, self.message_params = key, dict(params)  # `messages()`: kk, ru, en

    def body(self) -> dict[str, Any]:
        """`detail` in English, `reason` and `messages` in every language for the pages."""
        return {
            "detail": self.detail(),
            "reason": self.reason,
            "messages": catalogue("people").texts(self.reason, **self.params),
        }
