"""An iCalendar file's events turned into weekly slots, exceptions and extra lessons.

`Converter` sorts the events (terms, holidays, recurring events and their overrides, single
events) and converts them:

- every recurring event's occurrences (expanded with `recurring-ical-events`, without its
  EXDATEs) are grouped by local weekday, start time as written and duration; each group becomes a
  weekly slot valid from its first to its last occurrence (a limit the terms already make is left
  out). A rule that is not weekly at heart (every other week, the first Monday of a month, RDATEs)
  fails the check that the slots give exactly the rule's lessons, and its lessons become extra
  one-off lessons instead;
- an EXDATE becomes a cancellation; a RECURRENCE-ID override becomes a move (new date, time or
  duration), a cancellation (STATUS:CANCELLED), or a cancellation and an extra lesson when it
  changes the subject, mode, server or teacher;
- a plain timed event becomes an extra lesson; an event with STATUS:CANCELLED is left out.

Each part keeps the event it comes from (`origins`), so that every error can name it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Final
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Event
from pydantic import ValidationError

from controller.platform.csvfile import RowError
from controller.schedules import expansion, model
from controller.schedules.ics_events import (
    ConversionError,
    LessonInfo,
    aware,
    check_bounds,
    exact_end,
    first_error_said,
    has_end,
    is_cancelled,
    kind_of,
    lesson_info,
    local,
    local_start,
    override_info,
    real_minutes,
    recurrence_id,
    refuse,
    refuse_for,
    span_of,
    text_of,
    timed,
)

MAX_OCCURRENCES: Final = 5000
"""An event repeating more often than this in the imported span is refused (COUNT=100000)."""


class Converter:
    """One pass over a calendar's events, collecting the parts of the schedule and every error."""

    def __init__(self, calendar: Calendar, zone: ZoneInfo) -> None:
        self.calendar = calendar
        self.zone = zone
        self.terms: list[dict[str, Any]] = []
        self.holidays: list[dict[str, Any]] = []
        self.masters: dict[str, Event] = {}
        self.overrides: dict[str, list[Event]] = defaultdict(list)
        self.singles: list[Event] = []
        self.slots: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self.extras: list[dict[str, Any]] = []
        self.errors: list[RowError] = []
        self.all_terms: list[dict[str, Any]] = []
        """The term events, or the one term derived from the recurring events."""
        self.origins: dict[tuple[str, int], Event] = {}
        """The event each slot, cancellation, move and extra lesson comes from, to name it."""
        self._raw: dict[str, list[Event]] = {}

    def _add(self, part: str, item: dict[str, Any], event: Event) -> None:
        found: list[dict[str, Any]] = getattr(self, part)
        self.origins[(part, len(found))] = event
        found.append(item)

    def sort(self) -> None:
        for event in self.calendar.walk("VEVENT"):
            assert isinstance(event, Event)
            try:
                self._sort(event)
            except ConversionError as exc:
                self.errors.extend(exc.errors)

    def _sort(self, event: Event) -> None:
        if event.get("DTSTART") is None:
            raise refuse("DTSTART", event, "ics.no_start")
        check_bounds(event)
        if not timed(event):
            kind = kind_of(event)
            if kind not in ("term", "holiday"):
                raise refuse("X-KITKEEPER-KIND", event, "ics.all_day")
            self._add("terms" if kind == "term" else "holidays", span_of(event, kind), event)
            return
        uid = text_of(event, "UID")
        if event.get("RECURRENCE-ID") is not None and uid:
            self.overrides[uid].append(event)
        elif event.get("RRULE") is not None and uid:
            if uid in self.masters:
                raise refuse("UID", event, "ics.uid_twice", uid=repr(uid))
            if not is_cancelled(event):
                self.masters[uid] = event
        elif event.get("RRULE") is not None:
            raise refuse("UID", event, "ics.no_uid")
        elif not is_cancelled(event):
            self.singles.append(event)

    # -- the span of the weekly lessons

    def bounds(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The local span of the terms (midnight to midnight), if there are term events."""
        if not self.terms:
            return None
        first = min(t["start"] for t in self.terms)
        last = max(t["end"] for t in self.terms) + dt.timedelta(days=1)
        return (
            dt.datetime.combine(first, dt.time(), tzinfo=self.zone),
            dt.datetime.combine(last, dt.time(), tzinfo=self.zone),
        )

    def raw(self, master: Event) -> list[Event]:
        """The rule's occurrences without its EXDATEs and overrides."""
        uid = text_of(master, "UID")
        if uid in self._raw:
            return self._raw[uid]
        bare = Event()
        for key, value in master.items():
            if key not in ("EXDATE", "RDATE"):
                bare[key] = value
        calendar = Calendar()
        calendar.add_component(bare)
        rule = master.get("RRULE")
        bounded = any(key in rule for key in ("COUNT", "UNTIL"))
        span = self.bounds()
        try:
            query = recurring_ical_events.of(calendar)
            if span is not None:
                found = query.between(*span)
            elif bounded:
                found = query.all()
            else:
                raise refuse("RRULE", master, "ics.endless")
            occurrences: list[Event] = []
            for occurrence in found:
                occurrences.append(occurrence)
                if len(occurrences) > MAX_OCCURRENCES:
                    raise refuse("RRULE", master, "ics.too_many", limit=MAX_OCCURRENCES)
        except (ValueError, TypeError, recurring_ical_events.InvalidCalendar) as exc:
            raise refuse("RRULE", master, "import.invalid", detail=str(exc)) from exc
        self._raw[uid] = occurrences
        return occurrences

    # -- weekly lessons

    def recurring(self) -> None:
        for uid, master in self.masters.items():
            try:
                self._recurring(uid, master)
            except ConversionError as exc:
                self.errors.extend(exc.errors)

    def _recurring(self, uid: str, master: Event) -> None:
        info = lesson_info(master)
        minutes = real_minutes(master, self.zone)  # every occurrence lasts as long, in real time
        raw = self.raw(master)
        groups: dict[tuple[int, dt.time, int], list[dt.date]] = defaultdict(list)
        for occurrence in raw:
            day, clock = local(occurrence.start, self.zone)
            groups[(day.weekday(), clock, minutes)].append(day)
        slots = [
            {
                "weekday": weekday,
                "start": clock,
                "duration_min": minutes,
                "valid_from": min(days),
                "valid_until": max(days),
                **info.fields(),
            }
            for (weekday, clock, minutes), days in sorted(groups.items())
        ]
        expected = {
            (aware(o.start, self.zone).astimezone(dt.UTC), exact_end(o.start, minutes, self.zone))
            for o in raw
            if self._kept(o.start)
        }
        if not slots or master.get("RDATE") or self._gives(master, slots) != expected:
            self._as_extras(uid)
            return
        # A limit the terms already make is left out, for a person to read. The slots give
        # exactly `expected` together, and dropping a limit only adds lessons to its slot, so
        # the whole stays exact if and only if the slot alone still gives none unexpected:
        # one slot is expanded per trial, not all of them (quadratic in the slots).
        for slot in slots:
            for limit in ("valid_from", "valid_until"):
                if self._gives(master, [{**slot, limit: None}]) <= expected:
                    slot[limit] = None
        self._as_slots(uid, master, info, self._alone(master, slots))
        for slot in slots:
            self._add("slots", slot, master)

    def _alone(self, master: Event, slots: list[dict[str, Any]]) -> model.ScheduleContent:
        """The weekly slots of one recurring event, in the terms and with the holidays."""
        try:
            return model.ScheduleContent.model_validate(
                {
                    "timezone": self.zone.key,
                    "terms": self.all_terms,
                    "holidays": self.holidays,
                    "slots": slots,
                }
            )
        except ValidationError as exc:
            raise refuse_for(None, master, first_error_said(exc)) from exc

    def _gives(
        self, master: Event, slots: list[dict[str, Any]]
    ) -> set[tuple[dt.datetime, dt.datetime]]:
        return {(o.start, o.end) for o in expansion.all_occurrences(self._alone(master, slots))}

    def _kept(self, start: dt.date | dt.datetime) -> bool:
        """Whether a weekly lesson on this day takes place: in a term, not on a holiday."""
        day, _ = local(start, self.zone)
        return any(t["start"] <= day <= t["end"] for t in self.all_terms) and not any(
            h["start"] <= day <= h["end"] for h in self.holidays
        )

    def _as_slots(
        self,
        uid: str,
        master: Event,
        info: LessonInfo,
        alone: model.ScheduleContent,
    ) -> None:
        def slot_of(day: dt.date, clock: dt.time) -> model.Slot | None:
            index = expansion.slot_at(alone, day, clock)
            return alone.slots[index] if index is not None else None

        excluded: set[tuple[dt.date, dt.time]] = set()
        for value in master.exdates:
            for day, clock in self._exdate(value, alone):
                if slot_of(day, clock) is not None and (day, clock) not in excluded:
                    excluded.add((day, clock))
                    cancel = {"date": day, "start": clock, "reason": "EXDATE"}
                    self._add("cancellations", cancel, master)
        for override in self.overrides.pop(uid, []):
            recurrence = recurrence_id(override)
            if recurrence is None:
                continue
            original = local(recurrence, self.zone)
            if original in excluded:
                continue  # EXDATE wins over an override of the same lesson
            slot = slot_of(*original)
            if slot is None:
                if not is_cancelled(override):
                    self._extra(override)
                continue
            excluded.add(original)
            if is_cancelled(override):
                cancel = {"date": original[0], "start": original[1], "reason": "STATUS:CANCELLED"}
                self._add("cancellations", cancel, override)
                continue
            changed = override_info(override, info)
            to_day, to_clock = local_start(override, self.zone)
            minutes = real_minutes(override, self.zone) if has_end(override) else slot.duration_min
            if changed == info and (to_day, to_clock, minutes) == (*original, slot.duration_min):
                continue  # an override that changes nothing a lesson is made of
            if changed == info:
                move = {
                    "date": original[0],
                    "start": original[1],
                    "to_date": to_day,
                    "to_start": to_clock,
                    "duration_min": None if minutes == slot.duration_min else minutes,
                }
                self._add("moves", move, override)
            else:
                cancel = {"date": original[0], "start": original[1], "reason": "changed"}
                self._add("cancellations", cancel, override)
                extra = {"date": to_day, "start": to_clock, "duration_min": minutes}
                self._add("extras", {**extra, **changed.fields()}, override)

    def _exdate(
        self, value: dt.date | dt.datetime, alone: model.ScheduleContent
    ) -> Iterator[tuple[dt.date, dt.time]]:
        if isinstance(value, dt.datetime):
            yield local(value, self.zone)
            return
        for slot in alone.slots:  # a DATE EXDATE: every lesson of the event that day
            if slot.weekday == value.weekday():
                yield value, slot.start

    def _as_extras(self, uid: str) -> None:
        """A rule that is not weekly at heart: its lessons one by one."""
        master = self.masters[uid]
        overrides = self.overrides.pop(uid, [])
        calendar = Calendar()
        calendar.add_component(master)
        for override in overrides:
            calendar.add_component(override)
        span = self.bounds()
        raw = self.raw(master)
        if span is None:
            starts = [o.start for o in raw] + [o.start for o in overrides]
            first = aware(min(starts), self.zone) - dt.timedelta(days=1)
            last = aware(max(starts), self.zone) + dt.timedelta(days=2)
            span = (first, last)
        overridden = {
            aware(moment, self.zone): o
            for o in overrides
            if (moment := recurrence_id(o)) is not None
        }
        for occurrence in recurring_ical_events.of(calendar).between(*span):
            if is_cancelled(occurrence):
                continue
            recurrence = recurrence_id(occurrence)
            by = None if recurrence is None else overridden.get(aware(recurrence, self.zone))
            if by is None and not self._kept(occurrence.start):
                continue
            written = by if by is not None and has_end(by) else master
            self._extra(occurrence, real_minutes(written, self.zone))

    def _extra(self, event: Event, minutes: int | None = None) -> None:
        """An extra lesson; `minutes` for an occurrence of a repeating event (its real length)."""
        day, clock = local_start(event, self.zone)
        length = real_minutes(event, self.zone) if minutes is None else minutes
        extra = {"date": day, "start": clock, "duration_min": length}
        self._add("extras", {**extra, **lesson_info(event).fields()}, event)

    def singles_and_orphans(self) -> None:
        orphans = [o for overrides in self.overrides.values() for o in overrides]
        for event in [*self.singles, *orphans]:
            if is_cancelled(event):
                continue
            try:
                self._extra(event)
            except ConversionError as exc:
                self.errors.extend(exc.errors)
