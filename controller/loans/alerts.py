"""Alerts for administrators and technicians, computed from the contracts and the latest snapshots.

- `contract_ending`: an active contract ends within `lead_days`;
- `return_overdue`: a contract past its end whose kit has not come back;
- `loaned_without_contract`: a kit with components that reports from a home with no signed
  contract covering it;
- `reconciliation`: a contract's peripheral no longer reported by its kit (serial gone), or a
  foreign device in its place (`controller.loans.reconcile`); it shows as soon as the snapshot
  that reveals it is stored, so within one telemetry interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.fleet import queries as fleet
from controller.loans.lifecycle import LENT_STATES, ON_LOAN_STATES
from controller.loans.reconcile import reconcile
from controller.loans.tables import Component, LoanContract

PERIPHERAL_KINDS = frozenset(
    {
        "webcam",
        "camera",
        "headset",
        "microphone",
        "speakers",
        "braille",
        "braille display",
        "keyboard",
        "mouse",
        "trackball",
    }
)
"""Component kinds a kit's agent can see by serial (a laptop's own serial it cannot)."""


@dataclass(frozen=True)
class Alert:
    """One thing a person should act on."""

    kind: str
    severity: str
    contract: str | None
    kit_id: str | None
    message: str


def compute(session: Session, *, today: date, lead_days: int) -> list[Alert]:
    """Every alert that stands now."""
    alerts: list[Alert] = []
    contracts = list(session.scalars(select(LoanContract).order_by(LoanContract.number)))
    for c in contracts:
        if c.state == "active" and 0 <= (c.end - today).days <= lead_days:
            alerts.append(
                Alert(
                    "contract_ending",
                    "info",
                    c.number,
                    c.kit_id,
                    f"contract {c.number} ends on {c.end:%Y-%m-%d}",
                )
            )
        if c.state in ON_LOAN_STATES and c.end < today:
            alerts.append(
                Alert(
                    "return_overdue",
                    "warning",
                    c.number,
                    c.kit_id,
                    f"kit {c.kit_id} was due back on {c.end:%Y-%m-%d}",
                )
            )
        if c.state in ON_LOAN_STATES:
            expected = {p["serial"] for p in c.components if p["kind"].lower() in PERIPHERAL_KINDS}
            reported = fleet.reported_peripherals(session, kit_id=c.kit_id)
            if reported is not None:
                for finding in reconcile(expected, reported):
                    alerts.append(
                        Alert("reconciliation", "warning", c.number, c.kit_id, finding.detail)
                    )
    covered = {c.kit_id for c in contracts if c.state in LENT_STATES}
    kits_with_parts = set(
        session.scalars(select(Component.kit_id).where(Component.kit_id.is_not(None)))
    )
    for kit_id in fleet.reporting_kits(session, kit_ids=kits_with_parts - covered):
        alerts.append(
            Alert(
                "loaned_without_contract",
                "warning",
                None,
                kit_id,
                f"kit {kit_id} reports from a home with no signed contract",
            )
        )
    return alerts
