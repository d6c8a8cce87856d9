"""Test support: a small HTTPS server standing in for the controller's content endpoints.

It requires a client certificate from the test CA (as the controller does), serves signed manifest
documents at `/api/v1/kits/{kit}/manifest?version=N` and blobs at `/api/v1/content/blobs/{sha}`
with `Range` (or ignoring it, on demand), and counts every body byte it writes to a socket (the
figure the interruption test measures). The send buffer is kept small so that what counts as sent
is close to what left the machine. Runs in a thread (`serving`) or as a script in a network
namespace (`python blobserver.py ROOT CERT KEY CA HOST PORT`), which keeps the count in
`ROOT/sent`.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEND_BUFFER = 64 * 1024
_BLOB = re.compile(r"^/api/v1/content/blobs/([0-9a-f]{64})$")
_MANIFEST = re.compile(r"^/api/v1/kits/([A-Za-z0-9._-]+)/manifest$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class Served:
    """What the server holds and has done; tests change `ignore_range` and read `sent`."""

    root: Path
    ignore_range: bool = False
    sent: int = 0
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, n: int) -> None:
        with self.lock:
            self.sent += n


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        served = self.server.served
        url = urlsplit(self.path)
        served.requests.append(f"{self.path} {self.headers.get('Range', '')}".strip())
        if url.path == "/_stats":
            self._send(200, json.dumps({"sent": served.sent}).encode(), count=False)
        elif match := _MANIFEST.match(url.path):
            version = parse_qs(url.query).get("version", ["0"])[0]
            path = served.root / "manifests" / f"{match[1]}-{version}.json"
            self._send(200, path.read_bytes()) if path.is_file() else self._send(404, b"{}")
        elif match := _BLOB.match(url.path):
            self._blob(served.root / "blobs" / match[1])
        else:
            self._send(404, b"{}")

    def _send(self, status: int, body: bytes, *, count: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if count:
            self.server.served.count(len(body))

    def _blob(self, path: Path) -> None:
        if not path.is_file():
            self._send(404, b"{}")
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = _RANGE.match(self.headers.get("Range", ""))
        partial = match is not None and not self.server.served.ignore_range
        if match is not None and partial:
            start = int(match[1])
            end = min(int(match[2]) if match[2] else size - 1, size - 1)
            if start > end:
                self._send(416, b"{}")
                return
        self.send_response(206 if partial else 200)
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with path.open("rb") as source:
            source.seek(start)
            left = end - start + 1
            while left > 0:
                piece = source.read(min(64 * 1024, left))
                self.wfile.write(piece)
                self.server.served.count(len(piece))
                left -= len(piece)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], served: Served, tls: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.served = served
        self.tls = tls

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return conn, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            with suppress(OSError, ssl.SSLError):  # the client went away (killed, link cut)
                _Handler(wrapped, client_address, self)
        finally:
            wrapped.close()


def server_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """TLS that presents the controller's certificate and requires a kit's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(str(ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@contextmanager
def serving(served: Served, tls: ssl.SSLContext, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve in a thread; yields the port."""
    server = _Server((host, 0), served, tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _main() -> None:
    root, cert, key, ca, host, port = sys.argv[1:7]
    served = Served(Path(root))
    server = _Server((host, int(port)), served, server_context(Path(cert), Path(key), Path(ca)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    count = Path(root) / "sent"
    while True:  # the count, for a test outside this network namespace
        count.write_text(str(served.sent))
        time.sleep(0.1)


if __name__ == "__main__":
    _main()
