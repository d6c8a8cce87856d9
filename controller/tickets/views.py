"""Tickets as a person reads them: titles and notes in their language, times in the school's zone.

A title the system wrote has a catalogue key (common/locale/*/tickets.toml) and is shown in the
request's language; a person's own title is shown as written. The API keeps UTC and adds each
time a person reads in the school's time zone (`*_local`).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from common.i18n import Lang, catalogue
from controller.platform.localtime import local_iso
from controller.tickets.schemas import TicketDetail, TicketEventPublic, TicketPublic
from controller.tickets.tables import Ticket, TicketEvent


def _text(key: Any, params: Any, lang: Lang) -> str | None:
    if not isinstance(key, str):
        return None
    try:
        return catalogue("tickets").text(key, lang, **(params if isinstance(params, dict) else {}))
    except (KeyError, IndexError, ValueError):
        return None  # a key or parameter this version does not know: the stored text stands


def title(row: Ticket, lang: Lang) -> str:
    """The ticket's title in `lang` when the system wrote it, else as the person wrote it."""
    return _text(row.title_key, row.title_params, lang) or row.title


def public(row: Ticket, *, lang: Lang, zone: ZoneInfo) -> TicketPublic:
    """The ticket for the API, in `lang` and with local times."""
    out = TicketPublic.model_validate(row)
    out.title = title(row, lang)
    out.due_by_local = local_iso(row.due_by, zone)
    out.created_at_local = local_iso(row.created_at, zone)
    out.timezone = zone.key
    return out


def event(row: TicketEvent, *, lang: Lang, zone: ZoneInfo) -> TicketEventPublic:
    """One step of the history, its note in `lang`."""
    out = TicketEventPublic.model_validate(row)
    detail = row.detail or {}
    out.text = _text(detail.get("key"), detail.get("params"), lang)
    out.at_local = local_iso(row.at, zone)
    return out


def detail(row: Ticket, history: list[TicketEvent], *, lang: Lang, zone: ZoneInfo) -> TicketDetail:
    """The ticket with its history, in `lang` and with local times."""
    out = TicketDetail.model_validate(public(row, lang=lang, zone=zone).model_dump())
    out.history = [event(e, lang=lang, zone=zone) for e in history]
    return out
