"""A small HTTP/1.1 load generator: N kept-alive connections GETting one URL for a while.

Neither `ab` nor `wrk` is installed here, so the benchmarks bring their own: `processes` worker
processes (so the client is not one core's worth of Python) each drive `connections` sockets
with `selectors`, one request in flight per connection (no pipelining), reading every response
whole by its Content-Length into a reused buffer and throwing it away. A response that is not
200/206 or has no Content-Length stops the run with an error. Each worker counts responses and
body bytes after a warm-up; the CPU it used is reported so a reader can see whether the client,
rather than the server, was the limit.
"""

from __future__ import annotations

import multiprocessing
import resource
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any

BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Load:
    """What to ask for, how hard and how long."""

    host: str
    port: int
    path: str
    connections: int = 16
    processes: int = 1
    seconds: float = 10.0
    warmup: float = 2.0


@dataclass(frozen=True)
class Outcome:
    """What the load got: responses and body bytes per second, and the client's CPU."""

    requests_per_s: float
    bytes_per_s: float
    responses: int
    seconds: float
    client_cpu_s: float

    def as_dict(self) -> dict[str, Any]:
        """For the results file."""
        return {
            "requests_per_s": round(self.requests_per_s, 1),
            "mib_per_s": round(self.bytes_per_s / 2**20, 1),
            "responses": self.responses,
            "seconds": round(self.seconds, 2),
            "client_cpu_s": round(self.client_cpu_s, 2),
        }


class _Conn:
    """One kept-alive connection: send a request, read its response, again."""

    def __init__(self, load: Load, request: bytes) -> None:
        self.sock = socket.create_connection((load.host, load.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.request = request
        self.head = bytearray()
        self.left = -1  # body bytes still to come; -1: reading the head
        self.sock.send(request)

    def received(self, data: memoryview) -> tuple[int, int]:
        """Take bytes read; (responses completed, body bytes) in them."""
        done = body = 0
        while len(data):
            if self.left < 0:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return done, body
                data = memoryview(bytes(self.head[end + 4 :]))
                self.left = _content_length(bytes(self.head[:end]))
                self.head.clear()
            take = min(self.left, len(data))
            self.left -= take
            body += take
            data = data[take:]
            if self.left == 0:
                done += 1
                self.left = -1
                self.sock.send(self.request)
        return done, body


def _content_length(head: bytes) -> int:
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) < 2 or status[1] not in (b"200", b"206"):
        raise RuntimeError(f"the server answered {lines[0]!r}")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError("a response without Content-Length")


def _worker(load: Load, connections: int, results: Any) -> None:
    try:
        results.put(_drive(load, connections))
    except Exception as exc:  # the parent says it; a worker's traceback alone says little
        results.put(f"{type(exc).__name__}: {exc}")


def _drive(load: Load, connections: int) -> tuple[int, int, float, float]:
    request = (
        f"GET {load.path} HTTP/1.1\r\nHost: {load.host}:{load.port}\r\n"
        "Accept: */*\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    conns = [_Conn(load, request) for _ in range(connections)]
    for conn in conns:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    buffer = memoryview(bytearray(BUFFER))
    start = time.monotonic()
    counting_from = start + load.warmup
    end = counting_from + load.seconds
    responses = body = 0
    cpu_at = 0.0
    counting = False
    while (now := time.monotonic()) < end:
        if not counting and now >= counting_from:
            counting, responses, body = True, 0, 0
            cpu_at = _cpu()
        for key, _ in selector.select(timeout=0.5):
            conn = key.data
            n = conn.sock.recv_into(buffer)
            if n == 0:
                raise RuntimeError("the server closed a kept-alive connection")
            done, got = conn.received(buffer[:n])
            responses += done
            body += got
    measured = (responses, body, time.monotonic() - counting_from, _cpu() - cpu_at)
    for conn in conns:
        conn.sock.close()
    return measured


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(load: Load) -> Outcome:
    """Drive the load; the responses and bytes per second over the measured seconds."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    share = [load.connections // load.processes] * load.processes
    share[0] += load.connections - sum(share)
    workers = [context.Process(target=_worker, args=(load, n, results)) for n in share]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=load.warmup + load.seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    failed = [g for g in got if isinstance(g, str)]
    if failed:
        raise RuntimeError(f"the load failed: {failed[0]}")
    seconds = max(g[2] for g in got)
    responses = sum(g[0] for g in got)
    return Outcome(
        requests_per_s=responses / seconds,
        bytes_per_s=sum(g[1] for g in got) / seconds,
        responses=responses,
        seconds=seconds,
        client_cpu_s=sum(g[3] for g in got),
    )
