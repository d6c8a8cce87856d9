"""Webinar readiness: a pure verdict over what the connectivity collector measured.

Online lessons expect 0.5-2 s of delay at most and short network faults spoil the broadcast, so the
thresholds look at round trip, jitter and loss as well as whether an endpoint answers at all. No I/O
and no clock here: `evaluate` is a function of its arguments, tested with plain tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from pydantic import BaseModel, Field, model_validator

from protocol.inventory import EndpointProbe, Readiness, Verdict

_RANK = {Verdict.READY: 0, Verdict.DEGRADED: 1, Verdict.NOT_READY: 2}


class Thresholds(BaseModel, extra="forbid"):
    """Where a measured figure starts to degrade a webinar, and where it makes one impossible."""

    rtt_degraded_ms: float = Field(
        default=300, ge=0, description="median round trip above which a webinar is degraded"
    )
    rtt_not_ready_ms: float = Field(
        default=1000, ge=0, description="median round trip above which the kit is not ready"
    )
    jitter_degraded_ms: float = Field(
        default=50, ge=0, description="jitter above which audio and video start to stutter"
    )
    jitter_not_ready_ms: float = Field(
        default=200, ge=0, description="jitter above which the kit is not ready"
    )
    loss_degraded_percent: float = Field(
        default=2, ge=0, le=100, description="probe loss above which a webinar is degraded"
    )
    loss_not_ready_percent: float = Field(
        default=10, ge=0, le=100, description="probe loss above which the kit is not ready"
    )
    required: list[str] = Field(
        default_factory=lambda: ["webinar"],
        description=(
            "endpoint names whose failure makes the kit not ready; other endpoints only degrade "
            "(when none of the probed endpoints is named here and there is only one, it counts)"
        ),
    )

    @model_validator(mode="after")
    def _degraded_before_not_ready(self) -> Self:
        for figure in ("rtt", "jitter"):
            if getattr(self, f"{figure}_degraded_ms") > getattr(self, f"{figure}_not_ready_ms"):
                raise ValueError(f"{figure}_degraded_ms must not exceed {figure}_not_ready_ms")
        if self.loss_degraded_percent > self.loss_not_ready_percent:
            raise ValueError("loss_degraded_percent must not exceed loss_not_ready_percent")
        return self


def evaluate(
    *,
    link_up: bool,
    default_route: str | None,
    dns_ok: bool | None,
    endpoints: list[EndpointProbe],
    thresholds: Thresholds,
) -> Readiness:
    """Judge whether the kit can hold a webinar now, with one short reason per problem found."""
    if not link_up:
        # Everything else follows from a missing link; more reasons would only hide the cause.
        return Readiness(verdict=Verdict.NOT_READY, reasons=["no network link"])
    findings: list[tuple[Verdict, str]] = []
    if default_route is None:
        findings.append((Verdict.NOT_READY, "no default route"))
    if dns_ok is False:
        findings.append((Verdict.DEGRADED, "DNS: name resolution failed"))
    required = _required_names(endpoints, thresholds)
    for probe in endpoints:
        findings.extend(_judge_endpoint(probe, thresholds, required=probe.name in required))
    verdict = max((v for v, _ in findings), key=_RANK.__getitem__, default=Verdict.READY)
    return Readiness(verdict=verdict, reasons=[reason for _, reason in findings])


def _required_names(endpoints: list[EndpointProbe], thresholds: Thresholds) -> set[str]:
    names = {probe.name for probe in endpoints}
    required = names.intersection(thresholds.required)
    if not required and len(endpoints) == 1:
        return names
    return required


def _judge_endpoint(
    probe: EndpointProbe, thresholds: Thresholds, *, required: bool
) -> Iterator[tuple[Verdict, str]]:
    if probe.received == 0:
        detail = f" ({probe.error})" if probe.error else ""
        yield (
            (Verdict.NOT_READY if required else Verdict.DEGRADED),
            f"{probe.name}: unreachable{detail}",
        )
        return
    t = thresholds
    checks = (
        ("round trip", probe.rtt_ms, t.rtt_degraded_ms, t.rtt_not_ready_ms, " ms"),
        ("jitter", probe.jitter_ms, t.jitter_degraded_ms, t.jitter_not_ready_ms, " ms"),
        ("loss", probe.loss_percent, t.loss_degraded_percent, t.loss_not_ready_percent, "%"),
    )
    for label, value, degraded, not_ready, unit in checks:
        if value is None:
            continue
        if required and value > not_ready:
            yield Verdict.NOT_READY, _reason(probe.name, label, value, not_ready, unit)
        elif value > degraded:
            yield Verdict.DEGRADED, _reason(probe.name, label, value, degraded, unit)


def _reason(name: str, label: str, value: float, limit: float, unit: str) -> str:
    shown_limit = _number(limit, 1)
    # One decimal reads best, but 300.04 > 300 must not read "300 ms > 300 ms".
    shown = next(
        (s for digits in range(1, 7) if (s := _number(value, digits)) != shown_limit), repr(value)
    )
    return f"{name}: {label} {shown}{unit} > {shown_limit}{unit}"


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
