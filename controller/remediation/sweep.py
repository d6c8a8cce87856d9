"""The minute sweep: tickets past their due time, bundles to catch up, lesson minutes lost, runs
that will never answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from controller.remediation.commands import Commands
from controller.remediation.distribution import Distribution
from controller.remediation.incidents import Incidents
from controller.remediation.outgoing import Outgoing
from controller.tickets import service as tickets


def sweep(
    session: Session,
    out: Outgoing,
    now: datetime,
    *,
    distribution: Distribution,
    incidents: Incidents,
) -> None:
    """One sweep, in the caller's transaction; what it sends goes into `out`."""
    tickets.mark_breaches(session, now=now)
    distribution.catch_up(session, out, now)
    incidents.count_losses(session, now)
    Commands.expire_stale(session, now)
