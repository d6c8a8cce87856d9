"""What is wrong with a schedule as a whole, each problem with the parts it is about.

`problems` finds overlapping lessons (two weekly slots, a moved or extra lesson onto another, two
lessons that meet only on a night the clocks change), a cancellation or move of a lesson that
does not take place, the same lesson cancelled or moved twice, overlapping terms and weekly
lessons without a term; each `Problem` says where it is (`slots[0], slots[2]`), so that an import
can name the line. `check` refuses a schedule with any (ScheduleInvalidError). A schedule past
a limit (`limits`: too many lessons, terms too long) is refused first, before a lesson is expanded.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Final

from common.i18n import Lang, catalogue
from controller.schedules import expansion, limits, model
from controller.schedules.errors import DOMAIN, Problem, ScheduleInvalidError

MAX_PROBLEMS: Final = 50
"""A schedule with more problems than this is reported by its first ones."""


Say = Callable[[Lang], str]
"""A text in the reader's language."""


def _problem(parts: tuple[tuple[str, int], ...], key: str, **params: object) -> Problem:
    """A problem whose message is the catalogue's `key`; a callable parameter is said in the
    reader's language too (a weekday, a lesson)."""

    def say(lang: Lang) -> str:
        filled = {k: v(lang) if callable(v) else v for k, v in params.items()}
        return catalogue(DOMAIN).text(key, lang, **filled)

    return Problem(parts, say("en"), say)


def _slot_text(slot: model.Slot) -> Say:
    end = model.minute_of_day(slot.start) + slot.duration_min
    until = f"{end // 60 % 24:02d}:{end % 60:02d}"  # past midnight: the next day's time
    return lambda lang: (
        f"{catalogue(DOMAIN).text(f'weekday.{slot.weekday}', lang)} "
        f"{model.hhmm(slot.start)}-{until} {slot.subject}"
    )


def _span(start: dt.date, end: dt.date) -> Say:
    return lambda lang: catalogue(DOMAIN).text("describe.range", lang, start=start, end=end)


def _why_no_lesson(schedule: model.ScheduleContent, day: dt.date, clock: dt.time) -> Say:
    texts = catalogue(DOMAIN)
    if not expansion.in_term(schedule, day):
        return lambda lang: texts.text("why.outside_terms", lang, day=day)
    if (holiday := expansion.holiday_on(schedule, day)) is not None:
        name, start, end = holiday.name or "", holiday.start, holiday.end
        return lambda lang: texts.text(
            "why.holiday", lang, day=day, name=name, start=start, end=end
        )
    weekday = f"weekday.{day.weekday()}"
    return lambda lang: texts.text(
        "why.no_slot", lang, weekday=texts.text(weekday, lang), day=day, clock=model.hhmm(clock)
    )


def _term_problems(schedule: model.ScheduleContent) -> Iterator[Problem]:
    ordered = sorted(enumerate(schedule.terms), key=lambda item: item[1].start)
    for (i, a), (j, b) in itertools.pairwise(ordered):
        if b.start <= a.end:
            yield _problem(
                (("terms", i), ("terms", j)),
                "problem.terms_overlap",
                a=_span(a.start, a.end),
                b=_span(b.start, b.end),
            )
    if schedule.slots and not schedule.terms:
        yield _problem((), "problem.no_term")


def _both_hold(first: model.Slot, second: model.Slot, days_later: dt.timedelta) -> bool:
    """Whether on some day of `first`'s weekday it holds and `second` holds `days_later`."""
    second_from = second.valid_from - days_later if second.valid_from else None
    second_until = second.valid_until - days_later if second.valid_until else None
    starts = [d for d in (first.valid_from, second_from) if d is not None]
    ends = [d for d in (first.valid_until, second_until) if d is not None]
    if not starts or not ends:
        return True
    lo = max(starts)
    return lo + dt.timedelta(days=(first.weekday - lo.weekday()) % 7) <= min(ends)


def _starts_during(first: model.Slot, second: model.Slot) -> bool:
    """Whether `second` starts while `first` runs, by the clock (past midnight and Sunday too)."""
    first_from = first.weekday * model.MINUTES_PER_DAY + model.minute_of_day(first.start)
    second_from = second.weekday * model.MINUTES_PER_DAY + model.minute_of_day(second.start)
    after = (second_from - first_from) % model.MINUTES_PER_WEEK
    days_later = dt.timedelta(
        days=(model.minute_of_day(first.start) + after) // model.MINUTES_PER_DAY
    )
    return after < first.duration_min and _both_hold(first, second, days_later)


def _slot_problems(schedule: model.ScheduleContent) -> Iterator[Problem]:
    # By the clock; two slots that meet only on a night the clocks change are left to
    # _overlap_problems, which compares real times.
    slots = schedule.slots
    for i, a in enumerate(slots):
        for j in range(i + 1, len(slots)):
            b = slots[j]
            if _starts_during(a, b) or _starts_during(b, a):
                yield _problem(
                    (("slots", i), ("slots", j)),
                    "problem.slots_overlap",
                    a=_slot_text(a),
                    b=_slot_text(b),
                )


def _exception_problems(schedule: model.ScheduleContent) -> Iterator[Problem]:
    seen: dict[tuple[dt.date, dt.time], tuple[str, int]] = {}
    items: list[tuple[str, int, model.Cancellation | model.Move]] = [
        *(("cancellations", i, c) for i, c in enumerate(schedule.cancellations)),
        *(("moves", i, m) for i, m in enumerate(schedule.moves)),
    ]
    for name, i, item in items:
        key = (item.date, item.start)
        if expansion.slot_at(schedule, item.date, item.start) is None:
            verb = "cancels" if name == "cancellations" else "moves"
            yield _problem(
                ((name, i),),
                f"problem.{verb}_absent",
                why=_why_no_lesson(schedule, item.date, item.start),
            )
        elif (earlier := seen.get(key)) is not None:
            yield _problem(
                (earlier, (name, i)), "problem.twice", day=item.date, clock=model.hhmm(item.start)
            )
        else:
            seen[key] = (name, i)


def _overlap_problems(schedule: model.ScheduleContent) -> Iterator[Problem]:
    reported: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    running: list[expansion.Occurrence] = []
    for occurrence in expansion.all_occurrences(schedule):
        running = [o for o in running if o.end > occurrence.start]
        for other in running:
            pair = (other.source, occurrence.source)
            if pair in reported:
                continue  # the first day says it
            reported.add(pair)
            changed = other.clocks_change or occurrence.clocks_change
            yield _problem(
                pair,
                "problem.lessons_overlap",
                a=other.describe,
                b=occurrence.describe,
                why=(lambda lang: catalogue(DOMAIN).text("problem.clocks_change", lang))
                if changed
                else "",
            )
        running.append(occurrence)


def problems(schedule: model.ScheduleContent) -> list[Problem]:
    """Everything wrong with the schedule (the first MAX_PROBLEMS); empty when it is sound.

    Raises ScheduleTooLargeError for a schedule past a limit, before expanding it.
    """
    limits.check(schedule)
    found: list[Problem] = []
    for check in (_term_problems, _slot_problems, _exception_problems):
        found.extend(check(schedule))
    if not found:  # overlaps of concrete lessons only make sense once the rest is sound
        found.extend(_overlap_problems(schedule))
    return found[:MAX_PROBLEMS]


def check(schedule: model.ScheduleContent) -> None:
    """Raise ScheduleInvalidError with every problem of the schedule, if it has any."""
    if found := problems(schedule):
        raise ScheduleInvalidError(found)
