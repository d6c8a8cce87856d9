"""What a kit may ask of the controller each day, and its refusals: counted, logged once.

An event a kit sends that makes rows or work on the controller (a help request, a self-heal
report, a failed readiness check, and an incident either opens) takes one of the kit's daily
quota of that kind (`KitQuota`: a row per kit and kind, started again each UTC day); past it the
event is refused and changes nothing but the refusal count. Refusals that need no quota (an
upload nobody asked for, the result of a command never sent to that kit) are counted the same
way: in `kitkeeper_kit_requests_refused_total{kind, reason}`, and logged once per kit, kind,
reason and day, so that a kit repeating itself cannot fill the log either.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.orm import Session

from controller.remediation.tables import KitQuota
from protocol.commands import EventKind

_LOGGER = logging.getLogger(__name__)

INCIDENT_OPENED: Final = "incident_opened"
"""The quota of incidents a kit's own word opens (a failed readiness check, a self-heal report)."""
DAILY_LIMITS: Final[dict[str, int]] = {
    EventKind.HELP_REQUEST.value: 20,
    EventKind.SELF_HEAL.value: 200,
    EventKind.PRELESSON_CHECK.value: 100,
    INCIDENT_OPENED: 10,
}
"""Per kit and UTC day: help requests (the first opens a ticket, the rest land on it), self-heal
reports (each a line of an incident's history), failed readiness checks (an incident or a line of
its history) and the incidents those open (each may open a ticket: a kit failing and passing its
check in turn must not open one each time). An agent sends a few of each a day; a kit past these
is broken or hostile."""
_LOGGED_KEYS = 10_000
"""How many (day, kit, kind, reason) the once-only log remembers before starting over."""


class Refusals:
    """Counts what kits were refused (a Prometheus counter) and logs each kind once a day."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.counter = Counter(
            "kitkeeper_kit_requests_refused",
            "Events from kits refused before they made rows or work (a quota, an upload nobody "
            "asked for, a result of a command never sent), by event kind and reason.",
            ("kind", "reason"),
            registry=registry if registry is not None else CollectorRegistry(),
        )
        for kind in DAILY_LIMITS:
            self.counter.labels(kind=kind, reason="daily_quota")
        self.counter.labels(kind=EventKind.DIAGNOSTICS.value, reason="not_requested")
        self._logged: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()

    def refuse(self, kit_id: str, kind: str, reason: str, now: datetime, why: str = "") -> None:
        """Count a refusal; log it unless this kit had one of this kind and reason today."""
        self.counter.labels(kind=kind, reason=reason).inc()
        key = (now.date().isoformat(), kit_id, kind, reason)
        with self._lock:
            if key in self._logged:
                return
            if len(self._logged) >= _LOGGED_KEYS:
                self._logged.clear()
            self._logged.add(key)
        _LOGGER.warning(
            "kit %s: %s refused (%s)%s; more of these today are only counted",
            kit_id,
            kind,
            reason,
            f": {why}" if why else "",
        )


def take(session: Session, kit_id: str, kind: str, now: datetime) -> bool:
    """Take one of the kit's quota of `kind` for today; False (and counted) when none is left."""
    day = now.date().isoformat()
    row = session.get(KitQuota, (kit_id, kind))
    if row is None:
        row = KitQuota(kit_id=kit_id, kind=kind, day=day, used=0, refused=0)
        session.add(row)
    elif row.day != day:
        row.day, row.used, row.refused = day, 0, 0
    if row.used >= DAILY_LIMITS[kind]:
        row.refused += 1
        return False
    row.used += 1
    return True
