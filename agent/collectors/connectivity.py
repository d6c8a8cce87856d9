"""The network facade: link, default route, DNS, TCP probes to each endpoint, optional throughput.

The only module that does network I/O for the snapshot's connectivity part. A probe is a short
series of TCP connects: the round trip is the time `connect()` takes (SYN to SYN/ACK), a probe that
times out, is refused or finds no route counts as lost. Nothing here raises for a network failure:
it becomes `error`, loss or `None`, and `agent.readiness.evaluate` turns the figures into a verdict.
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import statistics
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import psutil

from agent.readiness import Thresholds, evaluate
from protocol.inventory import Connectivity, EndpointProbe

_LOGGER = logging.getLogger(__name__)

_ROUTE_TABLE = Path("/proc/net/route")
_RTF_UP = 0x1
_RESOLVE_TIMEOUT_S = 2.0  # how long a probe waits for its host's name before giving up
_CHUNK = 64 * 1024

_SockAddr: TypeAlias = tuple[Any, ...]  # (host, port) or (host, port, flowinfo, scope_id)
_Address: TypeAlias = tuple[socket.AddressFamily, _SockAddr]
_AddrInfo: TypeAlias = tuple[socket.AddressFamily, socket.SocketKind, int, str, _SockAddr]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Somewhere the kit must reach: "controller", "broker", "webinar", ..."""

    name: str
    host: str
    port: int


class _ResolveError(Exception):
    """A name that did not resolve (in time)."""


def probe_endpoint(
    endpoint: Endpoint, *, count: int = 10, interval_s: float = 0.2, timeout_s: float = 1.0
) -> EndpointProbe:
    """Time `count` TCP handshakes to the endpoint; never raises for a network failure."""
    if count < 1 or interval_s < 0 or timeout_s <= 0:
        raise ValueError("count must be >= 1, interval_s >= 0 and timeout_s > 0")
    try:
        addresses = _addresses(endpoint.host, endpoint.port, timeout_s=_RESOLVE_TIMEOUT_S)
    except _ResolveError as exc:
        return _failed(endpoint, f"cannot resolve {endpoint.host}: {exc}")
    rtts: list[float] = []
    last_error: str | None = None
    start = time.monotonic()
    for i in range(count):
        if i:  # probes start every interval_s, or at once after one that took longer
            time.sleep(max(0.0, start + i * interval_s - time.monotonic()))
        rtt, error, addresses = _connect_once(addresses, timeout_s)
        if rtt is None:
            last_error = error
        else:
            rtts.append(rtt)
    return _summary(endpoint, count, rtts, last_error)


def _addresses(host: str, port: int, *, timeout_s: float) -> list[_Address]:
    infos = _getaddrinfo(host, port, timeout_s)
    return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


def _getaddrinfo(host: str, port: int | None, timeout_s: float) -> list[_AddrInfo]:
    """getaddrinfo in a daemon thread, so a resolver that hangs costs `timeout_s`, not minutes."""
    outcome: list[list[_AddrInfo] | OSError | UnicodeError] = []

    def work() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(
                [(fam, kind, proto, canon, addr) for fam, kind, proto, canon, addr in infos]
            )
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise _ResolveError(f"no answer within {timeout_s:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise _ResolveError(_describe(result)) from result
    if not result:
        raise _ResolveError("no address")
    return result


def _connect_once(
    addresses: list[_Address], timeout_s: float
) -> tuple[float | None, str | None, list[_Address]]:
    """One probe: try each address in turn; the one that answers goes first next time."""
    error: str | None = None
    for index, (family, sockaddr) in enumerate(addresses):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout_s)
            began = time.perf_counter()
            sock.connect(sockaddr)
            rtt_ms = (time.perf_counter() - began) * 1000.0
        except OSError as exc:
            error = _describe(exc)
            continue
        finally:
            sock.close()
        if index:
            addresses = [addresses[index], *addresses[:index], *addresses[index + 1 :]]
        return rtt_ms, None, addresses
    return None, error, addresses


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _summary(
    endpoint: Endpoint, sent: int, rtts: list[float], last_error: str | None
) -> EndpointProbe:
    received = len(rtts)
    jitter = (
        statistics.fmean(abs(b - a) for a, b in itertools.pairwise(rtts)) if received > 1 else None
    )
    return EndpointProbe(
        name=endpoint.name,
        host=endpoint.host,
        port=endpoint.port,
        sent=sent,
        received=received,
        rtt_ms=round(statistics.median(rtts), 3) if rtts else None,
        jitter_ms=round(jitter, 3) if jitter is not None else None,
        loss_percent=round(100.0 * (sent - received) / sent, 3),
        error=last_error if received == 0 else None,
    )


def _failed(endpoint: Endpoint, error: str) -> EndpointProbe:
    return EndpointProbe(
        name=endpoint.name,
        host=endpoint.host,
        port=endpoint.port,
        sent=0,
        received=0,
        loss_percent=100.0,
        error=error,
    )


def link_and_route() -> tuple[bool, str | None]:
    """Whether a non-loopback interface is up with a carrier, and the IPv4 default gateway."""
    link_up = False
    for name, stats in psutil.net_if_stats().items():
        flags = set(stats.flags.split(",")) if stats.flags else set()
        if name == "lo" or "loopback" in flags:
            continue
        # "running" is the carrier (a cable or an association); psutil reports it where it can.
        if stats.isup and (not flags or "running" in flags):
            link_up = True
            break
    return link_up, _default_route()


def _default_route() -> str | None:
    """The gateway of the best IPv4 default route, "dev <name>" for one without a gateway."""
    try:
        lines = _ROUTE_TABLE.read_text(encoding="ascii").splitlines()[1:]
    except OSError as exc:
        _LOGGER.warning("cannot read %s: %s", _ROUTE_TABLE, exc)
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, destination, gateway, flags, metric, mask = (fields[i] for i in (0, 1, 2, 3, 6, 7))
        try:
            if int(destination, 16) or int(mask, 16) or not int(flags, 16) & _RTF_UP:
                continue
            gateway_ip = socket.inet_ntoa(int(gateway, 16).to_bytes(4, "little"))
            rank = int(metric)
        except ValueError:
            continue
        via = gateway_ip if gateway_ip != "0.0.0.0" else f"dev {iface}"
        if best is None or rank < best[0]:
            best = (rank, via)
    return best[1] if best else None


def resolve(name: str, timeout_s: float = 2.0) -> tuple[bool, float | None]:
    """Resolve `name` as the kit's applications would; (resolved, milliseconds it took)."""
    began = time.perf_counter()
    try:
        _getaddrinfo(name, None, timeout_s)
    except _ResolveError as exc:
        _LOGGER.info("DNS: %s did not resolve: %s", name, exc)
        return False, None
    return True, round((time.perf_counter() - began) * 1000.0, 3)


def throughput_mbps(
    url: str,
    *,
    max_bytes: int = 2_000_000,
    timeout_s: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> float | None:
    """Download up to `max_bytes` from `url` (the controller) and return megabits per second."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        _LOGGER.warning("throughput: refusing a non-HTTP URL %r", url)
        return None
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:  # noqa: S310
            began = time.perf_counter()  # from the first byte of the body: not the handshakes
            deadline = began + timeout_s
            while received < max_bytes and time.perf_counter() < deadline:
                chunk = response.read(min(_CHUNK, max_bytes - received))
                if not chunk:
                    break
                received += len(chunk)
            elapsed = time.perf_counter() - began
    except (OSError, ValueError) as exc:  # URLError, HTTPError, TLS and timeouts are OSErrors
        _LOGGER.info("throughput probe to %s failed: %s", url, exc)
        return None
    if received == 0 or elapsed <= 0:
        return None
    return round(received * 8 / elapsed / 1e6, 3)


def collect_connectivity(
    endpoints: list[Endpoint],
    *,
    thresholds: Thresholds,
    dns_name: str | None = None,
    throughput_url: str | None = None,
    throughput_context: ssl.SSLContext | None = None,
    count: int = 10,
    interval_s: float = 0.2,
    timeout_s: float = 1.0,
) -> Connectivity:
    """Measure link, route, DNS and every endpoint (concurrently) and judge webinar readiness."""
    link_up, default_route = link_and_route()
    dns_ok, dns_ms = resolve(dns_name) if dns_name else (None, None)
    probes: list[EndpointProbe] = []
    if endpoints:
        with ThreadPoolExecutor(len(endpoints), thread_name_prefix="probe") as pool:
            probes = list(
                pool.map(
                    lambda e: _probe_guarded(e, count, interval_s, timeout_s),
                    endpoints,
                )
            )
    speed = throughput_mbps(throughput_url, context=throughput_context) if throughput_url else None
    readiness = evaluate(
        link_up=link_up,
        default_route=default_route,
        dns_ok=dns_ok,
        endpoints=probes,
        thresholds=thresholds,
    )
    return Connectivity(
        link_up=link_up,
        default_route=default_route,
        dns_ok=dns_ok,
        dns_ms=dns_ms,
        endpoints=probes,
        throughput_mbps=speed,
        readiness=readiness,
    )


def _probe_guarded(
    endpoint: Endpoint, count: int, interval_s: float, timeout_s: float
) -> EndpointProbe:
    try:
        return probe_endpoint(endpoint, count=count, interval_s=interval_s, timeout_s=timeout_s)
    except Exception as exc:  # one endpoint must never stop the snapshot: log it, report it
        _LOGGER.exception("probe of %s failed", endpoint.name)
        return _failed(endpoint, f"{type(exc).__name__}: {exc}")
