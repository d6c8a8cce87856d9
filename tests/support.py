"""Real processes for tests: a Mosquitto broker with TLS, the controller and agents, free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent.enroll import BUNDLE_KEY_FILE
from agent.identity import generate_key, make_csr, save_identity
from common.files import PUBLIC_MODE, write_atomic
from controller.platform.crypto import generate_key as generate_pii_key
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import upgrade
from controller.remediation import bundles
from controller.trust import pki
from controller.trust.broker import BrokerConfig, MosquittoProcess, wait_for_port
from controller.trust.staff import create_user

T = TypeVar("T")
BIN = Path(sys.executable).parent
ROLES = ("admin", "technician", "teacher")


@dataclass
class MigratedDb:
    """A database at the latest schema: its URL (for a process), engine and sessions."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def migrated(url: str) -> MigratedDb:
    """Create (if need be) and migrate the database at `url`; dispose of its engine when done."""
    engine = make_engine(url)
    upgrade(engine)
    return MigratedDb(url, engine, make_sessionmaker(engine))


def create_staff(db: str) -> None:
    """An admin, a technician and a teacher, each named after the role (in-process: fast)."""
    database = migrated(db)
    with database.sessions.begin() as session:
        for role in ROLES:
            create_user(
                session, username=role, password=password(role), role=role, now=datetime.now(UTC)
            )
    database.engine.dispose()


def password(role: str) -> str:
    """The test password of the staff member named after `role`."""
    return f"correct horse battery staple {role}"


HOSTS = ["127.0.0.1", "localhost"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A port P with P and P + 1 free (the pupil's page and its materials)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports side by side")


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, KeyError, ValueError, TypeError):
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class Broker:
    """A real Mosquitto with the generated TLS configuration and its device CA."""

    process: MosquittoProcess
    pki: pki.PkiPaths
    dir: Path

    @property
    def port(self) -> int:
        """The TLS listener's port."""
        return self.process.port

    def start(self) -> None:
        """Start (again)."""
        self.process.start()

    def stop(self) -> None:
        """Stop cleanly."""
        self.process.stop()

    def kill(self) -> None:
        """Kill -9."""
        self.process.kill()


def start_broker(tmp: Path, port: int | None = None, env: dict[str, str] | None = None) -> Broker:
    """A device CA under tmp/pki and a running TLS broker configured from it under tmp/broker."""
    paths = pki.PkiPaths(tmp / "pki")
    if not paths.exists():
        pki.init_pki(paths.root, hosts=HOSTS, now=datetime.now(UTC))
    process = MosquittoProcess(
        BrokerConfig(port=port or free_port(), data_dir=tmp / "broker" / "data", pki=paths),
        conf_dir=tmp / "broker",
        log_path=tmp / "mosquitto.log",
        env=env,
    )
    process.start()
    return Broker(process, paths, tmp / "broker")


def faketime_env(offset: str) -> dict[str, str]:
    """Environment that runs a process and its children `offset` away (`+45d`) with libfaketime.

    The library is preloaded directly rather than through the `faketime` program, which forks
    and does not pass SIGTERM on to its child. The monotonic clock stays the host's own (as
    after a reboot), and Python programs sleep through tests/faketime/sitecustomize.py.
    """
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is not installed (apt-get install faketime)")
    python_path = [str(Path(__file__).parent / "faketime"), os.environ.get("PYTHONPATH", "")]
    return {
        "LD_PRELOAD": str(found[0]),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
    }


def connects(broker: Broker, cert_dir: Path) -> bool:
    """Whether a client with this kit's certificate gets a successful CONNACK within seconds."""
    outcome: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    context = ssl.create_default_context(cafile=str(broker.pki.ca_cert))
    context.load_cert_chain(str(cert_dir / "kit.crt"), str(cert_dir / "kit.key"))
    client.tls_set_context(context)
    client.on_connect = lambda c, u, f, rc, p: outcome.append(not rc.is_failure)
    try:
        client.connect("127.0.0.1", broker.port)
    except (OSError, ssl.SSLError):
        return False
    client.loop_start()
    try:
        deadline = time.monotonic() + 4
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return bool(outcome and outcome[0])


def provision_kit(
    paths: pki.PkiPaths,
    state_dir: Path,
    kit_id: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> None:
    """Give a kit a key, a certificate from the CA and the bundle key, as enrolment would."""
    key = generate_key(state_dir / "kit.key")
    now = datetime.now(UTC)
    cert = pki.issue_certificate(
        paths,
        common_name=kit_id,
        public_key=key.public_key(),
        not_before=not_before or now - timedelta(minutes=5),
        not_after=not_after or now + timedelta(days=365),
    )
    assert make_csr(key, kit_id)  # the same key a CSR would carry
    save_identity(state_dir, cert_pem=pki.pem(cert), ca_pem=paths.ca_cert.read_bytes())
    # --- playbook bundles: the key that signs them, as enrolment hands it out -------------------
    signing_key = bundles.ensure_signing_key(paths.bundle_key)
    write_atomic(state_dir / BUNDLE_KEY_FILE, bundles.public_key_pem(signing_key), PUBLIC_MODE)
    # --- end of playbook bundles ---


def ssl_context(paths: pki.PkiPaths, cert_dir: Path | None = None) -> ssl.SSLContext:
    """Trust the test CA (and present a kit's certificate when `cert_dir` has one)."""
    context = ssl.create_default_context(cafile=str(paths.ca_cert))
    if cert_dir is not None:
        context.load_cert_chain(str(cert_dir / "kit.crt"), str(cert_dir / "kit.key"))
    return context


def mqtt_client(
    broker: Broker, cert_dir: Path, client_id: str = ""
) -> tuple[mqtt.Client, list[mqtt.MQTTMessage]]:
    """A raw paho client with a kit's certificate; returns it and the list its messages land in."""
    received: list[mqtt.MQTTMessage] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.tls_set_context(ssl_context(broker.pki, cert_dir))
    client.on_message = lambda c, u, m: received.append(m)
    return client, received


def http_get(
    url: str, context: ssl.SSLContext | None = None, token: str | None = None
) -> tuple[int, Any]:
    """GET a URL (with a bearer token if given); (status, parsed JSON or text)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:  # text, or bytes such as a PDF
        try:
            return status, body.decode()
        except UnicodeDecodeError:
            return status, body


def http_post(
    url: str,
    data: Any,
    context: ssl.SSLContext | None = None,
    token: str | None = None,
    method: str = "POST",
) -> tuple[int, Any]:
    """POST (or PUT) JSON (with a bearer token if given); (status, parsed JSON)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(data).encode(), headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


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
    """`kitkeeper-controller serve` against a broker, TLS from its CA, SQLite under `tmp`."""

    def __init__(self, tmp: Path, broker: Broker, db: str | None = None, **env: str) -> None:
        env = {
            "KITKEEPER_PII_KEYS": json.dumps([generate_pii_key()]),
            "KITKEEPER_PII_INDEX_KEY": generate_pii_key(),
            **env,
        }
        self.http_port = free_port()
        self.db = db or f"sqlite:///{tmp / 'controller.db'}"
        self.pki = broker.pki
        self.context = ssl_context(broker.pki)
        self.tokens: dict[str, str] = {}
        super().__init__(
            [
                str(BIN / "kitkeeper-controller"),
                "serve",
                "--db",
                self.db,
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                str(broker.port),
                "--http-host",
                "127.0.0.1",
                "--http-port",
                str(self.http_port),
                "--pki-dir",
                str(broker.pki.root),
                "--broker-dir",
                str(broker.dir),
            ],
            tmp / f"controller-{self.http_port}.log",
            env=env,
        )

    @property
    def url(self) -> str:
        """Base URL of its HTTPS API."""
        return f"https://127.0.0.1:{self.http_port}"

    def get(self, path: str, role: str | None = "admin") -> tuple[int, Any]:
        """GET a path of its API as a member of staff with `role` (None: no credentials)."""
        return http_get(self.url + path, self.context, self.tokens.get(role) if role else None)

    def post(self, path: str, data: Any, role: str | None = None) -> tuple[int, Any]:
        """POST JSON to a path of its API (as `role`, if given)."""
        return http_post(
            self.url + path, data, self.context, self.tokens.get(role) if role else None
        )

    def put(self, path: str, data: Any, role: str | None = None) -> tuple[int, Any]:
        """PUT JSON to a path of its API (as `role`, if given)."""
        return http_post(
            self.url + path,
            data,
            self.context,
            self.tokens.get(role) if role else None,
            method="PUT",
        )

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `kitkeeper-controller ARGS --db ... --pki-dir ...` against the same files."""
        if args[0] in ("keys", "user"):  # commands without --pki-dir
            return subprocess.run(
                [str(BIN / "kitkeeper-controller"), *args, "--db", self.db],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={**self.env, **(env or {})},
            )
        return subprocess.run(
            [
                str(BIN / "kitkeeper-controller"),
                *args,
                "--db",
                self.db,
                "--pki-dir",
                str(self.pki.root),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env} if env else None,
        )

    def start(self, wait_connected: bool = True) -> Controller:
        """Start and wait until the API answers (and ingest is connected); sign staff in."""
        if not self.tokens:
            create_staff(self.db)
        for _ in range(3):  # a free port may be taken by another process before we bind it
            super().start()
            if wait_for_port("127.0.0.1", self.http_port, 30):
                break
            self.stop()
            if "address already in use" not in self.log():
                break
            port = free_port()
            self.args[self.args.index(str(self.http_port))] = str(port)
            self.http_port = port
        assert wait_for_port("127.0.0.1", self.http_port, 1), self.log()
        if wait_connected:
            wait_for(lambda: self.get("/healthz", None)[0] == 200, 30, "controller healthy")
        for role in ROLES:
            status, body = self.post(
                "/api/v1/auth/token", {"username": role, "password": password(role)}
            )
            assert status == 200, body
            self.tokens[role] = body["access_token"]
        return self


def call(
    controller: Controller,
    method: str,
    path: str,
    body: bytes | None = None,
    role: str | None = "admin",
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """Any method, any body; (status, parsed JSON)."""
    headers = {"Content-Type": content_type}
    if role:
        headers["Authorization"] = f"Bearer {controller.tokens[role]}"
    request = urllib.request.Request(controller.url + path, body, headers, method=method)
    try:
        with urllib.request.urlopen(request, context=controller.context, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def put(controller: Controller, path: str, data: Any, role: str = "admin") -> tuple[int, Any]:
    """PUT JSON as `role`; (status, parsed JSON)."""
    return call(controller, "PUT", path, json.dumps(data).encode(), role)


def metric(controller: Controller, name: str, **labels: str) -> float:
    """The value of the controller's metric `name` with these labels (KeyError: none yet)."""
    status, text = controller.get("/metrics")
    assert status == 200
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise KeyError(name)


def kit(controller: Controller, kit_id: str) -> dict | None:
    """The kit as the controller's API shows it (None: not known)."""
    status, body = controller.get(f"/api/v1/kits/{kit_id}")
    return body if status == 200 else None


class Agent(Proc):
    """`kitkeeper-agent run` for one kit, with a certificate from the broker's CA."""

    def __init__(
        self,
        tmp: Path,
        broker: Broker,
        kit_id: str,
        interval: float = 1.0,
        provision: bool = True,
        **env: str,
    ) -> None:
        self.kit_id = kit_id
        self.state_dir = tmp / f"agent-{kit_id}"
        if provision and not (self.state_dir / "kit.crt").exists():
            provision_kit(broker.pki, self.state_dir, kit_id)
        super().__init__(
            [
                str(BIN / "kitkeeper-agent"),
                "run",
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                str(broker.port),
                "--interval",
                str(interval),
                "--state-dir",
                str(self.state_dir),
            ],
            tmp / f"agent-{kit_id}.log",
            env={
                "KITKEEPER_RECONNECT_MAX_DELAY": "2",
                "KITKEEPER_ACK_TIMEOUT": "5",
                "KITKEEPER_WEB_PORT": "0",  # no pupil's page: agents of parallel tests share 8765
                **env,
            },
        )

    def last_seq(self) -> int:
        """The last seq the agent handed out (read from its outbox; the agent may be stopped)."""
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(self.state_dir / "outbox.db") as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return int(row[0]) if row else 0

    def outbox_size(self) -> int:
        """Messages still waiting for the controller's acknowledgement."""
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(self.state_dir / "outbox.db") as db:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


def one_off_lesson(start: datetime, minutes: int, **fields: Any) -> dict[str, Any]:
    """A schedule with one lesson at `start` (UTC), in an Etc/GMT zone where it falls in the day.

    Schedules are local: a test that puts a lesson a few minutes from now picks the zone in which
    now is daytime, whatever hour the test runs at, so the lesson's day is plainly today there
    (lessons past midnight are tested on their own, in tests/controller/test_schedules_*).
    """
    for offset in sorted(range(-12, 15), key=abs):
        local = start + timedelta(hours=offset)
        if 6 <= local.hour < 16:
            break
    zone = "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    lesson = {
        "date": local.date().isoformat(),
        "start": local.strftime("%H:%M"),
        "duration_min": minutes,
        **fields,
    }
    return {"timezone": zone, "extras": [lesson]}


def days_from_today(days: int) -> str:
    """The UTC date `days` from today, as ISO text: test dates move with the clock."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def loan_period() -> dict[str, str]:
    """A contract's start and end around today (begun 90 days ago, ending in 270 days)."""
    return {"start": days_from_today(-90), "end": days_from_today(270)}


def pdf_text(pdf: bytes, where: Path) -> str:
    """What poppler's pdftotext reads out of a PDF, every run of spaces and line breaks made one
    space (so wrapped phrases match)."""
    assert isinstance(pdf, bytes), f"not a PDF: {pdf!r}"
    assert pdf.startswith(b"%PDF-"), "not a PDF"
    path = where / f"document-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=30
    )
    return " ".join(done.stdout.split())
