"""An incident's history as a person reads it: each note the ladder writes in their language.

A note the ladder writes is a catalogue key of common/locale/*/remediation.toml (`history.*`)
and its placeholders' values (`Said`): its English text is stored as the entry's `message`, as
before, and the key and values go beside it in the entry's `data` (`text_key`, `text_params`),
so that `entry_text` says it in the reader's language. A value may itself be a note (the
ladder's reason for a step, `reason_of`: stored as a `text_key`/`text_params` mapping). An entry
without them (written before, or a text the ladder only has in English) is read as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from common.i18n import Lang, catalogue

DOMAIN = "remediation"
TEXT_KEY = "text_key"
TEXT_PARAMS = "text_params"

_REASONS = {
    "no fix before the step's deadline": "reason.no_fix",
    "no free window before the step's deadline": "reason.no_window",
    "no result before the step's deadline": "reason.no_result",
    "the fix ran but the fault was still there at the deadline": "reason.still_there",
    "the playbook failed": "reason.failed",
    "disruptive: waits for the next time no lesson is running or about to start": "reason.waits",
    "the kit could not run it yet: sent again later": "reason.not_run_yet",
}
"""The reasons `policy.ladder` gives for a step (English), and their catalogue keys."""
_NO_WINDOW = re.compile(r"(\S+) is disruptive and no free window comes before the deadline")


@dataclass(frozen=True, slots=True)
class Said:
    """A note from the catalogue: `key` and its placeholders' values (plain JSON values)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: Lang = "en") -> str:
        """The note in `lang` (a value that is a note said in `lang` too)."""
        params = {k: v.text(lang) if isinstance(v, Said) else v for k, v in self.params.items()}
        return catalogue(DOMAIN).text(self.key, lang, **params)

    def stored(self) -> dict[str, Any]:
        """The note as kept in an entry's `data`: its key and values (JSON)."""
        params = {k: v.stored() if isinstance(v, Said) else v for k, v in self.params.items()}
        return {TEXT_KEY: self.key, TEXT_PARAMS: params}

    def lost(self, minutes: float) -> Said:
        """The same closing note followed by the lesson minutes lost (`<key>_lost`)."""
        return Said(f"{self.key}_lost", {**self.params, "minutes": f"{minutes:.0f}"})


def said(key: str, /, **params: Any) -> Said:
    """The note `key` of the remediation catalogue with its placeholders' values."""
    return Said(key, params)


def reason_of(reason: str) -> Said | str:
    """The ladder's reason for a step as a note when the catalogue has it, else as given."""
    if reason in _REASONS:
        return said(_REASONS[reason])
    if found := _NO_WINDOW.fullmatch(reason):
        return said("reason.no_window_disruptive", playbook=found.group(1))
    return reason


def english(message: str | Said) -> str:
    """What is stored as the entry's message: the note's English text, or the text as given."""
    return message.text("en") if isinstance(message, Said) else message


def with_text(data: dict[str, Any] | None, message: str | Said) -> dict[str, Any]:
    """The entry's `data`, with the note's key and values beside what is there."""
    out = dict(data or {})
    if isinstance(message, Said):
        out.update(message.stored())
    return out


def _kept(data: dict[str, Any]) -> Said:
    """The note kept in `data` (a value that is a kept note, a note too)."""
    params = data.get(TEXT_PARAMS)
    return Said(
        str(data[TEXT_KEY]),
        {
            k: _kept(v) if isinstance(v, dict) and isinstance(v.get(TEXT_KEY), str) else v
            for k, v in (params.items() if isinstance(params, dict) else ())
        },
    )


def entry_text(message: str, data: Any, lang: Lang) -> str:
    """An entry's text in `lang` when the ladder wrote it from the catalogue, else as stored."""
    if not isinstance(data, dict) or not isinstance(data.get(TEXT_KEY), str):
        return message
    try:
        return _kept(data).text(lang)
    except (KeyError, IndexError, ValueError):
        return message  # a key or parameter this version does not know: the stored text stands
