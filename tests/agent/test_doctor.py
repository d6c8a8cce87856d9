"""The pre-lesson check as tables, and its messages in all three languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from agent import doctor
from agent.i18n import LANGS, default_lang, t
from protocol.base import Unavailable
from protocol.inventory import (
    Connectivity,
    DeviceKind,
    EndpointProbe,
    Peripheral,
    Peripherals,
    ProfileCheck,
    Readiness,
    Verdict,
)
from protocol.models import Battery, Disk

CAMERA = Peripheral(kind=DeviceKind.CAMERA, name="HD Webcam C270")
MIC = Peripheral(kind=DeviceKind.AUDIO_CAPTURE, name="USB Headset")
SPEAKER = Peripheral(kind=DeviceKind.AUDIO_PLAYBACK, name="USB Headset")
ROOT = Disk(
    mountpoint="/",
    device="/dev/sda1",
    fstype="ext4",
    total_bytes=100_000_000_000,
    used_bytes=50_000_000_000,
    free_bytes=50_000_000_000,
    used_percent=50.0,
)


def net(verdict: Verdict, reasons: list[str] | None = None) -> Connectivity:
    probe = EndpointProbe(
        name="webinar",
        host="h",
        port=443,
        sent=10,
        received=10,
        rtt_ms=42.0,
        jitter_ms=3.0,
        loss_percent=0.0,
    )
    return Connectivity(
        link_up=True,
        default_route="192.0.2.1",
        endpoints=[probe],
        readiness=Readiness(verdict=verdict, reasons=reasons or []),
    )


def base(**over: object) -> dict[str, object]:
    return {
        "peripherals": Peripherals(devices=[CAMERA, MIC, SPEAKER]),
        "connectivity": net(Verdict.READY),
        "disks": [ROOT],
        "battery": Unavailable(unavailable="no battery"),
        "profile": ProfileCheck(profile="base", complete=True),
    } | over


EXPIRY = datetime(2031, 8, 31, 23, 59, 59, tzinfo=UTC)


def test_no_certificate_line_before_enrolment_or_without_a_clock() -> None:
    assert "certificate" not in statuses(doctor.evaluate(**base()))  # type: ignore[arg-type]
    checks = doctor.evaluate(**base(now=EXPIRY))  # type: ignore[arg-type]
    assert "certificate" not in statuses(checks), "not enrolled: nothing to say"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("kk", "2031-08-31 күні аяқталды"),
        ("ru", "истёк 2031-08-31"),
        ("en", "expired on 2031-08-31"),
    ],
)
def test_an_expired_certificate_tells_the_family_whom_to_ask(lang: str, words: str) -> None:
    checks = doctor.evaluate(  # type: ignore[arg-type]
        **base(certificate_not_after=EXPIRY, now=EXPIRY + timedelta(days=40))
    )
    report = doctor.render(checks, lang)  # type: ignore[arg-type]
    assert words in report
    assert "! " in report


def statuses(checks: list[doctor.Check]) -> dict[str, str]:
    return {c.what: c.status for c in checks}


@pytest.mark.parametrize(
    ("over", "what", "status", "is_ready"),
    [
        ({}, "camera", "ok", True),
        ({"peripherals": Peripherals(devices=[MIC, SPEAKER])}, "camera", "fail", False),
        ({"peripherals": Peripherals(devices=[CAMERA, SPEAKER])}, "microphone", "fail", False),
        ({"peripherals": Peripherals(devices=[CAMERA, MIC])}, "speakers", "fail", False),
        # A lesson essential that could not be checked cannot be promised.
        ({"peripherals": Unavailable(unavailable="no udev")}, "camera", "unchecked", False),
        (
            {"connectivity": net(Verdict.DEGRADED, ["webinar: loss 4% > 2%"])},
            "network",
            "warn",
            True,
        ),
        ({"connectivity": net(Verdict.NOT_READY, ["no default route"])}, "network", "fail", False),
        ({"connectivity": None}, "network", "unchecked", False),
        ({"profile": Unavailable(unavailable="no profile file")}, "profile", "unchecked", True),
        ({"disks": [ROOT.model_copy(update={"free_bytes": 1_000_000_000})]}, "disk", "fail", False),
        ({"disks": [ROOT.model_copy(update={"used_percent": 97.0})]}, "disk", "fail", False),
        (
            {"profile": ProfileCheck(profile="blind", complete=False, missing=["braille display"])},
            "profile",
            "fail",
            False,
        ),
        ({"battery": Battery(percent=12, plugged=False)}, "battery", "warn", True),
        ({"battery": Battery(percent=12, plugged=True)}, "battery", "ok", True),
        # An expired certificate: the lesson can go on, the school cannot see the kit.
        ({"certificate_not_after": EXPIRY, "now": EXPIRY}, "certificate", "ok", True),
        (
            {"certificate_not_after": EXPIRY, "now": EXPIRY + timedelta(microseconds=1)},
            "certificate",
            "warn",
            True,
        ),
    ],
)
def test_checks(over: dict[str, object], what: str, status: str, is_ready: bool) -> None:
    checks = doctor.evaluate(**base(**over))  # type: ignore[arg-type]
    assert statuses(checks)[what] == status
    assert doctor.ready(checks) is is_ready


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_reads_in_each_language(lang: str) -> None:
    checks = doctor.evaluate(
        **base(
            profile=ProfileCheck(  # type: ignore[arg-type]
                profile="blind", complete=False, missing=["braille display"]
            )
        )
    )
    text = doctor.render(checks, lang)  # type: ignore[arg-type]
    assert t("title", lang) in text  # type: ignore[arg-type]
    missing = {"kk": "Брайль дисплейі", "ru": "брайлевский дисплей", "en": "braille display"}
    assert missing[lang] in text, "what is missing, in the reader's language"
    assert t("verdict.not_ready", lang) in text  # type: ignore[arg-type]
    assert "{" not in text, "every placeholder filled"
    if lang == "kk":
        assert re.search("[әғқңөұүһі]", text), "Kazakh letters, not Russian"


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "kk_KZ.UTF-8"}, "kk"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LC_ALL": "C"}, "en"),
        ({"LC_ALL": "ru_KZ", "LANG": "kk_KZ"}, "ru"),
        ({}, "en"),
    ],
)
def test_default_language_from_the_locale(env: dict[str, str], lang: str) -> None:
    assert default_lang(env) == lang


def test_an_unconfirmed_check_says_so_not_ready_nor_fine() -> None:
    checks = doctor.evaluate(**base(connectivity=None))  # type: ignore[arg-type]
    text = doctor.render(checks, "ru")
    assert t("verdict.unconfirmed", "ru") in text
    assert t("verdict.ready", "ru") not in text


def test_numbers_take_a_decimal_comma_in_kazakh_and_russian() -> None:
    assert "12,5 ГБ" in t("disk.low", "ru", free=12.5)
    assert "12,5 ГБ" in t("disk.low", "kk", free=12.5)
    assert "12.5 GB" in t("disk.low", "en", free=12.5)
