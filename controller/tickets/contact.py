"""Who to call about a ticket: the guardian who signed the kit's contract, looked up when read.

Nothing personal is stored on a ticket or in its history; the contact comes through
`controller.loans.service.guardian_contact`, cut down to name, relation and phone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from common.i18n import Lang, catalogue
from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.loans import service as loans
from controller.tickets import views
from controller.tickets.records import get_ticket, history
from controller.tickets.schemas import ContactPublic, TicketDetail


def ticket_detail(
    session: Session,
    *,
    ticket_id: int,
    settings: ControllerSettings,
    role: str,
    lang: Lang = "en",
) -> TicketDetail:
    """One ticket, its history, and the guardian's phone with the contract number.

    The contact is the guardian who signed the kit's contract (its current one, else the one the
    ticket recorded), as `role` may see them and cut down to name, relation and phone; without
    the keys of personal data, or a contract, `contact_note` says why there is none (in `lang`).
    """
    row = get_ticket(session, ticket_id=ticket_id)
    zone: ZoneInfo = settings.school_zone
    detail = views.detail(row, history(session, ticket_id=ticket_id), lang=lang, zone=zone)
    try:
        cipher = loans.cipher(settings)
    except ConfigError:
        detail.contact_note = catalogue("tickets").text("contact.no_keys", lang)
        return detail
    found = loans.guardian_contact(
        session,
        kit_id=row.kit_id,
        contract_number=row.contract_number,
        cipher=cipher,
        role=role,
    )
    if found is None:
        detail.contact_note = catalogue("tickets").text("contact.not_lent", lang)
    else:
        detail.contact = ContactPublic.model_validate(found)
        detail.contract_number = detail.contract_number or found["contract_number"]
    return detail
