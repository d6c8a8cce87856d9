"""Mosquitto configuration written by the controller: a TLS listener, per-kit ACL, CRL, limits.

Queue limits: Mosquitto's default `max_queued_messages` of 1000 per client drops QoS 1 messages
for a subscriber that falls behind, which the controller must never be. The limits here let the
broker hold a backlog for the controller (bounded by bytes, not count) while it restarts or catches
up.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from common.files import PUBLIC_MODE, write_atomic
from controller.errors import ConfigError
from controller.trust.pki import CONTROLLER_CN, PkiPaths
from protocol.topics import Channel

CONF_FILE = "mosquitto.conf"
ACL_FILE = "acl"
LOCAL_ACL_FILE = "acl.local"
REVOKED_FILE = "revoked"
"""The revoked kits' ids, one a line: the subscription guard refuses them everything."""
PID_FILE = "mosquitto.pid"
PLUGIN_SOURCE = Path(__file__).with_name("broker_acl.c")
PLUGIN_FILE = "kitkeeper_acl.so"
"""The subscription guard (broker_acl.c), built next to the configuration."""
PLUGIN_HEADER = Path("/usr/include/mosquitto_plugin.h")
PLUGIN_CACHE = Path.home() / ".cache" / "kitkeeper"
DATA_DIR_MODE = 0o700

KIT_WRITES = (Channel.TELEMETRY, Channel.EVENTS, Channel.STATUS)
KIT_READS = (Channel.CMD, Channel.SCHEDULE, Channel.MANIFEST, Channel.ACK)


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """What the generated configuration needs; `pki` None means plain MQTT (development only)."""

    port: int
    data_dir: Path
    pki: PkiPaths | None = None
    bind_address: str = "127.0.0.1"
    max_queued_messages: int = 1_000_000
    max_queued_bytes: int = 1024 * 1024 * 1024
    max_inflight_messages: int = 100


def render(config: BrokerConfig, out_dir: Path) -> str:
    """The text of mosquitto.conf for `config`, its ACL and pid file in `out_dir`."""
    out = out_dir.resolve()
    lines = [
        "# Written by `kitkeeper-controller broker-config`; regenerate rather than edit.",
        f"user {getpass.getuser()}",
        f"pid_file {out / PID_FILE}",
        "per_listener_settings false",
        "persistence true",
        f"persistence_location {config.data_dir.resolve()}/",
        "autosave_interval 30",
        "# The controller must never be dropped from under load: Mosquitto's default of 1000",
        "# queued messages per client is far too small for a controller that restarts.",
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
    ]
    if config.pki is None:
        lines += [
            "# Development only: plain MQTT, anyone on this host may connect.",
            "allow_anonymous true",
        ]
    else:
        pki = config.pki
        lines += [
            f"cafile {pki.ca_cert.resolve()}",
            f"certfile {pki.broker_cert.resolve()}",
            f"keyfile {pki.broker_key.resolve()}",
            f"crlfile {pki.crl.resolve()}",
            "tls_version tlsv1.2",
            "require_certificate true",
            "# The certificate's CN is the user name: a kit's id, or the controller's identity.",
            "use_identity_as_username true",
            "use_username_as_clientid true",
            "allow_anonymous false",
            f"acl_file {out / ACL_FILE}",
            "# The acl_file never checks SUBSCRIBE: this plugin confines each kit to its own",
            "# topics (no wildcards, no shared subscriptions) and cuts revoked kits off.",
            f"plugin {out / PLUGIN_FILE}",
            f"plugin_opt_controller {' '.join([CONTROLLER_CN, *local_users(out)])}",
            f"plugin_opt_subscribe {' '.join(f'kits/%u/{c.value}' for c in KIT_READS)}",
            f"plugin_opt_revoked_file {out / REVOKED_FILE}",
        ]
    return "\n".join([*lines, ""])


def render_acl(revoked_kits: list[str], local: str = "") -> str:
    """The ACL: the controller's rights, nothing for revoked kits, each kit its own subtree."""
    lines = ["# Written by kitkeeper; regenerated on every revocation.", f"user {CONTROLLER_CN}"]
    lines += [f"topic read kits/+/{c.value}" for c in KIT_WRITES]
    lines += [f"topic write kits/+/{c.value}" for c in KIT_READS]
    for kit_id in revoked_kits:
        lines += ["", f"# revoked: {kit_id}", f"user {kit_id}", "topic deny #"]
    if local.strip():
        lines += ["", "# from acl.local", local.strip()]
    lines += ["", "# Every kit: its own subtree only (%u is its certificate's CN)."]
    lines += [f"pattern write kits/%u/{c.value}" for c in KIT_WRITES]
    lines += [f"pattern read kits/%u/{c.value}" for c in KIT_READS]
    return "\n".join([*lines, ""])


def local_users(out_dir: Path) -> list[str]:
    """The identities `acl.local` names (a site's own tools): not confined to a kit's topics."""
    path = out_dir / LOCAL_ACL_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    named = (line.split() for line in lines)
    return [words[1] for words in named if len(words) == 2 and words[0] == "user"]


def write_acl(out_dir: Path, *, revoked_kits: list[str]) -> Path:
    """(Re)write the ACL and the revoked list in `out_dir`, keeping whatever `acl.local` adds."""
    local_path = out_dir / LOCAL_ACL_FILE
    local = local_path.read_text(encoding="utf-8") if local_path.exists() else ""
    path = out_dir / ACL_FILE
    write_atomic(path, render_acl(revoked_kits, local).encode(), PUBLIC_MODE)
    revoked = "".join(f"{kit_id}\n" for kit_id in revoked_kits)
    write_atomic(out_dir / REVOKED_FILE, revoked.encode(), PUBLIC_MODE)
    return path


def build_plugin(out_dir: Path) -> Path:
    """Put the subscription guard, compiled from broker_acl.c, into `out_dir`; its path.

    Compiled once per version of its source into ~/.cache/kitkeeper and copied from there. It
    needs a C compiler and Mosquitto's plugin headers (Debian: gcc, mosquitto-dev).
    """
    source = PLUGIN_SOURCE.read_bytes()
    cached = PLUGIN_CACHE / f"kitkeeper_acl-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if not cached.exists():
        _compile_plugin(cached)
    target = out_dir / PLUGIN_FILE
    if not target.exists() or target.read_bytes() != cached.read_bytes():
        partial = target.with_name(f".{PLUGIN_FILE}.{os.getpid()}")
        shutil.copyfile(cached, partial)
        partial.replace(target)
    return target


def _compile_plugin(target: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not PLUGIN_HEADER.exists():
        raise ConfigError(
            "building the broker's subscription guard needs a C compiler and Mosquitto's "
            "plugin headers: apt-get install gcc mosquitto-dev"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    command = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial)]
    result = subprocess.run(
        [*command, str(PLUGIN_SOURCE)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ConfigError(f"cannot build the broker's subscription guard: {result.stderr}")
    partial.replace(target)


def _private_dir(path: Path) -> None:
    """Make a folder only its owner may enter (the broker's persistence holds kits' messages)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(DATA_DIR_MODE)


def write(config: BrokerConfig, out_dir: Path, *, revoked_kits: list[str] | None = None) -> Path:
    """Write mosquitto.conf (and with TLS, the ACL) into `out_dir`; return the conf path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _private_dir(config.data_dir)
    if config.pki is not None:
        if not config.pki.exists():
            raise ConfigError(
                f"no device CA in {config.pki.root}: run `kitkeeper-controller pki init` first"
            )
        write_acl(out_dir, revoked_kits=revoked_kits or [])
        build_plugin(out_dir)
    path = out_dir / CONF_FILE
    write_atomic(path, render(config, out_dir).encode(), PUBLIC_MODE)
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

    def __init__(
        self,
        config: BrokerConfig,
        conf_dir: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.env = env
        """Extra environment for the process (tests run it under libfaketime); None: ours."""
        self.conf_dir = conf_dir
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
                [binary, "-c", str(self.conf_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env else None,
                umask=0o077,  # its persistence file holds kits' messages: 0600
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
