"""The controlled vocabulary of the inventory: component kinds and conditions, with kk/ru/en labels.

What a kit holds and in what state each part is are chosen from these lists, so that a contract,
an act and the inventory speak of the same things and every document can print them in the
reader's language (labels in `common/locale/<lang>/inventory.toml`: `kind.<value>`,
`condition.<value>`). Pure: no I/O beyond the catalogue read once per process.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from common.i18n import Lang, catalogue

DOMAIN: Final = "inventory"


class ComponentKind(StrEnum):
    """What a serial-numbered component is."""

    LAPTOP = "laptop"
    DESKTOP = "desktop"
    MONITOR = "monitor"
    TABLET = "tablet"
    WEBCAM = "webcam"
    HEADSET = "headset"
    MICROPHONE = "microphone"
    SPEAKERS = "speakers"
    KEYBOARD = "keyboard"
    MOUSE = "mouse"
    PRINTER = "printer"
    SCANNER = "scanner"
    ROUTER = "router"
    MODEM = "modem"
    BRAILLE_DISPLAY = "braille_display"
    ADAPTED_KEYBOARD = "adapted_keyboard"
    TRACKBALL = "trackball"
    JOYSTICK = "joystick"
    ASSISTIVE_SWITCH = "assistive_switch"
    EYE_TRACKER = "eye_tracker"
    VIDEO_MAGNIFIER = "video_magnifier"
    POWER_ADAPTER = "power_adapter"
    UPS = "ups"
    BAG = "bag"
    OTHER = "other"


class Condition(StrEnum):
    """The state of a component, in the inventory and in a hand-over or return act."""

    NEW = "new"
    GOOD = "good"
    WORN = "worn"
    DAMAGED = "damaged"
    FAULTY = "faulty"
    MISSING = "missing"


DEFECTIVE: Final = frozenset({Condition.DAMAGED, Condition.FAULTY, Condition.MISSING})
"""Conditions that make a claim in a return act and keep the part out of spare stock."""


def kind_label(kind: str, lang: Lang) -> str:
    """The kind in `lang`; a value outside the vocabulary (older records) is printed as stored."""
    if kind in ComponentKind.__members__.values():
        return catalogue(DOMAIN).text(f"kind.{kind}", lang)
    return kind


def condition_label(condition: str, lang: Lang) -> str:
    """The condition in `lang`; a value outside the vocabulary (older records) as stored."""
    if condition in Condition.__members__.values():
        return catalogue(DOMAIN).text(f"condition.{condition}", lang)
    return condition


def accepted(kind: type[StrEnum]) -> str:
    """The accepted values of a vocabulary, for an error message: "good, worn, damaged, ..."."""
    return ", ".join(member.value for member in kind)
