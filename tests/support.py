"""Real processes for tests: a Mosquitto broker, the controller and agents, on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from controller.broker import BrokerConfig, MosquittoProcess, wait_for_port

T = TypeVar("T")
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, KeyError, ValueError):
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http_get(url: str) -> tuple[int, Any]:
    """GET a URL; (status, parsed JSON or text)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def start_broker(tmp: Path, port: int | None = None) -> MosquittoProcess:
    """A running Mosquitto on a free port, with its config and data under `tmp`."""
    broker = MosquittoProcess(
        BrokerConfig(port=port or free_port(), data_dir=tmp / "broker-data"),
        conf_dir=tmp,
        log_path=tmp / "mosquitto.log",
    )
    broker.start()
    return broker


class Proc:
    """A kitkeeper program run as a real process, its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        """Start (again)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Send `sig` and wait; kill if it does not end."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        rc = self.process.returncode
        self.process = None
        return rc

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None


class Controller(Proc):
    """`kitkeeper-controller serve` against a broker, with SQLite under `tmp`."""

    def __init__(self, tmp: Path, mqtt_port: int, db: str | None = None) -> None:
        self.http_port = free_port()
        self.db = db or f"sqlite:///{tmp / 'controller.db'}"
        super().__init__(
            [
                str(BIN / "kitkeeper-controller"),
                "serve",
                "--db",
                self.db,
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                str(mqtt_port),
                "--http-host",
                "127.0.0.1",
                "--http-port",
                str(self.http_port),
            ],
            tmp / f"controller-{self.http_port}.log",
        )

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.http_port}"

    def get(self, path: str) -> tuple[int, Any]:
        """GET a path of its API."""
        return http_get(self.url + path)

    def start(self) -> Controller:
        """Start and wait until the API answers and ingest is connected."""
        super().start()
        assert wait_for_port("127.0.0.1", self.http_port, 30), self.log()
        wait_for(lambda: self.get("/healthz")[0] == 200, 30, "controller healthy")
        return self


class Agent(Proc):
    """`kitkeeper-agent run` for one kit."""

    def __init__(self, tmp: Path, mqtt_port: int, kit_id: str, interval: float = 1.0) -> None:
        self.kit_id = kit_id
        self.state_dir = tmp / f"agent-{kit_id}"
        super().__init__(
            [
                str(BIN / "kitkeeper-agent"),
                "run",
                "--kit-id",
                kit_id,
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                str(mqtt_port),
                "--interval",
                str(interval),
                "--state-dir",
                str(self.state_dir),
            ],
            tmp / f"agent-{kit_id}.log",
            env={"KITKEEPER_RECONNECT_MAX_DELAY": "2"},
        )
