"""What the schedule functions refuse, each with the HTTP status that fits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from controller.errors import ControllerError

if TYPE_CHECKING:
    from controller.loans.import_rows import RowError
    from controller.schedules.model import Problem


class ScheduleError(ControllerError):
    """A schedule change or look-up refused; `status` is the HTTP status that fits."""

    status = 409


class ScheduleNotFoundError(ScheduleError):
    """No such pupil, kit or schedule."""

    status = 404


class ScheduleInvalidError(ScheduleError):
    """A schedule that contradicts itself: overlapping lessons, a cancelled lesson that is not."""

    status = 422

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in problems))
        self.problems = list(problems)


class ScheduleImportError(ScheduleError):
    """A file that cannot be read as a schedule; `errors` name the line and the field."""

    status = 422

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(
            "; ".join(
                f"line {e.row}, {e.column}: {e.reason}"
                if e.row and e.column
                else f"line {e.row}: {e.reason}"
                if e.row
                else e.reason
                for e in errors
            )
        )
        self.errors = list(errors)
