"""What a person reads of a ticket: causes, titles in their language, times in the school's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from controller.config import ControllerSettings
from controller.platform.localtime import clock, local_iso
from controller.tickets.causes import cause_of, of_rule
from controller.tickets.errors import Said, TicketsError
from controller.tickets.machine import TicketKind
from controller.tickets.tables import Ticket
from controller.tickets.views import title

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "serial", "rule", "cause"),
    [
        (TicketKind.HELP_REQUEST, None, None, "help"),
        (TicketKind.HELP_REQUEST, "WC-1", "disk-full", "help"),
        (TicketKind.REPAIR, None, "disk-full", "rule:disk-full"),
        (TicketKind.REPLACEMENT, "WC-1", None, "component:WC-1"),
        (TicketKind.REPAIR, None, None, "kit"),
    ],
)
def test_a_tickets_cause(
    kind: TicketKind, serial: str | None, rule: str | None, cause: str
) -> None:
    assert cause_of(kind, component_serial=serial, rule_id=rule) == cause
    long = of_rule("x" * 200)
    assert (long[:5], len(long)) == ("rule:", 120)


def test_a_system_title_is_shown_in_the_readers_language_and_a_persons_as_written() -> None:
    ladder = Ticket(
        title="Repair of kit kit-1: fault disk-full",
        title_key="ticket.ladder.repair",
        title_params={"kit_id": "kit-1", "rule": "disk-full"},
    )
    assert title(ladder, "kk") == "kit-1 жинағын жөндеу: disk-full ақауы"
    assert title(ladder, "ru") == "Ремонт комплекта kit-1: неисправность disk-full"
    assert title(ladder, "en") == ladder.title
    by_hand = Ticket(title="Наушники не работают", title_key=None, title_params=None)
    assert title(by_hand, "en") == "Наушники не работают"
    unknown = Ticket(title="stored", title_key="ticket.from_the_future", title_params={})
    assert title(unknown, "kk") == "stored", "a key this version does not know: the stored text"


def test_times_in_the_schools_zone() -> None:
    almaty = ZoneInfo("Asia/Almaty")
    assert clock(AT, almaty) == "2026-12-03 14:30 (Asia/Almaty)"
    assert local_iso(AT, almaty) == "2026-12-03T14:30:00+05:00"
    assert local_iso(None, almaty) is None
    assert ControllerSettings().school_zone.key == "Asia/Almaty"
    assert ControllerSettings(school_timezone="Asia/Aqtobe").school_zone.key == "Asia/Aqtobe"
    for wrong in ("Mars/Olympus", "", "../../etc/passwd", "UTC+5"):
        with pytest.raises(ValidationError, match="not an IANA time zone"):
            ControllerSettings(school_timezone=wrong)


def test_a_tickets_refusal_says_its_parameters_in_each_language_too() -> None:
    refused = TicketsError("error.unknown", 422, what=Said("what.priority"), choices="low, high")
    assert str(refused) == "unknown priority: one of low, high"
    assert refused.messages()["kk"] == "белгісіз басымдық: мыналардың бірі болуы керек: low, high"
    assert refused.body_in("ru")["detail"].startswith("недопустимое значение (приоритет)")
    failed = TicketsError("error.replacement_failed", 409, why={"en": "no", "ru": "нет"})
    assert (failed.text("ru"), failed.text("kk"), failed.status) == (
        "замену выполнить нельзя: нет",
        "ауыстыру жасалмайды: no",
        409,
    )
    assert TicketsError("error.title", 422).text("kk").startswith("өтінімнің тақырыбы")
