"""Mosquitto configuration written by the controller (plain listener now; TLS with device trust).

Queue limits: Mosquitto's default `max_queued_messages` of 1000 per client drops QoS 1 messages
for a subscriber that falls behind, which the controller must never be. The limits here let the
broker hold a backlog for the controller (bounded by bytes, not count) while it restarts or catches
up.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from controller.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """What the generated configuration needs."""

    port: int
    data_dir: Path
    bind_address: str = "127.0.0.1"
    max_queued_messages: int = 1_000_000
    max_queued_bytes: int = 512 * 1024 * 1024
    max_inflight_messages: int = 100


def render(config: BrokerConfig) -> str:
    """The text of mosquitto.conf for `config`."""
    data = config.data_dir.resolve()
    return "\n".join(
        [
            "# Written by kitkeeper; regenerate rather than edit.",
            f"user {getpass.getuser()}",
            "per_listener_settings false",
            "persistence true",
            f"persistence_location {data}/",
            "autosave_interval 30",
            f"max_queued_messages {config.max_queued_messages}",
            f"max_queued_bytes {config.max_queued_bytes}",
            f"max_inflight_messages {config.max_inflight_messages}",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "",
            f"listener {config.port} {config.bind_address}",
            "protocol mqtt",
            "# Plain MQTT on loopback for the foundation; device trust replaces this with mTLS.",
            "allow_anonymous true",
            "",
        ]
    )


def write(config: BrokerConfig, out_dir: Path) -> Path:
    """Write mosquitto.conf into `out_dir` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mosquitto.conf"
    path.write_text(render(config), encoding="utf-8")
    return path


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class MosquittoProcess:
    """A Mosquitto process run from a generated configuration (demo, tests, benchmarks)."""

    def __init__(self, config: BrokerConfig, conf_dir: Path, log_path: Path) -> None:
        self.config = config
        self.conf_path = write(config, conf_dir)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The listener's port."""
        return self.config.port

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise ConfigError("mosquitto is not installed (apt-get install mosquitto)")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "-c", str(self.conf_path)], stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_for_port(self.config.bind_address, self.config.port, timeout):
            self.stop()
            raise ConfigError(f"mosquitto did not start; see {self.log_path}")

    def kill(self) -> None:
        """Kill -9: the broker loses what it held in memory."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """Stop cleanly (SIGTERM), saving its persistence file."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
