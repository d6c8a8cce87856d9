"""Debian's nginx as a benchmark's peer: a child process on a free port with a temporary config.

`serving(work, locations, tls=...)` writes `work/nginx.conf` (one worker, no daemon, every path
under `work`), starts `nginx -p work -c nginx.conf -e stderr`, waits for its port, yields the
port and the master process, and stops it when the block ends. `locations` is the body of the
`server` block after `listen`. With `tls`, it listens with TLS and may require a client
certificate from a CA (as the controller does).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.common import end
from tests.support import free_port

CONFIG = """\
{user}worker_processes {workers};
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    log_format bench '$request_uri $status $body_bytes_sent $ssl_protocol $ssl_cipher';
    access_log {access};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port}{ssl};
{tls}
{locations}
    }}
}}
"""


@dataclass(frozen=True)
class Tls:
    """The server's certificate and key, and the CA whose client certificates it requires."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def directives(self) -> str:
        """The server block's TLS lines."""
        lines = [
            f"ssl_certificate {self.cert};",
            f"ssl_certificate_key {self.key};",
            "ssl_protocols TLSv1.2 TLSv1.3;",
        ]
        if self.client_ca is not None:
            lines += [f"ssl_client_certificate {self.client_ca};", "ssl_verify_client on;"]
        return "\n".join(f"        {line}" for line in lines)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def serving(
    work: Path, locations: str, *, tls: Tls | None = None, workers: int = 1, log: bool = False
) -> Iterator[tuple[int, psutil.Process]]:
    """Run nginx with `locations` until the block ends; yields its port and master process."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed: `make test-deps` (Debian: nginx-light)")
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = CONFIG.format(
        user="user root;\n" if os.geteuid() == 0 else "",
        workers=workers,
        work=work,
        access=f"{work}/access.log bench" if log else "off",
        port=port,
        ssl=" ssl" if tls else "",
        tls=tls.directives() if tls else "",
        locations=locations,
    )
    (work / "nginx.conf").write_text(config, encoding="utf-8")
    proc = subprocess.Popen(
        [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=(work / "stderr.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(work / 'stderr.log').read_text()}")
            time.sleep(0.05)
        yield port, psutil.Process(proc.pid)
    finally:
        end(proc)
