"""What other domains do to the fleet's kit rows, in the caller's transaction (nothing commits).

Enrolment makes a kit's row when its first token or certificate is made; the loans mark it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from controller.fleet.tables import Kit as Kit  # the row its callers are handed


def ensure_kit(session: Session, kit_id: str) -> Kit:
    """The kit with this id, added (active, never seen) in the caller's transaction if new."""
    kit = session.get(Kit, kit_id)
    if kit is None:
        kit = Kit(kit_id=kit_id, online=False, last_seq=0, acked_seq=0, lifecycle="active")
        session.add(kit)
        session.flush()  # rows that refer to the kit may follow in the same transaction
    return kit


_CHUNK = 500
"""Ids per `IN (...)` (SQLite takes at most 32,766 parameters a statement)."""


def ensure_kits(session: Session, kit_ids: Collection[str]) -> dict[str, Kit]:
    """The kits with these (valid) ids, the new ones added as `ensure_kit` adds one, in bulk.

    One read per 500 ids and one INSERT for all the new kits (an import of 20,000 kits takes
    seconds, not a read and an insert per row).
    """
    wanted = list(dict.fromkeys(kit_ids))
    found: dict[str, Kit] = {}

    def load(ids: list[str]) -> None:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found.update(
                (k.kit_id, k) for k in session.scalars(select(Kit).where(Kit.kit_id.in_(chunk)))
            )

    load(wanted)
    new = [kit_id for kit_id in wanted if kit_id not in found]
    if new:
        session.execute(
            insert(Kit),
            [
                {"kit_id": k, "online": False, "last_seq": 0, "acked_seq": 0, "lifecycle": "active"}
                for k in new
            ],
        )
        load(new)
    return found
