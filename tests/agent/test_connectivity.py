"""Probes over a real link: the delay and loss imposed between two namespaces are what is measured.

The agent side runs in namespace A (a subprocess under `ip netns exec`), the far end in namespace B;
see `tests/agent/netem.py` for how delay (NFQUEUE) and loss (iptables `statistic`) are imposed.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent.collectors.connectivity import Endpoint, probe_endpoint, resolve, throughput_mbps
from protocol.inventory import Connectivity, Verdict
from tests.agent.netem import CLOSED_PORT, SERVER_IP, SERVER_PORT, NetLab, net_lab

pytestmark = [pytest.mark.slow, pytest.mark.processes]

_AGENT = """
import json, sys
from agent.collectors.connectivity import Endpoint, collect_connectivity
from agent.readiness import Thresholds
spec = json.loads(sys.argv[1])
result = collect_connectivity(
    [Endpoint(**e) for e in spec["endpoints"]],
    thresholds=Thresholds(**spec["thresholds"]),
    **spec["options"],
)
sys.stdout.write(result.model_dump_json())
"""

WEBINAR = {"name": "webinar", "host": SERVER_IP, "port": SERVER_PORT}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetLab]:
    """Two namespaces and a TCP server, shared by the tests of this file."""
    with net_lab(tmp_path_factory.mktemp("netlab")) as built:
        yield built


@pytest.fixture
def clean(lab: NetLab) -> Iterator[NetLab]:
    """The lab with nothing imposed before and after the test."""
    lab.clear()
    yield lab
    lab.clear()


def collect_in_agent_ns(
    lab: NetLab,
    *,
    endpoints: list[dict[str, Any]] | None = None,
    thresholds: dict[str, Any] | None = None,
    **options: Any,
) -> Connectivity:
    spec = {
        "endpoints": [WEBINAR] if endpoints is None else endpoints,
        "thresholds": thresholds or {},
        "options": {"count": 20, "interval_s": 0.02, "timeout_s": 0.5, **options},
    }
    return Connectivity.model_validate_json(lab.run_python(_AGENT, json.dumps(spec)))


def test_a_clean_link_is_ready_with_a_gateway_and_a_short_round_trip(clean: NetLab) -> None:
    result = collect_in_agent_ns(clean)
    assert result.link_up
    assert result.default_route == SERVER_IP
    probe = result.endpoints[0]
    assert (probe.sent, probe.received, probe.loss_percent) == (20, 20, 0)
    assert probe.rtt_ms is not None
    assert probe.rtt_ms < 10
    assert result.readiness.verdict is Verdict.READY
    assert result.readiness.reasons == []


def test_imposed_delay_is_measured_within_20_percent(clean: NetLab) -> None:
    clean.impose(delay_ms=40)
    result = collect_in_agent_ns(clean)
    probe = result.endpoints[0]
    assert probe.received == 20
    assert probe.rtt_ms is not None
    assert 32 <= probe.rtt_ms <= 48, probe
    assert result.readiness.verdict is Verdict.READY  # 40 ms is nothing for a webinar


def test_imposed_syn_loss_is_measured_within_20_percent(clean: NetLab) -> None:
    clean.impose(drop_every_nth_syn=5)  # 20 %
    # timeout_s < 1 s: the kernel retransmits a dropped SYN after 1 s, so a drop counts as lost.
    result = collect_in_agent_ns(clean, count=50, interval_s=0.01, timeout_s=0.3)
    probe = result.endpoints[0]
    assert probe.sent == 50
    assert 16 <= probe.loss_percent <= 24, probe
    assert result.readiness.verdict is Verdict.NOT_READY
    assert result.readiness.reasons == [f"webinar: loss {probe.loss_percent:g}% > 10%"]


@pytest.mark.parametrize(
    ("thresholds", "verdict", "reason"),
    [
        ({}, Verdict.READY, None),
        ({"rtt_degraded_ms": 30}, Verdict.DEGRADED, r"webinar: round trip 4\d(\.\d)? ms > 30 ms"),
        (
            {"rtt_degraded_ms": 20, "rtt_not_ready_ms": 30},
            Verdict.NOT_READY,
            r"webinar: round trip 4\d(\.\d)? ms > 30 ms",
        ),
        ({"rtt_degraded_ms": 50}, Verdict.READY, None),
    ],
)
def test_the_verdict_flips_when_the_measured_delay_crosses_a_threshold(
    clean: NetLab, thresholds: dict[str, Any], verdict: Verdict, reason: str | None
) -> None:
    clean.impose(delay_ms=40)
    readiness = collect_in_agent_ns(clean, thresholds=thresholds, count=10).readiness
    assert readiness.verdict is verdict
    if reason is None:
        assert readiness.reasons == []
    else:
        assert len(readiness.reasons) == 1
        assert re.fullmatch(reason, readiness.reasons[0]), readiness.reasons


def test_the_same_thresholds_on_a_clean_link_say_ready(clean: NetLab) -> None:
    readiness = collect_in_agent_ns(clean, thresholds={"rtt_degraded_ms": 30}).readiness
    assert readiness.verdict is Verdict.READY


def test_a_closed_port_and_an_unknown_host_are_reported_not_raised(clean: NetLab) -> None:
    endpoints = [
        {"name": "webinar", "host": SERVER_IP, "port": CLOSED_PORT},
        {"name": "controller", "host": "kit-controller.invalid", "port": 8443},
    ]
    result = collect_in_agent_ns(
        clean, endpoints=endpoints, dns_name="kit-controller.invalid", count=5
    )
    webinar, controller = result.endpoints
    assert (webinar.received, webinar.loss_percent, webinar.error) == (0, 100, "connection refused")
    assert controller.received == 0
    assert controller.loss_percent == 100
    assert controller.error is not None
    assert controller.error.startswith("cannot resolve kit-controller.invalid")
    assert result.dns_ok is False
    assert result.readiness.verdict is Verdict.NOT_READY
    assert result.readiness.reasons[0] == "DNS: name resolution failed"
    assert result.readiness.reasons[1] == "webinar: unreachable (connection refused)"
    assert result.readiness.reasons[2].startswith("controller: unreachable (cannot resolve")


def test_probing_nothing_that_answers_in_this_namespace_never_raises() -> None:
    probe = probe_endpoint(Endpoint("webinar", "127.0.0.1", 1), count=3, interval_s=0)
    assert (probe.sent, probe.received, probe.loss_percent) == (3, 0, 100)
    assert probe.rtt_ms is None
    assert probe.error == "connection refused"
    assert resolve("localhost")[0] is True
    assert resolve("kit-controller.invalid", timeout_s=2)[0] is False


def test_throughput_counts_the_bytes_of_a_real_download() -> None:
    body = b"x" * 1_000_000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        speed = throughput_mbps(url, max_bytes=500_000)
        assert speed is not None
        assert speed > 0
        assert throughput_mbps(url.replace("http", "ftp", 1)) is None
    finally:
        server.shutdown()
        server.server_close()
    assert throughput_mbps(url, timeout_s=1) is None  # nobody listens any more
