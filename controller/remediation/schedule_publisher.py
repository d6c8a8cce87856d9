"""Each kit's retained schedule: published when its lessons change, or when someone asks.

The schedule a kit is sent (`schedules.service.kit_schedule`) is hashed without the times it was
generated at; the hash last published is the kit's `PublishedSchedule`. A kit whose schedule is
unchanged is not sent it again, unless it was asked for (a changed schedule, a kit back online).
When a kit's schedule is published, the due of its tickets that came from a lesson is worked out
again (`controller.tickets.service.follow_schedule`; a due a person gave is kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.fleet import queries as fleet
from controller.remediation.outgoing import Outgoing, Sender
from controller.remediation.tables import PublishedSchedule
from controller.schedules import service as schedules
from controller.tickets import service as tickets
from protocol.models import Schedule

_LOGGER = logging.getLogger(__name__)


def digest(schedule: Schedule) -> str:
    """What identifies a schedule's content: its hash without the times it was generated at."""
    content = schedule.model_dump(mode="json", exclude={"generated_at", "horizon_end"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class SchedulePublisher:
    """Publishes the kits' schedules that changed; others ask through `request`."""

    def __init__(
        self,
        *,
        settings: ControllerSettings,
        sessions: sessionmaker[Session],
        sender: Sender,
        wake: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._sender = sender
        self._wake = wake
        self._lock = threading.Lock()
        self._requested: set[str] = set()
        self._everything = True  # the first pass looks at every kit

    def request(self, kit_ids: Iterable[str]) -> None:
        """Publish these kits' schedules at the next pass, and run it now (a schedule changed)."""
        self.queue(kit_ids)
        self._wake()

    def queue(self, kit_ids: Iterable[str]) -> None:
        """Publish these kits' schedules at the next pass (asked from within a pass)."""
        with self._lock:
            self._requested.update(kit_ids)

    def take(self, *, everything: bool) -> tuple[set[str], bool]:
        """The kits asked for since the last call, and whether to look at every kit."""
        with self._lock:
            requested, self._requested = self._requested, set()
            everything, self._everything = self._everything or everything, False
        return requested, everything

    def publish(self, now: datetime, kit_ids: set[str] | None, forced: set[str]) -> None:
        """Publish the schedules of `kit_ids` (None: every active kit) that changed, and of
        those in `forced` in any case."""
        out = Outgoing()
        try:
            with self._sessions.begin() as session:
                for kit_id in fleet.active_kit_ids(session, kit_ids=kit_ids):
                    schedule = self._changed(session, kit_id, now, forced=kit_id in forced)
                    if schedule is not None:
                        out.schedules.append((kit_id, schedule))
                        # The due of its tickets that came from a lesson follows the schedule.
                        tickets.follow_schedule(
                            session, kit_id=kit_id, zone=self._settings.school_zone, now=now
                        )
        except SQLAlchemyError:
            _LOGGER.exception("remediation: publishing schedules failed")
            return
        self._sender.send(out)

    def _changed(
        self, session: Session, kit_id: str, now: datetime, *, forced: bool
    ) -> Schedule | None:
        """The kit's schedule if it is to be published (its digest then recorded), else None."""
        settings = self._settings
        schedule = schedules.configured_kit_schedule(
            session, kit_id=kit_id, now=now, settings=settings
        )
        row = session.get(PublishedSchedule, kit_id)
        if schedule is None and row is None:
            return None  # no lessons now, none sent before: nothing to say
        if schedule is None:
            schedule = Schedule(
                generated_at=now,
                horizon_end=now,
                guard_minutes=settings.guard_minutes,
                prelesson_minutes=settings.prelesson_minutes,
            )
        published = digest(schedule)
        if row is None:
            session.add(PublishedSchedule(kit_id=kit_id, digest=published))
        elif row.digest == published and not forced:
            return None
        else:
            row.digest = published
        return schedule
