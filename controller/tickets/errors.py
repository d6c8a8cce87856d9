"""The root of what the tickets domain refuses."""

from __future__ import annotations

from controller.errors import ControllerError


class TicketsError(ControllerError):
    """A ticket change refused; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        """Keep the status next to the message."""
        super().__init__(message)
        self.status = status
