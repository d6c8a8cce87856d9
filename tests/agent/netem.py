"""Test support: a real link between two network namespaces, with delay and loss on demand.

`net_lab()` builds namespaces A (the kit, 10.203.0.1/24, default route via B) and B (the far end,
10.203.0.2/24) joined by a veth pair, and runs a TCP server in B that accepts and closes. On demand
it imposes, in B only:

- loss: iptables' `statistic` match drops every Nth SYN to the server port (`--mode nth`, so the
  loss is exact, not random);
- delay: an NFQUEUE rule hands every packet to the server port to a helper process (this file, run
  as `python netem.py delay QUEUE MS`), which holds each one MS milliseconds and then accepts it.
  This kernel has no netem qdisc, so `tc ... delay` is not an option.

Everything is torn down in `finally`: helper processes killed, namespaces (and with them the veth
pair and the rules) deleted. Needs root, iproute2, iptables and NetfilterQueue (PyPI; building it
needs Debian's libnetfilter-queue-dev). Only root and a working `ip netns` are reasons to skip; a
missing package fails the test.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

try:
    from netfilterqueue import NetfilterQueue, Packet
except ImportError as exc:  # net_lab() fails with what to install
    _NFQ_MISSING: str | None = str(exc)
else:
    _NFQ_MISSING = None

AGENT_IP = "10.203.0.1"
SERVER_IP = "10.203.0.2"
SERVER_PORT = 8443
CLOSED_PORT = 8444  # nothing listens there in B: connects are refused
_PREFIX = 24
_QUEUE = 0  # NFQUEUE numbers are per network namespace
_SCRIPT = Path(__file__).resolve()
_READY_TIMEOUT_S = 15.0
_names = itertools.count()


@dataclass
class NetLab:
    """Two namespaces and a server; `impose` and `clear` change what the link does."""

    agent_ns: str
    server_ns: str
    workdir: Path
    _delay: subprocess.Popen[str] | None = field(default=None, init=False)

    def impose(self, *, delay_ms: float = 0.0, drop_every_nth_syn: int = 0) -> None:
        """Replace whatever was imposed by a one-way delay on, and/or SYN loss to, the server."""
        self.clear()
        match = ["-p", "tcp", "-d", SERVER_IP, "--dport", str(SERVER_PORT)]
        if drop_every_nth_syn:
            nth = ["-m", "statistic", "--mode", "nth", "--every", str(drop_every_nth_syn)]
            self._iptables("-A", "INPUT", *match, "--syn", *nth, "--packet", "0", "-j", "DROP")
        if delay_ms:
            self._delay = _start_helper(
                self.server_ns, self.workdir, "delay", str(_QUEUE), str(delay_ms)
            )
            self._iptables("-A", "INPUT", *match, "-j", "NFQUEUE", "--queue-num", str(_QUEUE))

    def clear(self) -> None:
        """Back to a clean link: rules first (nothing may wait on a dead queue), then the helper."""
        self._iptables("-F", "INPUT")
        if self._delay is not None:
            _stop(self._delay)
            self._delay = None

    def run_python(self, code: str, *args: str, timeout: float = 60.0) -> str:
        """Run `python -c code args...` in the agent's namespace and return its stdout."""
        cmd = ["ip", "netns", "exec", self.agent_ns, sys.executable, "-c", code, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AssertionError(
                f"agent code failed with {done.returncode}:\n{done.stderr}\n{done.stdout}"
            )
        return done.stdout

    def _iptables(self, *rule: str) -> None:
        _run("ip", "netns", "exec", self.server_ns, "iptables", "-w", *rule)


@contextmanager
def net_lab(workdir: Path) -> Iterator[NetLab]:
    """Build the two namespaces and the server; tear everything down on the way out."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    for tool, package in (("ip", "iproute2"), ("iptables", "iptables")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install {package}")
    if _NFQ_MISSING:
        pytest.fail(
            f"NetfilterQueue is missing ({_NFQ_MISSING}): apt-get install libnetfilter-queue-dev, "
            "then pip install NetfilterQueue"
        )
    _remove_stale()
    token = f"{os.getpid()}-{next(_names)}"
    agent_ns, server_ns = f"kkA-{token}", f"kkB-{token}"
    probe = subprocess.run(
        ["ip", "netns", "add", agent_ns], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"ip netns is not possible here: {probe.stderr.strip()}")
    with ExitStack() as cleanup:
        cleanup.callback(_delete_ns, agent_ns)
        _run("ip", "netns", "add", server_ns)
        cleanup.callback(_delete_ns, server_ns)
        _run("ip", "link", "add", "kk0", "netns", agent_ns, "type", "veth",
             "peer", "name", "kk1", "netns", server_ns)  # fmt: skip
        for ns, dev, ip in ((agent_ns, "kk0", AGENT_IP), (server_ns, "kk1", SERVER_IP)):
            _run("ip", "-n", ns, "addr", "add", f"{ip}/{_PREFIX}", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", agent_ns, "route", "add", "default", "via", SERVER_IP)
        server = _start_helper(server_ns, workdir, "serve", SERVER_IP, str(SERVER_PORT))
        cleanup.callback(_stop, server)
        lab = NetLab(agent_ns, server_ns, workdir)
        cleanup.callback(lab.clear)
        yield lab


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")


def _delete_ns(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def _remove_stale() -> None:
    """Delete our namespaces left by a test run that was killed (their pid no longer exists)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        name = line.split(" ", 1)[0]
        prefix, _, rest = name.partition("-")
        pid = rest.split("-", 1)[0]
        if prefix in {"kkA", "kkB"} and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _delete_ns(name)


def _start_helper(ns: str, workdir: Path, *args: str) -> subprocess.Popen[str]:
    """Start this file as a helper in namespace `ns` and wait until it says `ready`."""
    log = workdir / f"{args[0]}-{ns}.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(_SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert proc.stdout is not None
    if _read_line(proc.stdout, _READY_TIMEOUT_S) != "ready":
        _stop(proc)
        raise AssertionError(f"helper {args} did not start:\n{log.read_text()}")
    return proc


def _read_line(stream: IO[str], timeout: float) -> str:
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return stream.readline().strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


# -- helper processes (run inside namespace B) -----------------------------------------------


def _serve(host: str, port: int) -> None:
    """Accept TCP connections and close them at once, forever."""
    with socket.create_server((host, port), backlog=1024) as server:
        print("ready", flush=True)
        while True:
            conn, _ = server.accept()
            conn.close()


def _delay(queue_num: int, delay_ms: float) -> None:
    """Hold every packet of NFQUEUE `queue_num` for `delay_ms`, then accept it (in order)."""
    delay_s = delay_ms / 1000.0
    due: list[tuple[float, int, Packet]] = []  # a heap by release time; seq keeps it FIFO
    seq = itertools.count()
    cond = threading.Condition()

    def hold(packet: Packet) -> None:
        with cond:
            heapq.heappush(due, (time.monotonic() + delay_s, next(seq), packet))
            cond.notify()

    def release() -> None:
        while True:
            with cond:
                while not due:
                    cond.wait()
                wait = due[0][0] - time.monotonic()
                if wait > 0:
                    cond.wait(wait)
                    continue
                _, _, packet = heapq.heappop(due)
            packet.accept()  # a verdict may follow the callback; it only needs the packet id

    threading.Thread(target=release, name="release", daemon=True).start()
    queue = NetfilterQueue()
    queue.bind(queue_num, hold)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        queue.run()
    finally:
        with suppress(Exception):
            queue.unbind()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("host")
    serve.add_argument("port", type=int)
    delay = commands.add_parser("delay")
    delay.add_argument("queue", type=int)
    delay.add_argument("ms", type=float)
    args = parser.parse_args()
    if args.command == "serve":
        _serve(args.host, args.port)
    else:
        _delay(args.queue, args.ms)


if __name__ == "__main__":
    _main()
