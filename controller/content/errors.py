"""What the catalogue refuses, each with the HTTP status that fits and a reason code.

Every refusal says itself in kk/ru/en from `common/locale/<lang>/content.toml`; a refused file
also carries `reason` (a stable code a client or an import report can act on: `traversal`,
`bomb`, `wrong_type`, ...).
"""

from __future__ import annotations

from typing import Any, Final

from common.i18n import Lang
from controller.errors import ControllerError

DOMAIN: Final = "content"
"""The catalogue of the content domain's messages (common/locale/<lang>/content.toml)."""


class ContentError(ControllerError):
    """Root of the catalogue's refusals; `status` is the HTTP status that fits."""

    status = 409
    domain = DOMAIN


class ResourceNotFoundError(ContentError):
    """No such resource in the catalogue."""

    status = 404


class ResourceStateError(ContentError):
    """Archiving an archived resource, restoring one that is not, editing an archived one."""

    status = 409


class ContentRefusedError(ContentError):
    """A file or its metadata refused on upload or import; nothing is stored. `reason` is the
    code (`refused.<reason>` in the catalogue says it in each language)."""

    status = 422

    def __init__(self, reason: str, /, **params: object) -> None:
        super().__init__(key=f"refused.{reason}", params=params)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        """The answer with the reason code beside the message."""
        return {**super().body(), "reason": self.reason}

    def body_in(self, lang: Lang) -> dict[str, Any]:
        """The answer in `lang`, with the reason code."""
        return {**super().body_in(lang), "reason": self.reason}


class ContentTooLargeError(ContentRefusedError):
    """A file over its size limit (413)."""

    status = 413
