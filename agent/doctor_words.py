"""The doctor's words in the reader's language for what other parts of the agent say in English.

The kit profiles' requirement labels (images/profiles/*.yaml), the profiles' names, the network
readiness reasons (`agent.readiness`, also sent to the controller as they are) and the collectors'
fixed reasons for not checking something: each is looked up in the `agent` catalogue; a label that
is a component kind of the inventory's controlled vocabulary is said with the `inventory`
catalogue's label (`kind.<kind>`), the same words the contracts and acts print.
"""

from __future__ import annotations

import re
from typing import Final

from common.i18n import Lang, catalogue

DOMAIN: Final = "agent"
INVENTORY: Final = "inventory"

_NETWORK: Final = (
    (re.compile(r"^no network link$"), "network.no_link"),
    (re.compile(r"^no default route$"), "network.no_route"),
    (re.compile(r"^DNS: name resolution failed$"), "network.dns_failed"),
    (re.compile(r"^(?P<name>.+): unreachable(?: \(.*\))?$"), "network.unreachable"),
    (
        re.compile(r"^(?P<name>.+): round trip (?P<value>[\d.]+) ms > (?P<limit>[\d.]+) ms$"),
        "network.round_trip",
    ),
    (
        re.compile(r"^(?P<name>.+): jitter (?P<value>[\d.]+) ms > (?P<limit>[\d.]+) ms$"),
        "network.jitter",
    ),
    (
        re.compile(r"^(?P<name>.+): loss (?P<value>[\d.]+)% > (?P<limit>[\d.]+)%$"),
        "network.loss",
    ),
)
"""The readiness reasons (agent/readiness.py) and their catalogue keys."""


def _decimal(value: str, lang: Lang) -> str:
    return value.replace(".", ",") if lang != "en" else value


def requirement(label: str, lang: Lang) -> str:
    """A profile requirement's label in `lang` (as written when no translation is known)."""
    texts = catalogue(DOMAIN)
    key = f"requirement.{label}"
    if key in texts.keys(lang):
        return texts.text(key, lang)
    kind = f"kind.{label.strip().replace(' ', '_')}"
    inventory = catalogue(INVENTORY)
    if kind in inventory.keys(lang):
        return inventory.text(kind, lang)
    return label


def profile_name(name: str, lang: Lang) -> str:
    """A kit profile's name for a person ("kit for a blind child"), else the name itself."""
    texts = catalogue(DOMAIN)
    key = f"profile_name.{name}"
    return texts.text(key, lang) if key in texts.keys(lang) else name


def endpoint(name: str, lang: Lang) -> str:
    """A probed server's name for a person ("the school's server"), else the name itself."""
    texts = catalogue(DOMAIN)
    key = f"endpoint.{name}"
    return texts.text(key, lang) if key in texts.keys(lang) else name


def network_reason(reason: str, lang: Lang) -> str:
    """One network readiness reason in `lang` (in English and when its form is not known: as
    given, with the system's own detail such as "connection refused")."""
    if lang == "en":
        return reason
    for pattern, key in _NETWORK:
        match = pattern.match(reason)
        if match:
            params = {k: _decimal(v, lang) for k, v in match.groupdict().items() if k != "name"}
            if "name" in match.groupdict():
                params["name"] = endpoint(match["name"], lang)
            return catalogue(DOMAIN).text(key, lang, **params)
    return reason


def unchecked_reason(reason: str, lang: Lang) -> str:
    """Why something was not checked, in `lang`; an unknown reason (an error from the system)
    is given as is in English, and as "the system did not answer" in Kazakh and Russian."""
    texts = catalogue(DOMAIN)
    key = f"reason.{reason}"
    if key in texts.keys(lang):
        return texts.text(key, lang)
    return reason if lang == "en" else texts.text("reason.other", lang)
