"""The API's own refusals: who is signed in and in which role, said in the reader's language.

Domain errors (`controller.errors.ControllerError`), so the one handler answers them with
`detail` in the request's language and `messages` in kk/ru/en (the `api` catalogue).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

from common.i18n import LANGS, Lang, catalogue
from controller.errors import ControllerError

DOMAIN: Final = "api"


class SignInRequiredError(ControllerError):
    """No valid token or session (401)."""

    status = 401
    domain = DOMAIN
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}

    def __init__(self) -> None:
        super().__init__(key="auth.sign_in")


class RoleRequiredError(ControllerError):
    """Signed in, but in a role that may not do this (403); the roles named in each language."""

    status = 403
    domain = DOMAIN

    def __init__(self, allowed: Iterable[str], role: str) -> None:
        self.allowed = sorted(allowed)
        self.role = role
        super().__init__(self.say("en"))

    def say(self, lang: Lang) -> str:
        """The refusal in `lang`."""
        texts = catalogue(DOMAIN)
        roles = f" {texts.text('or', lang)} ".join(self._role(r, lang) for r in self.allowed)
        return texts.text("auth.role", lang, roles=roles, role=self._role(self.role, lang))

    @staticmethod
    def _role(role: str, lang: Lang) -> str:
        key = f"role.{role}"
        texts = catalogue(DOMAIN)
        return texts.text(key, lang) if key in texts.keys(lang) else role

    def messages(self) -> dict[Lang, str]:
        """The refusal in Kazakh, Russian and English."""
        return {lang: self.say(lang) for lang in LANGS}
