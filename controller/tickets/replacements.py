"""A replacement ticket carried out: the component or the kit swapped, the contract annexed.

A component goes through `loans.replace_component_in_transaction` when the kit is on loan
(inventory moves, the contract gets an annex), or only moves in the inventory when it is not
lent; a whole kit goes through `loans.replace_kit_in_transaction`. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from common.i18n import Lang, catalogue
from controller.loans import service as loans
from controller.loans.errors import ContractsError
from controller.loans.schemas import ComponentUpdate, ReplacementCreate
from controller.platform.crypto import FieldCipher
from controller.tickets.errors import TicketsError
from controller.tickets.tables import Ticket


def annex_reason(row: Ticket) -> str:
    """Why the contract gets an annex: the ticket."""
    return f"ticket {row.id}: {row.title}"[:500]


def replace_component(
    session: Session,
    row: Ticket,
    *,
    new_serial: str,
    actor: str,
    now: datetime,
    cipher: FieldCipher | None = None,
) -> None:
    """Swap the ticket's component for `new_serial` from spare stock (old one: stock, faulty).

    The contract's annex cites the ticket; with `cipher` its kk and ru PDFs are frozen at once.
    """
    old_serial = row.component_serial
    if old_serial is None:
        raise TicketsError("error.replaces_whole_kit", 409, ticket=row.id)
    new = loans.find_component(session, serial=new_serial)
    old = loans.find_component(session, serial=old_serial)
    if new is None:
        raise TicketsError("error.no_component", 404, serial=new_serial)
    if old is not None and new.kind != old.kind:
        raise TicketsError(
            "error.other_kind",
            422,
            serial=new_serial,
            kind=_kind_said(new.kind),
            old_kind=_kind_said(old.kind),
        )
    contract = loans.current_contract(session, kit_id=row.kit_id)
    try:
        if contract is not None:
            data = ReplacementCreate(
                old_serial=old_serial,
                new_serial=new_serial,
                reason=annex_reason(row),
                ticket=row.id,
            )
            loans.replace_component_in_transaction(
                session, number=contract.number, data=data, actor=actor, now=now, cipher=cipher
            )
            row.contract_number = contract.number
            return
        # Not lent: no contract to annex, only the inventory moves (each move audited).
        if new.kit_id is not None:
            raise TicketsError("error.not_spare", 409, serial=new_serial, kit_id=new.kit_id)
        if old is None or old.kit_id != row.kit_id:
            raise TicketsError("error.left_kit", 409, serial=old_serial, kit_id=row.kit_id)
        for serial, change in (
            (new_serial, ComponentUpdate(kit_id=row.kit_id)),
            (old_serial, ComponentUpdate(kit_id=None, condition="faulty")),
        ):
            loans.change_component_in_transaction(
                session, serial=serial, change=change, actor=actor, now=now
            )
    except ContractsError as exc:
        why = exc.messages() or str(exc)
        raise TicketsError("error.replacement_failed", exc.status, why=why) from exc
    except ValidationError as exc:
        why = "; ".join(str(error["msg"]) for error in exc.errors(include_url=False))
        raise TicketsError("error.replacement_failed", 422, why=why) from exc


def _kind_said(kind: str) -> Mapping[Lang, str] | str:
    """A component kind in every language, from the inventory's labels (an older free-text kind
    as it was recorded)."""
    labels = catalogue("inventory")
    key = f"kind.{kind}"
    return labels.texts(key) if key in labels.keys("en") else kind
