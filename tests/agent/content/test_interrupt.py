"""The issue's proof: a sync interrupted at random points five times (kill -9 of the agent, and
the link cut with iptables between two network namespaces) completes with every file verified,
and the bytes the server sent are at most the content plus one chunk per interruption.

The kit's side is `kitkeeper-agent run` in namespace A, offline from any broker: its sync thread
takes the pointer the agent kept (`content/pointer.json`) at start, as after any restart. The
server (tests/agent/content/blobserver.py) in namespace B counts every body byte it writes. The
figures are printed for the note.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.content.store import ContentStore
from agent.content.sync import POINTER_FILE
from protocol.content import BlobRef
from tests.agent.content import blobserver
from tests.agent.content.blobserver import Served
from tests.agent.content.lab import KIT, Lab, kit_state, make_pki
from tests.agent.netem import SERVER_IP, NetLab, net_lab
from tests.support import BIN, wait_for

PORT = 8450
MB = 1024 * 1024
INTERRUPTIONS = 5


@dataclass
class Run:
    """The kit's sync process and the link between the namespaces."""

    lab: NetLab
    kit: Lab
    log: Path
    rate: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KITKEEPER_CONTENT_RATE": str(self.rate),
            "KITKEEPER_CONTENT_TIMEOUT": "2",
            "KITKEEPER_CONTENT_RETRY": "0.3",
            "KITKEEPER_WEB_PORT": "0",
        }
        args = [str(BIN / "kitkeeper-agent"), "run", "--state-dir", str(self.kit.state)]
        args += ["--mqtt-host", "127.0.0.1", "--mqtt-port", "1"]  # no broker: the kit is offline
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.lab.agent_ns, *args],
                stdout=log,
                stderr=log,
                env=env,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.start()

    def cut(self, seconds: float) -> None:
        rules = (("INPUT", "--dport"), ("OUTPUT", "--sport"))
        for chain, port in rules:
            self._iptables("-A", chain, "-p", "tcp", port, str(PORT), "-j", "DROP")
        time.sleep(seconds)
        for chain, port in rules:
            self._iptables("-D", chain, "-p", "tcp", port, str(PORT), "-j", "DROP")

    def _iptables(self, *rule: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.lab.server_ns, "iptables", "-w", *rule], check=True
        )


def _on_kit(store: ContentStore, blobs: list[BlobRef]) -> int:
    total = 0
    for blob in blobs:
        for path in (store.blob_path(blob.sha256), store.partial_path(blob.sha256)):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
    return total


def _content(total: int) -> list[bytes]:
    """Files making up `total` bytes: two large ones (chunked by the controller) and a small."""
    sizes = [total // 2, total * 3 // 10]
    sizes.append(total - sum(sizes))
    return [os.urandom(n) for n in sizes]


def _interrupted_sync(tmp: Path, total: int, rate: int) -> None:
    paths = make_pki(tmp / "pki", [SERVER_IP])
    kit = Lab(paths, Served(tmp / "served"), PORT, SERVER_IP, tmp / "kit")
    kit_state(paths, kit.state, kit.key)
    enrolled = {"kit_id": KIT, "controller_url": kit.url}
    (kit.state / "enrollment.json").write_text(json.dumps(enrolled))
    blobs = [kit.blob(data, chunks=len(data) > 8 * MB) for data in _content(total)]
    manifest = kit.manifest(1, blobs)
    store = ContentStore(kit.state)
    (store.root / POINTER_FILE).write_text(kit.publish(manifest).model_dump_json())
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    points = sorted(rng.uniform(0.05, 0.9) for _ in range(INTERRUPTIONS))
    with net_lab(tmp) as lab:
        files = (kit.served.root, paths.controller_cert, paths.controller_key, paths.ca_cert)
        server = subprocess.Popen(
            ["ip", "netns", "exec", lab.server_ns, sys.executable, blobserver.__file__]
            + [str(f) for f in files]
            + [SERVER_IP, str(PORT)],
            stdout=subprocess.PIPE,
        )
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == b"ready"
            run = Run(lab, kit, tmp / "sync.log", rate)
            started = time.monotonic()
            run.start()
            for i, point in enumerate(points):
                wait_for(
                    lambda p=point: _on_kit(store, blobs) >= p * total or None,  # type: ignore[misc]
                    120,
                    f"the sync to reach {point:.0%}",
                    interval=0.01,
                )
                run.kill() if i % 2 == 0 else run.cut(2.5)
            assert run.proc is not None
            wait_for(store.current, 300, "the sync to complete and switch")
            elapsed = time.monotonic() - started
            run.proc.terminate()
            assert run.proc.wait(30) == 0, run.log.read_text()[-3000:]
            time.sleep(0.3)  # the server's count is written every 0.1 s
            sent = int((kit.served.root / "sent").read_text())
        finally:
            server.kill()
            server.wait(10)
            if server.stdout is not None:
                server.stdout.close()
    for blob in blobs:
        data = store.blob_path(blob.sha256).read_bytes()
        assert hashlib.sha256(data).hexdigest() == blob.sha256
    current = store.current()
    assert current is not None
    assert current.version == 1
    largest = max((c.length for b in blobs for c in b.chunks), default=0)
    documents = (kit.served.root / "manifests" / f"{KIT}-1.json").stat().st_size
    extra = sent - total - documents
    print(
        f"\ninterrupted sync (seed {seed}): {total} bytes of content, {INTERRUPTIONS} "
        f"interruptions at {', '.join(f'{p:.0%}' for p in points)} (kill -9 and link cut in "
        f"turn): {sent} bytes sent, {extra} over the content and manifest "
        f"({extra / INTERRUPTIONS:.0f} per interruption; largest chunk {largest}); {elapsed:.1f} s"
    )
    assert extra <= INTERRUPTIONS * largest, f"{extra} bytes wasted by the interruptions"


@pytest.mark.processes
def test_a_200_mb_sync_survives_five_interruptions(tmp_path: Path) -> None:
    # About 15 s here (the transfer capped at 40 MB/s so that the interruptions land inside it).
    _interrupted_sync(tmp_path, 200 * MB, rate=40 * MB)
