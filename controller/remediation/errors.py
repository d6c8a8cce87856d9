"""What the remediation service refuses, each with the HTTP status that fits.

Each refusal is said in kk/ru/en from common/locale/*/remediation.toml (`error.*` keys):
`RemediationNotFoundError.translated("error.no_kit", kit_id=...)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from controller.errors import ConflictError, ControllerError, NotFoundError


class RemediationError(ControllerError):
    """A technician's action on the ladder refused; `status` is the HTTP status that fits."""

    status = 409
    domain: ClassVar[str | None] = "remediation"


class RemediationNotFoundError(RemediationError, NotFoundError):
    """No such kit, incident, playbook run, playbook or diagnostics (or not uploaded yet)."""

    status = 404


class RemediationConflictError(RemediationError, ConflictError):
    """Refused by the state of the incident or of the pupil's lessons."""

    status = 409


class LessonConflictError(RemediationConflictError):
    """A disruptive run asked for now, during a lesson or its guard time."""

    def __init__(self, window: datetime, key: str, /, **params: object) -> None:
        """The refusal `key` of the remediation catalogue, and when the next free window starts."""
        super().__init__(key=key, params=params)
        self.window = window
        """When the next free window starts."""


class RunRequestError(RemediationError):
    """A run asked for in a way that contradicts itself (forced, but in the next window)."""

    status = 422


class UploadUnreadableError(RemediationError):
    """A kit's diagnostics upload that cannot be unpacked (the kit sent something broken)."""

    status = 502


class RemediationUnavailableError(RemediationError):
    """Remediation is not running on this controller."""

    status = 503
