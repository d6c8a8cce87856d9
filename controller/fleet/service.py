"""What other domains do to the fleet's kit rows, in the caller's transaction (nothing commits).

Enrolment makes a kit's row when its first token or certificate is made; the loans mark it.
"""

from __future__ import annotations

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
