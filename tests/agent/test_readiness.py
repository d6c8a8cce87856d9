"""Webinar readiness as tables: what was measured, the verdict and the reasons a technician sees."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agent.readiness import Thresholds, evaluate
from protocol.inventory import EndpointProbe, Readiness, Verdict

READY, DEGRADED, NOT_READY = Verdict.READY, Verdict.DEGRADED, Verdict.NOT_READY


def probe(
    name: str = "webinar",
    *,
    rtt: float | None = 40.0,
    jitter: float | None = 2.0,
    loss: float = 0.0,
    sent: int = 10,
    received: int | None = None,
    error: str | None = None,
) -> EndpointProbe:
    """A probe that went well unless told otherwise."""
    if received is None:
        received = round(sent * (100 - loss) / 100)
    return EndpointProbe(
        name=name,
        host=f"{name}.example.org",
        port=443,
        sent=sent,
        received=received,
        rtt_ms=rtt if received else None,
        jitter_ms=jitter if received > 1 else None,
        loss_percent=loss,
        error=error,
    )


def unreachable(name: str = "webinar", error: str | None = "timed out") -> EndpointProbe:
    """A probe where nothing answered."""
    return probe(name, loss=100, received=0, error=error)


def judge(
    endpoints: list[EndpointProbe],
    *,
    link_up: bool = True,
    default_route: str | None = "192.168.1.1",
    dns_ok: bool | None = True,
    **thresholds: Any,
) -> Readiness:
    """evaluate() with a healthy network unless told otherwise."""
    return evaluate(
        link_up=link_up,
        default_route=default_route,
        dns_ok=dns_ok,
        endpoints=endpoints,
        thresholds=Thresholds(**thresholds),
    )


# Each figure against the default thresholds, below, at and above each limit: a figure equal to a
# limit is still within it.
FIGURES = [
    # rtt_ms (degraded above 300, not ready above 1000)
    (probe(rtt=0.1), READY, []),
    (probe(rtt=299.9), READY, []),
    (probe(rtt=300), READY, []),
    (probe(rtt=300.04), DEGRADED, ["webinar: round trip 300.04 ms > 300 ms"]),
    (probe(rtt=450), DEGRADED, ["webinar: round trip 450 ms > 300 ms"]),
    (probe(rtt=450.26), DEGRADED, ["webinar: round trip 450.3 ms > 300 ms"]),
    (probe(rtt=1000), DEGRADED, ["webinar: round trip 1000 ms > 300 ms"]),
    (probe(rtt=1000.5), NOT_READY, ["webinar: round trip 1000.5 ms > 1000 ms"]),
    (probe(rtt=2500), NOT_READY, ["webinar: round trip 2500 ms > 1000 ms"]),
    # jitter_ms (degraded above 50, not ready above 200)
    (probe(jitter=0), READY, []),
    (probe(jitter=50), READY, []),
    (probe(jitter=50.5), DEGRADED, ["webinar: jitter 50.5 ms > 50 ms"]),
    (probe(jitter=200), DEGRADED, ["webinar: jitter 200 ms > 50 ms"]),
    (probe(jitter=201), NOT_READY, ["webinar: jitter 201 ms > 200 ms"]),
    (probe(jitter=None), READY, []),
    # loss_percent (degraded above 2, not ready above 10)
    (probe(loss=2, sent=50), READY, []),
    (probe(loss=4, sent=50), DEGRADED, ["webinar: loss 4% > 2%"]),
    (probe(loss=10), DEGRADED, ["webinar: loss 10% > 2%"]),
    (probe(loss=12.5, sent=40), NOT_READY, ["webinar: loss 12.5% > 10%"]),
    (probe(loss=12, sent=50), NOT_READY, ["webinar: loss 12% > 10%"]),
    (probe(loss=90), NOT_READY, ["webinar: loss 90% > 10%"]),
    # several figures at once: one reason each, the worst verdict wins
    (
        probe(rtt=450, jitter=60),
        DEGRADED,
        ["webinar: round trip 450 ms > 300 ms", "webinar: jitter 60 ms > 50 ms"],
    ),
    (
        probe(rtt=450, jitter=60, loss=20),
        NOT_READY,
        [
            "webinar: round trip 450 ms > 300 ms",
            "webinar: jitter 60 ms > 50 ms",
            "webinar: loss 20% > 10%",
        ],
    ),
    (
        probe(rtt=1200, jitter=250, loss=4, sent=50),
        NOT_READY,
        [
            "webinar: round trip 1200 ms > 1000 ms",
            "webinar: jitter 250 ms > 200 ms",
            "webinar: loss 4% > 2%",
        ],
    ),
    # nothing answered: unreachable, with the error when there is one
    (unreachable(), NOT_READY, ["webinar: unreachable (timed out)"]),
    (
        unreachable(error="connection refused"),
        NOT_READY,
        ["webinar: unreachable (connection refused)"],
    ),
    (unreachable(error=None), NOT_READY, ["webinar: unreachable"]),
]


@pytest.mark.parametrize(("endpoint", "verdict", "reasons"), FIGURES)
def test_each_figure_against_the_default_thresholds(
    endpoint: EndpointProbe, verdict: Verdict, reasons: list[str]
) -> None:
    assert judge([endpoint]) == Readiness(verdict=verdict, reasons=reasons)


# The same figure against thresholds moved either way.
MOVED = [
    ({"rtt_degraded_ms": 30}, probe(rtt=40), DEGRADED, ["webinar: round trip 40 ms > 30 ms"]),
    ({"rtt_degraded_ms": 40}, probe(rtt=40), READY, []),
    (
        {"rtt_degraded_ms": 20, "rtt_not_ready_ms": 30},
        probe(rtt=40),
        NOT_READY,
        ["webinar: round trip 40 ms > 30 ms"],
    ),
    ({"rtt_degraded_ms": 500}, probe(rtt=450), READY, []),
    ({"jitter_degraded_ms": 1}, probe(jitter=2), DEGRADED, ["webinar: jitter 2 ms > 1 ms"]),
    (
        {"jitter_degraded_ms": 1, "jitter_not_ready_ms": 1.5},
        probe(jitter=2),
        NOT_READY,
        ["webinar: jitter 2 ms > 1.5 ms"],
    ),
    ({"jitter_degraded_ms": 100}, probe(jitter=60), READY, []),
    ({"loss_degraded_percent": 0}, probe(loss=2, sent=50), DEGRADED, ["webinar: loss 2% > 0%"]),
    ({"loss_not_ready_percent": 30}, probe(loss=20), DEGRADED, ["webinar: loss 20% > 2%"]),
    ({"loss_degraded_percent": 25, "loss_not_ready_percent": 30}, probe(loss=20), READY, []),
    (
        {"loss_not_ready_percent": 100},
        unreachable(),
        NOT_READY,
        ["webinar: unreachable (timed out)"],
    ),
]


@pytest.mark.parametrize(("thresholds", "endpoint", "verdict", "reasons"), MOVED)
def test_each_threshold_moved_either_way(
    thresholds: dict[str, Any], endpoint: EndpointProbe, verdict: Verdict, reasons: list[str]
) -> None:
    assert judge([endpoint], **thresholds) == Readiness(verdict=verdict, reasons=reasons)


# Which endpoints can make the kit not ready: those named in `required`, or the only one probed
# when none is named; every other endpoint only degrades, however bad.
REQUIRED = [
    ([], [unreachable("controller")], NOT_READY, ["controller: unreachable (timed out)"]),
    (["webinar"], [probe(), unreachable("broker")], DEGRADED, ["broker: unreachable (timed out)"]),
    (
        ["webinar"],
        [unreachable(), probe("broker")],
        NOT_READY,
        ["webinar: unreachable (timed out)"],
    ),
    (
        ["webinar"],
        [probe("controller", rtt=1500, loss=50)],
        NOT_READY,
        ["controller: round trip 1500 ms > 1000 ms", "controller: loss 50% > 10%"],
    ),
    (
        ["webinar"],
        [probe("controller", rtt=1500, loss=50), probe("broker")],
        DEGRADED,
        ["controller: round trip 1500 ms > 300 ms", "controller: loss 50% > 2%"],
    ),
    (
        ["webinar"],
        [unreachable("controller"), unreachable("broker")],
        DEGRADED,
        ["controller: unreachable (timed out)", "broker: unreachable (timed out)"],
    ),
    (
        ["webinar", "broker"],
        [probe(), unreachable("broker"), unreachable("controller")],
        NOT_READY,
        ["broker: unreachable (timed out)", "controller: unreachable (timed out)"],
    ),
    (
        ["webinar", "broker"],
        [probe(rtt=350), probe("broker", jitter=250), probe("controller", loss=50)],
        NOT_READY,
        [
            "webinar: round trip 350 ms > 300 ms",
            "broker: jitter 250 ms > 200 ms",
            "controller: loss 50% > 2%",
        ],
    ),
    (
        [],
        [probe("controller"), unreachable("broker")],
        DEGRADED,
        ["broker: unreachable (timed out)"],
    ),
    (["webinar"], [], READY, []),
]


@pytest.mark.parametrize(("required", "endpoints", "verdict", "reasons"), REQUIRED)
def test_only_required_endpoints_make_the_kit_not_ready(
    required: list[str], endpoints: list[EndpointProbe], verdict: Verdict, reasons: list[str]
) -> None:
    assert judge(endpoints, required=required) == Readiness(verdict=verdict, reasons=reasons)


# Link, route and name resolution, alone and together with what the endpoints say.
NETWORK: list[tuple[dict[str, Any], list[EndpointProbe], Verdict, list[str]]] = [
    ({"link_up": False}, [probe()], NOT_READY, ["no network link"]),
    ({"link_up": False, "default_route": None}, [unreachable()], NOT_READY, ["no network link"]),
    ({"link_up": False}, [], NOT_READY, ["no network link"]),
    ({"default_route": None}, [probe()], NOT_READY, ["no default route"]),
    (
        {"default_route": None},
        [unreachable(error="network is unreachable")],
        NOT_READY,
        ["no default route", "webinar: unreachable (network is unreachable)"],
    ),
    ({"default_route": "dev wg0"}, [probe()], READY, []),
    ({"dns_ok": False}, [probe()], DEGRADED, ["DNS: name resolution failed"]),
    (
        {"dns_ok": False},
        [unreachable(error="cannot resolve webinar.example.org: no answer within 2 s")],
        NOT_READY,
        [
            "DNS: name resolution failed",
            "webinar: unreachable (cannot resolve webinar.example.org: no answer within 2 s)",
        ],
    ),
    (
        {"dns_ok": False},
        [probe(), unreachable("controller")],
        DEGRADED,
        ["DNS: name resolution failed", "controller: unreachable (timed out)"],
    ),
    ({"dns_ok": None}, [probe()], READY, []),
    ({"dns_ok": True}, [], READY, []),
    (
        {"dns_ok": False, "default_route": None},
        [probe(rtt=400)],
        NOT_READY,
        ["no default route", "DNS: name resolution failed", "webinar: round trip 400 ms > 300 ms"],
    ),
]


@pytest.mark.parametrize(("network", "endpoints", "verdict", "reasons"), NETWORK)
def test_link_route_and_dns(
    network: dict[str, Any], endpoints: list[EndpointProbe], verdict: Verdict, reasons: list[str]
) -> None:
    assert judge(endpoints, **network) == Readiness(verdict=verdict, reasons=reasons)


def test_the_defaults_suit_a_webinar() -> None:
    defaults = Thresholds()
    assert (defaults.rtt_degraded_ms, defaults.rtt_not_ready_ms) == (300, 1000)
    assert (defaults.jitter_degraded_ms, defaults.jitter_not_ready_ms) == (50, 200)
    assert (defaults.loss_degraded_percent, defaults.loss_not_ready_percent) == (2, 10)
    assert defaults.required == ["webinar"]
    assert all(f.description for f in Thresholds.model_fields.values())


@pytest.mark.parametrize(
    "bad",
    [
        {"rtt_degraded_ms": 2000},
        {"jitter_degraded_ms": 300},
        {"loss_degraded_percent": 20},
        {"loss_not_ready_percent": 101},
        {"rtt_degraded_ms": -1},
        {"latency_ms": 5},
    ],
)
def test_thresholds_that_make_no_sense_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Thresholds(**bad)
