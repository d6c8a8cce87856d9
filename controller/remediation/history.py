"""An incident's history as a person reads it: each note the ladder writes in their language.

A note the ladder writes is a catalogue key of common/locale/*/remediation.toml (`history.*`)
and its placeholders' values (`Said`): its English text is stored as the entry's `message`, as
before, and the key and values go beside it in the entry's `data` (`text_key`, `text_params`),
so that `entry_text` says it in the reader's language. An entry without them (written before,
or a text the ladder only has in English) is read as stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.i18n import Lang, catalogue

DOMAIN = "remediation"
TEXT_KEY = "text_key"
TEXT_PARAMS = "text_params"


@dataclass(frozen=True, slots=True)
class Said:
    """A note from the catalogue: `key` and its placeholders' values (plain JSON values)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: Lang = "en") -> str:
        """The note in `lang`."""
        return catalogue(DOMAIN).text(self.key, lang, **self.params)

    def lost(self, minutes: float) -> Said:
        """The same closing note followed by the lesson minutes lost (`<key>_lost`)."""
        return Said(f"{self.key}_lost", {**self.params, "minutes": f"{minutes:.0f}"})


def said(key: str, /, **params: Any) -> Said:
    """The note `key` of the remediation catalogue with its placeholders' values."""
    return Said(key, params)


def english(message: str | Said) -> str:
    """What is stored as the entry's message: the note's English text, or the text as given."""
    return message.text("en") if isinstance(message, Said) else message


def with_text(data: dict[str, Any] | None, message: str | Said) -> dict[str, Any]:
    """The entry's `data`, with the note's key and values beside what is there."""
    out = dict(data or {})
    if isinstance(message, Said):
        out[TEXT_KEY], out[TEXT_PARAMS] = message.key, dict(message.params)
    return out


def entry_text(message: str, data: Any, lang: Lang) -> str:
    """An entry's text in `lang` when the ladder wrote it from the catalogue, else as stored."""
    if not isinstance(data, dict) or not isinstance(data.get(TEXT_KEY), str):
        return message
    params = data.get(TEXT_PARAMS)
    try:
        return catalogue(DOMAIN).text(
            data[TEXT_KEY], lang, **(params if isinstance(params, dict) else {})
        )
    except (KeyError, IndexError, ValueError):
        return message  # a key or parameter this version does not know: the stored text stands
