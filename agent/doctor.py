"""`kitkeeper-agent doctor`: the pre-lesson readiness check, for a person, in their language.

`evaluate` is pure: it turns the parts of a snapshot into checks. `render` writes them in Kazakh,
Russian or English, every word (`agent.doctor_words`: what is missing, the network's reasons).
The CLI gathers the parts (collectors) and exits 0 when ready, 1 when not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from agent import doctor_words as words
from agent.content.readiness import OnKit
from agent.i18n import Lang, t
from protocol.base import Unavailable
from protocol.inventory import Connectivity, DeviceKind, Peripherals, ProfileCheck, Verdict
from protocol.models import Battery, Disk

Status = Literal["ok", "warn", "fail", "unchecked"]
MARKS: dict[Status, str] = {"ok": "✓", "warn": "!", "fail": "✗", "unchecked": "?"}
LOW_BATTERY_PERCENT = 20.0
FULL_DISK_PERCENT = 95.0


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, how it went, and the message to show."""

    what: str
    status: Status
    code: str
    params: dict[str, object] = field(default_factory=dict)
    items: tuple[str, ...] = ()
    """The missing requirements' labels, or the network's reasons, one by one (for `render`)."""


def _device_check(peripherals: Peripherals | Unavailable, kind: DeviceKind, what: str) -> Check:
    if isinstance(peripherals, Unavailable):
        return Check(what, "unchecked", "unchecked", {"reason": peripherals.unavailable})
    found = [d for d in peripherals.devices if d.kind is kind]
    if not found:
        return Check(what, "fail", f"{what}.missing")
    return Check(what, "ok", f"{what}.ok", {"name": found[0].name})


def _network_check(connectivity: Connectivity | Unavailable | None) -> Check:
    if connectivity is None or isinstance(connectivity, Unavailable):
        reason = connectivity.unavailable if connectivity else "not measured"
        return Check("network", "unchecked", "unchecked", {"reason": reason})
    readiness = connectivity.readiness
    reasons = "; ".join(readiness.reasons)
    if readiness.verdict is Verdict.NOT_READY:
        return Check(
            "network", "fail", "network.not_ready", {"reasons": reasons}, tuple(readiness.reasons)
        )
    if readiness.verdict is Verdict.DEGRADED:
        return Check(
            "network", "warn", "network.degraded", {"reasons": reasons}, tuple(readiness.reasons)
        )
    rtts = [e.rtt_ms for e in connectivity.endpoints if e.rtt_ms is not None]
    return Check("network", "ok", "network.ready", {"rtt": round(max(rtts)) if rtts else "?"})


def _disk_check(disks: list[Disk] | Unavailable, min_free_gb: float) -> Check:
    if isinstance(disks, Unavailable) or not disks:
        reason = disks.unavailable if isinstance(disks, Unavailable) else "no disk"
        return Check("disk", "unchecked", "unchecked", {"reason": reason})
    root = next((d for d in disks if d.mountpoint == "/"), disks[0])
    free_gb = round(root.free_bytes / 1e9, 1)
    if free_gb < min_free_gb or root.used_percent > FULL_DISK_PERCENT:
        return Check("disk", "fail", "disk.low", {"free": free_gb})
    return Check("disk", "ok", "disk.ok", {"free": free_gb})


def _battery_check(battery: Battery | Unavailable) -> Check | None:
    if isinstance(battery, Unavailable):
        return None  # a desktop kit: nothing to say
    if battery.plugged is False and battery.percent < LOW_BATTERY_PERCENT:
        return Check("battery", "warn", "battery.low", {"percent": round(battery.percent)})
    return Check("battery", "ok", "battery.ok")


def _profile_check(profile: ProfileCheck | Unavailable | None) -> Check:
    if profile is None or isinstance(profile, Unavailable):
        reason = profile.unavailable if profile else "no profile"
        return Check("profile", "unchecked", "unchecked", {"reason": reason})
    if profile.complete:
        return Check("profile", "ok", "profile.ok", {"profile": profile.profile})
    return Check(
        "profile",
        "fail",
        "profile.missing",
        {"missing": ", ".join(profile.missing)},
        tuple(profile.missing),
    )


def _certificate_check(not_after: datetime | None, now: datetime) -> Check | None:
    """A kit whose certificate expired works for the lesson but cannot tell the school so."""
    if not_after is None:  # not enrolled (development): nothing to say
        return None
    if now > not_after:  # valid up to and at its notAfter
        return Check(
            "certificate", "warn", "certificate.expired", {"date": f"{not_after:%Y-%m-%d}"}
        )
    return Check("certificate", "ok", "certificate.ok", {"date": f"{not_after:%Y-%m-%d}"})


def _content_check(content: OnKit | None) -> Check | None:
    """The lesson's materials (teachers' assigned resources) are on the kit, verified."""
    if content is None:  # no lesson ahead, or it has no materials: nothing to say
        return None
    if content.missing:
        return Check("content", "fail", "content.missing", {"missing": ", ".join(content.missing)})
    return Check("content", "ok", "content.ok", {"count": content.resources})


def evaluate(
    *,
    peripherals: Peripherals | Unavailable,
    connectivity: Connectivity | Unavailable | None,
    disks: list[Disk] | Unavailable,
    battery: Battery | Unavailable,
    profile: ProfileCheck | Unavailable | None,
    min_free_gb: float = 2.0,
    certificate_not_after: datetime | None = None,
    now: datetime | None = None,
    content: OnKit | None = None,
) -> list[Check]:
    """Every check of the pre-lesson readiness, in the order a person reads them."""
    checks = [
        _device_check(peripherals, DeviceKind.CAMERA, "camera"),
        _device_check(peripherals, DeviceKind.AUDIO_CAPTURE, "microphone"),
        _device_check(peripherals, DeviceKind.AUDIO_PLAYBACK, "speakers"),
        _network_check(connectivity),
        _disk_check(disks, min_free_gb),
        _profile_check(profile),
    ]
    extra = [_content_check(content), _battery_check(battery)]
    if now is not None:
        extra.append(_certificate_check(certificate_not_after, now))
    return checks + [c for c in extra if c is not None]


LESSON_ESSENTIALS = frozenset({"camera", "microphone", "speakers", "network"})
"""Without these confirmed, a lesson cannot be promised."""


def failing(checks: list[Check]) -> list[Check]:
    """What stands in the way of a lesson: failed checks, and lesson essentials left unchecked."""
    return [
        c
        for c in checks
        if c.status == "fail" or (c.status == "unchecked" and c.what in LESSON_ESSENTIALS)
    ]


def ready(checks: list[Check]) -> bool:
    """Ready when nothing failed and every lesson essential was actually checked."""
    return not failing(checks)


def _params(check: Check, lang: Lang) -> dict[str, object]:
    """A check's parameters as a person reads them in `lang` (labels, reasons, names)."""
    params = dict(check.params)
    if check.code == "unchecked":
        params["what"] = t(f"what.{check.what}", lang)
        params["reason"] = words.unchecked_reason(str(params["reason"]), lang)
    if check.code == "profile.missing":
        params["missing"] = ", ".join(words.requirement(label, lang) for label in check.items)
    if check.code == "profile.ok":
        params["profile"] = words.profile_name(str(params["profile"]), lang)
    if check.code in ("network.not_ready", "network.degraded"):
        params["reasons"] = "; ".join(words.network_reason(r, lang) for r in check.items)
    return params


def say(check: Check, lang: Lang) -> str:
    """One check's message in `lang` (the doctor's line, the pupil's page)."""
    return t(check.code, lang, **_params(check, lang))


def render(checks: list[Check], lang: Lang) -> str:
    """The report as plain text lines in `lang`."""
    lines = [t("title", lang), ""]
    lines.extend(f"{MARKS[check.status]} {say(check, lang)}" for check in checks)
    lines.append("")
    if any(c.status == "fail" for c in checks):
        lines.append(t("verdict.not_ready", lang))
    elif not ready(checks):
        lines.append(t("verdict.unconfirmed", lang))
    elif any(c.status in ("warn", "unchecked") for c in checks):
        lines.append(t("verdict.warnings", lang))
    else:
        lines.append(t("verdict.ready", lang))
    return "\n".join(lines) + "\n"
