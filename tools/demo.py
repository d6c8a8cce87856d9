"""`make demo`: a TLS broker, a controller and one enrolled agent for this machine, until Ctrl-C.

Everything lives under var/demo/ (device CA, broker configuration, database, logs, the kit's key);
run it again and the kit's history is still there. The first run creates the device CA and enrols
this machine's kit with a one-time token, exactly as a technician would.

It writes var/demo/kitkeeper.env (mode 0600): the demo's database, PKI, broker directory, ports and
personal-data keys as `KITKEEPER_*` settings, which the command line reads
(`KITKEEPER_CONFIG=var/demo/kitkeeper.env kitkeeper-controller ...`, or by itself from the
project's folder while var/kitkeeper.db does not exist: controller/commandline/common.py).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from agent.config import default_kit_id
from agent.identity import load_identity
from controller.errors import ConfigError
from controller.platform.crypto import generate_key
from controller.trust import pki
from controller.trust.broker import BrokerConfig, MosquittoProcess, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
BIN = Path(sys.executable).parent


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})}
        )


PII_FILE = VAR / "pii-keys.json"


def _pii_env() -> dict[str, str]:
    """The demo's personal-data keys: made once, kept (mode 0600) in var/demo/pii-keys.json."""
    if not PII_FILE.exists():
        PII_FILE.touch(mode=0o600)
        PII_FILE.write_text(json.dumps({"keys": [generate_key()], "index_key": generate_key()}))
    keys = json.loads(PII_FILE.read_text())
    return {
        "KITKEEPER_PII_KEYS": json.dumps(keys["keys"]),
        "KITKEEPER_PII_INDEX_KEY": keys["index_key"],
    }


PKI = pki.PkiPaths(VAR / "pki")
CONFIG_FILE = VAR / "kitkeeper.env"


def write_config(var: Path, *, mqtt_port: int, http_port: int, env: dict[str, str]) -> Path:
    """`var`/kitkeeper.env (mode 0600): the demo's settings for the command line (absolute
    paths, so it works from any folder), `env` (the personal-data keys) included."""
    var = var.resolve()
    settings = {
        "KITKEEPER_DB": f"sqlite:///{var / 'kitkeeper.db'}",
        "KITKEEPER_PKI_DIR": str(var / "pki"),
        "KITKEEPER_BROKER_DIR": str(var / "broker"),
        "KITKEEPER_MQTT_HOST": "127.0.0.1",
        "KITKEEPER_MQTT_PORT": str(mqtt_port),
        "KITKEEPER_HTTP_HOST": "127.0.0.1",
        "KITKEEPER_HTTP_PORT": str(http_port),
        **env,
    }
    lines = [
        "# Written by `make demo` (tools/demo.py): the demo's settings for kitkeeper-controller.",
        "# Use: KITKEEPER_CONFIG=var/demo/kitkeeper.env kitkeeper-controller user create ...",
        *(f"{name}='{value}'" for name, value in settings.items()),
    ]
    path = var / "kitkeeper.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(PKI.ca_cert))


ADMIN_FILE = VAR / "admin-password"


def _demo_admin() -> str:
    """The demo's admin password: made once, kept (mode 0600) in var/demo/admin-password."""
    if ADMIN_FILE.exists():
        return ADMIN_FILE.read_text().strip()
    password = secrets.token_urlsafe(12)
    created = subprocess.run(
        [
            str(BIN / "kitkeeper-controller"),
            "user",
            "create",
            "--username",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
            "--db",
            f"sqlite:///{VAR / 'kitkeeper.db'}",
        ],
        input=password,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if created.returncode != 0:
        raise SystemExit(f"demo: cannot create the admin user: {created.stderr.strip()}")
    ADMIN_FILE.touch(mode=0o600)
    ADMIN_FILE.write_text(password + "\n")
    return password


def _token(http_port: int, password: str) -> str | None:
    request = urllib.request.Request(
        f"https://127.0.0.1:{http_port}/api/v1/auth/token",
        json.dumps({"username": "admin", "password": password}).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5, context=_context()) as resp:
            return str(json.load(resp)["access_token"])
    except OSError:
        return None


def _kit_visible(http_port: int, kit_id: str, token: str | None) -> bool:
    request = urllib.request.Request(
        f"https://127.0.0.1:{http_port}/api/v1/kits",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2, context=_context()) as resp:
            return any(k["kit_id"] == kit_id for k in json.load(resp)["items"])
    except OSError:
        return False


def _enroll(http_port: int, kit_id: str, agent_dir: Path) -> bool:
    """Enrol this machine's kit the way a technician would: token, then `kitkeeper-agent enroll`."""
    db = f"sqlite:///{VAR / 'kitkeeper.db'}"
    token = subprocess.run(
        [
            str(BIN / "kitkeeper-controller"),
            "enroll-token",
            "create",
            "--kit-id",
            kit_id,
            "--db",
            db,
            "--pki-dir",
            str(PKI.root),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if token.returncode != 0:
        print(f"demo: cannot create an enrolment token: {token.stderr.strip()}", file=sys.stderr)
        return False
    enrolled = subprocess.run(
        [
            str(BIN / "kitkeeper-agent"),
            "enroll",
            "--controller",
            f"https://127.0.0.1:{http_port}",
            "--token",
            token.stdout.strip(),
            "--state-dir",
            str(agent_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if enrolled.returncode != 0:
        print(f"demo: enrolment failed: {enrolled.stderr.strip()}", file=sys.stderr)
        return False
    print(f"demo: kit {kit_id} enrolled (key and certificate in {agent_dir})")
    return True


def _print_urls(base: str, kit_id: str, mqtt_port: int) -> None:
    print(f"  fleet       {base}/api/v1/kits")
    print(f"  this kit    {base}/api/v1/kits/{kit_id}")
    page = os.environ.get("KITKEEPER_WEB_PORT", "8765")
    if page != "0":
        print(f"  pupil page  http://127.0.0.1:{page}/  (served by the kit's agent, offline too)")
    print(f"  telemetry   {base}/api/v1/kits/{kit_id}/telemetry?after_seq=0&limit=10")
    print(f"  API docs    {base}/docs  (staff only: sign in at {base}/docs/sign-in)")
    print(f"  health      {base}/healthz    metrics {base}/metrics  (staff or the metrics token)")
    print(f"  broker      mqtts://127.0.0.1:{mqtt_port}  (logs and data in {VAR})")
    print(f"  sign in     user admin, password in {ADMIN_FILE}")
    print(
        f"  CLI         KITKEEPER_CONFIG={CONFIG_FILE} kitkeeper-controller ...  (keys in {PII_FILE})"
    )
    print(
        f"  e.g.        TOKEN=$(curl -s --cacert {PKI.ca_cert} -H 'Content-Type: application/json'"
        f' -d \'{{"username":"admin","password":"\'$(cat {ADMIN_FILE})\'"}}\''
        f" {base}/api/v1/auth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    print(
        f'              curl --cacert {PKI.ca_cert} -H "Authorization: Bearer $TOKEN" {base}/api/v1/kits'
    )
    print(
        f'              curl --cacert {PKI.ca_cert} -H "Authorization: Bearer $TOKEN" {base}/metrics'
    )
    print("Press Ctrl-C to stop the broker, the controller and the agent.\n", flush=True)


def _ports_free(args: argparse.Namespace) -> bool:
    for name, port in (("MQTT", args.mqtt_port), ("HTTP", args.http_port)):
        if not _port_free(port):
            print(
                f"demo: port {port} ({name}) is already in use; "
                f"choose another with DEMO_{name}_PORT=... make demo",
                file=sys.stderr,
            )
            return False
    return True


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ensure_pki() -> None:
    if not PKI.exists():
        hosts = ["127.0.0.1", "localhost", socket.gethostname()]
        pki.init_pki(PKI.root, hosts=hosts, now=datetime.now(UTC))
        print(f"demo: device CA created in {PKI.root}")


def _controller_args(mqtt: list[str], http_port: int) -> list[str]:
    return [
        str(BIN / "kitkeeper-controller"),
        "serve",
        "--db",
        f"sqlite:///{VAR / 'kitkeeper.db'}",
        *mqtt,
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--pki-dir",
        str(PKI.root),
        "--broker-dir",
        str(VAR / "broker"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqtt-port", type=int, default=1884)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()

    if not _ports_free(args):
        return 2
    VAR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _ensure_pki()
    password = _demo_admin()
    agent_dir = VAR / "agent"
    identity = load_identity(agent_dir)
    kit_id = identity.kit_id if identity else default_kit_id()
    broker = MosquittoProcess(
        BrokerConfig(port=args.mqtt_port, data_dir=VAR / "broker" / "data", pki=PKI),
        conf_dir=VAR / "broker",
        log_path=VAR / "mosquitto.log",
    )
    try:
        broker.start()
    except ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    mqtt = ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(args.mqtt_port)]
    write_config(VAR, mqtt_port=args.mqtt_port, http_port=args.http_port, env=_pii_env())
    controller = _spawn(
        _controller_args(mqtt, args.http_port), VAR / "controller.log", env=_pii_env()
    )
    agent_args = [
        str(BIN / "kitkeeper-agent"),
        "run",
        *mqtt,
        "--interval",
        str(args.interval),
        "--state-dir",
        str(agent_dir),
    ]

    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    agent: subprocess.Popen[bytes] | None = None
    try:
        if not wait_for_port("127.0.0.1", args.http_port, 30):
            print(f"demo: the controller did not start; see {VAR / 'controller.log'}")
            return 1
        if identity is None and not _enroll(args.http_port, kit_id, agent_dir):
            return 1
        # The demo's playbooks repair a directory under var/demo, never this machine itself.
        kit_root = VAR / "kit-root"
        kit_root.mkdir(exist_ok=True)
        playbook_vars = json.dumps({"kk_root": str(kit_root), "kk_live": False})
        agent = _spawn(
            agent_args, VAR / "agent.log", env={"KITKEEPER_PLAYBOOK_VARS": playbook_vars}
        )
        children = {"controller": controller, "agent": agent}
        base = f"https://127.0.0.1:{args.http_port}"
        token = _token(args.http_port, password)
        while not stopping and not _kit_visible(args.http_port, kit_id, token):
            if time.monotonic() - started > 30:
                print(f"demo: kit {kit_id} not visible after 30 s; see the logs in {VAR}")
                break
            time.sleep(0.2)
        else:
            print(f"\nkitkeeper demo: kit {kit_id} reporting ({time.monotonic() - started:.1f} s)")
        _print_urls(base, kit_id, args.mqtt_port)
        while not stopping:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(f"demo: the {name} exited ({proc.returncode}); see {VAR / name}.log")
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop_all([p for p in (agent, controller) if p is not None])
        broker.stop()
        print("demo: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
