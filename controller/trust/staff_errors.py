"""Staff accounts' errors: one family, so that the command line answers each with exit code 3."""

from __future__ import annotations

from typing import Any

from common.i18n import catalogue
from controller.errors import ControllerError


class AuthError(ControllerError):
    """Sign-in refused (or, as a child, a change to a member of staff refused); raised with
    `translated(key, ...)` it says why in kk/ru/en (the staff catalogue)."""

    status = 401
    domain = "staff"


class InvalidUserError(AuthError):
    """A member of staff that cannot be created as asked (taken name, unknown role...)."""

    status = 422


class PasswordPolicyError(InvalidUserError):
    """A new password that is too weak; says why in Kazakh, Russian and English."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(catalogue("staff").text(key, "en", **params))

    def body(self) -> dict[str, Any]:
        """`detail` in English, `reason` and `messages` in every language for the pages."""
        return {
            "detail": self.detail(),
            "reason": self.key,
            "messages": catalogue("staff").texts(self.key, **self.params),
        }


class WrongPasswordError(AuthError):
    """The current password given to change it is wrong (the token itself is fine)."""

    status = 403


class UnknownUserError(AuthError):
    """No member of staff by that name."""

    status = 404


class LastAdminError(AuthError):
    """The last enabled admin cannot be disabled (nobody could manage the others then)."""

    status = 409
