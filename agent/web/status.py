"""The kit's readiness in plain words for the pupil's page, from the doctor's checks (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from agent import doctor
from common.i18n import Lang


@dataclass(frozen=True, slots=True)
class Status:
    """Ready, not ready (with what is wrong, one sentence each) or not checked yet (None)."""

    ready: bool | None
    problems: tuple[str, ...] = ()


def status_lines(checks: list[doctor.Check] | None, lang: Lang) -> Status:
    """What stands in the way of a lesson, in `lang` (the doctor's words)."""
    if checks is None:
        return Status(ready=None)
    failing = doctor.failing(checks)
    return Status(ready=not failing, problems=tuple(doctor.say(c, lang) for c in failing))
