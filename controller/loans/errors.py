"""What the loans domain refuses, each error with the HTTP status that fits it."""

from __future__ import annotations

from typing import Any

from controller.errors import ControllerError


class ContractsError(ControllerError):
    """An inventory or contract change refused; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


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
