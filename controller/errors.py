"""The controller's exceptions: one root, a few meaningful children.

Every error carries the HTTP status that fits it (`status`) and what a client is told (`detail()`),
so the API maps them in one exception handler (`controller.api.errors`) and routes never catch
them; the command line prints `str(error)`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ControllerError(Exception):
    """Root of every error the controller raises on purpose."""

    status: int = 500
    headers: ClassVar[dict[str, str] | None] = None

    def detail(self) -> Any:
        """What the API answers in `detail` (a sentence; children may add structure)."""
        return str(self)

    def body(self) -> dict[str, Any]:
        """The whole JSON answer: `detail`, and what a child adds beside it (an import's errors)."""
        return {"detail": self.detail()}


class ConfigError(ControllerError):
    """The controller's configuration is unusable (for a request: the service is unavailable)."""

    status = 503


class StorageError(ControllerError):
    """The database cannot be reached or migrated."""

    status = 503


class NotFoundError(ControllerError):
    """A thing asked for by id does not exist."""

    status = 404


class ConflictError(ControllerError):
    """A change refused by the state of what it would change."""

    status = 409


class PkiError(ControllerError):
    """The device CA cannot do what was asked."""

    status = 503


class CryptoError(ControllerError):
    """Personal data cannot be encrypted, decrypted or indexed: bad key or damaged data."""


class DocumentError(ControllerError):
    """A loan document cannot be rendered (bad data, or no font that can print it)."""

    status = 503
