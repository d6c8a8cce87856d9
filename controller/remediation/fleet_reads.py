"""The remediation's input stream: what it reads of the fleet's tables, all in this one module.

The stored events after a cursor, the kits whose newest snapshot the rules have not seen yet and
that snapshot, and the online kits with an older bundle (ADR 0005). Read in the caller's
transaction; the joins with the remediation's own tables (rule cursors, kit bundles) are here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet.tables import Event as Event  # the row each event handler is handed
from controller.fleet.tables import Kit, Telemetry
from controller.remediation.tables import KitBundle, RulesCursor


def newest_event_id(session: Session) -> int:
    """The id of the newest stored event (0 when there is none)."""
    return session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0


def events_after(
    session: Session, *, after_id: int, kinds: list[str], limit: int
) -> Sequence[Event]:
    """The stored events of these kinds after `after_id`, oldest first, at most `limit`."""
    return session.scalars(
        select(Event)
        .where(Event.id > after_id, Event.kind.in_(kinds))
        .order_by(Event.id)
        .limit(limit)
    ).all()


def kits_to_evaluate(
    session: Session, *, now: datetime, min_interval: timedelta, limit: int
) -> list[tuple[str, datetime | None]]:
    """Active kits whose newest snapshot the rules have not seen: (id, last seen), oldest first."""
    rows = session.execute(
        select(Kit.kit_id, Kit.last_seen_at)
        .outerjoin(RulesCursor, RulesCursor.kit_id == Kit.kit_id)
        .where(
            Kit.latest_ts.is_not(None),
            Kit.last_seen_at.is_not(None),
            Kit.lifecycle == "active",
            (RulesCursor.evaluated_at.is_(None))
            | (
                (Kit.last_seen_at > RulesCursor.evaluated_at)
                & (RulesCursor.evaluated_at <= now - min_interval)
            ),
        )
        .order_by(RulesCursor.evaluated_at.is_not(None), RulesCursor.evaluated_at)
        .limit(limit)
    ).all()
    return [(kit_id, seen_at) for kit_id, seen_at in rows]


def newest_snapshot(session: Session, *, kit_id: str) -> Telemetry | None:
    """The kit's newest stored telemetry, if any."""
    return session.scalars(
        select(Telemetry).where(Telemetry.kit_id == kit_id).order_by(Telemetry.id.desc()).limit(1)
    ).first()


def online_kits_behind(session: Session, *, version: int, limit: int) -> Sequence[str]:
    """Online kits that accepted a bundle older than `version`, at most `limit`."""
    return session.scalars(
        select(KitBundle.kit_id)
        .join(Kit, Kit.kit_id == KitBundle.kit_id)
        .where(
            Kit.online.is_(True),
            KitBundle.accepted.is_not(None),
            KitBundle.accepted < version,
        )
        .limit(limit)
    ).all()
