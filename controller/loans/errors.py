"""What the loans domain refuses, each error with the HTTP status that fits it.

A contract or inventory change refused is a `ContractsError`, said in Kazakh, Russian and English
from the `contracts` catalogue (`refused.*`): `ContractsError.refused(key, status, **params)`. A
parameter may itself be said in each reader's language: a mapping from language to text (`said`
gives one for a key of the catalogue, as a contract's state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from common.i18n import LANGS, Lang, catalogue
from controller.errors import ControllerError


def said(key: str, english: str | None = None) -> dict[Lang, str]:
    """The `contracts` catalogue's `key` in every language; `english` instead of its English
    text where the English sentence names the thing bare (a state as `draft`), and in every
    language when the catalogue has no such key (a value recorded before it had one)."""
    texts = catalogue("contracts")
    if key not in texts.keys("en"):
        return dict.fromkeys(LANGS, english or key)
    words: dict[Lang, str] = texts.texts(key)
    return words if english is None else {**words, "en": english}


def said_state(state: str) -> dict[Lang, str]:
    """A contract's state: bare in English (`draft`, as the API names it), as a phrase in kk and
    ru (`state.*`: "a draft contract")."""
    return said(f"state.{state}", state)


class ContractsError(ControllerError):
    """An inventory or contract change refused; `status` is the HTTP status that fits.

    `refused(key, status, **params)` says it from the `contracts` catalogue in every language
    (a mapping parameter is said in each reader's language); never put a person's name, IIN or
    phone in the parameters.
    """

    domain: ClassVar[str | None] = "contracts"

    def __init__(
        self,
        message: str = "",
        status: int = 409,
        /,
        *,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        """An English `message`, or the catalogue's `key` with its `params` (kk, ru, en)."""
        self.status = status
        if key is None:
            super().__init__(message)
        else:
            super().__init__(key=key, params=params)

    @classmethod
    def refused(cls, key: str, status: int = 409, /, **params: object) -> Self:
        """The refusal `key` of the catalogue, its placeholders filled by `params`."""
        return cls("", status, key=key, params=params)


class PeopleError(ControllerError):
    """A person that cannot be stored or shown as asked; the message says why (409, or 404)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class UnreadableFileError(ControllerError):
    """An imported file that is not UTF-8 text."""

    status = 422


class ImportRefusedError(ControllerError):
    """A file with bad rows imported whole: nothing imported; the answer is the import's report."""

    status = 422

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(f"nothing imported: {len(report['errors'])} rows refused")
        self.report = report

    def body(self) -> dict[str, Any]:
        """The report itself (imported 0, every error), as a partial import answers it."""
        return self.report
