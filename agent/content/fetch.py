"""Fetching from the controller over HTTPS with the kit's certificate: documents and blobs.

`Client` wraps one httpx client (the kitkeeper CA trusted, the kit's certificate presented, a
small receive buffer so that little is in flight when a link dies). `BlobFetcher.fetch` puts one
blob together in its partial file from a plan (`agent.content.plan`): local chunks copied, the
rest fetched with `Range`, the sha256 computed while streaming and checked at the end. An
interrupted download (process killed, link cut) continues from the partial file's length, whose
bytes are hashed again first. A server that ignores `Range` (200) restarts the file cleanly.
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from agent.content.plan import Local, Remote, Segment, remaining
from agent.content.store import ContentStore
from protocol.content import BlobRef

if TYPE_CHECKING:
    import httpx

_LOGGER = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per blob request in the log

PIECE: Final = 64 * 1024
RECEIVE_BUFFER: Final = 256 * 1024
"""The socket's receive buffer: what is in flight, lost when the agent is killed or the link
cut, is about this much (measured: 0.13-0.22 MB per interruption at 128 KiB, 0.34-0.35 MB at
256 KiB, 0.63-0.72 MB at 512 KiB, with chunks of 256 KiB on average and 1 MiB at most), and it
caps one download at about its size per round trip (the kernel doubles it, half goes to
overhead): 256 KiB is ~5 MB/s at 50 ms, ~2.6 MB/s at 100 ms, against the default cap of 4 MiB/s."""
BLOB_PATH: Final = "/api/v1/content/blobs/{sha256}"
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class SyncError(Exception):
    """Sync cannot go on now: `reason` (`unreachable`, `http_<code>`, ...) and a sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail[:500]


class BlobRefusedError(SyncError):
    """A blob's bytes are not what the manifest says (its partial file is deleted)."""

    def __init__(self, sha256: str, detail: str) -> None:
        super().__init__("blob_refused", f"blob {sha256[:12]}: {detail}")
        self.sha256 = sha256


class DiskFullError(SyncError):
    """The disk cannot take what is missing and keep the reserve: `bytes_missing` more needed."""

    def __init__(self, needed: int, short: int, free: int) -> None:
        super().__init__(
            "disk_full",
            f"{needed} bytes to download, {free} free: {short} more needed with the reserve",
        )
        self.bytes_missing = short


class LessonOnError(Exception):
    """An online lesson began: the download stops here and continues after it."""


Gate = Callable[[int], None]
"""Called before `n` fetched bytes are written: sleeps for the cap, raises LessonOnError."""


class Client:
    """HTTPS to the controller with the kit's certificate (one connection pool, made on first
    use: a kit with nothing to fetch never loads httpx, a few megabytes of its memory)."""

    def __init__(self, base_url: str, tls: ssl.SSLContext | None, *, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._tls = tls
        self._timeout = timeout
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx  # noqa: PLC0415 - see the class docstring

            transport = httpx.HTTPTransport(
                verify=self._tls if self._tls is not None else True,
                socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)],
            )
            self._client = httpx.Client(
                base_url=self._base_url,
                transport=transport,
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"Accept-Encoding": "identity"},  # bytes as stored: ranges, hashes hold
            )
        return self._client

    def close(self) -> None:
        """Close the connections (a later request opens new ones)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def document(self, path: str, limit: int) -> bytes:
        """GET a document of at most `limit` bytes from a path on the controller."""
        import httpx  # noqa: PLC0415

        if not path.startswith("/") or path.startswith("//"):
            raise SyncError("malformed", "the manifest's URL is not a path on the controller")
        body = bytearray()
        try:
            with self._http().stream("GET", path) as response:
                _check_status(response)
                for piece in response.iter_raw(PIECE):
                    body += piece
                    if len(body) > limit:
                        raise SyncError("too_large", f"the document is over {limit} bytes")
        except httpx.HTTPError as exc:
            raise SyncError("unreachable", f"{type(exc).__name__}: {exc}") from exc
        return bytes(body)

    def blob(self, sha256: str, start: int, end: int) -> httpx.Response:
        """Open a GET of the blob's bytes `start`..`end` (inclusive); the caller closes it."""
        import httpx  # noqa: PLC0415

        http = self._http()
        request = http.build_request(
            "GET", BLOB_PATH.format(sha256=sha256), headers={"Range": f"bytes={start}-{end}"}
        )
        try:
            response = http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise SyncError("unreachable", f"{type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 206):
            response.close()
            _check_status(response)
        return response


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise SyncError(
            f"http_{response.status_code}", f"the controller answered {response.status_code}"
        )


class _Partial:
    """A partial file open for appending, with the running hash of its bytes."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.hasher = hashlib.sha256()
        self.done = 0
        if path.exists() and path.stat().st_size > size:
            path.unlink()  # longer than the blob: cannot be a prefix of it
        if path.exists():
            with path.open("rb") as old:
                while piece := old.read(1024 * 1024):
                    self.hasher.update(piece)
                    self.done += len(piece)
        self.out: IO[bytes] = path.open("ab")

    def write(self, piece: bytes) -> None:
        self.out.write(piece)
        self.hasher.update(piece)
        self.done += len(piece)

    def restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.hasher = hashlib.sha256()
        self.done = 0


class BlobFetcher:
    """Puts blobs together in the store; `received` counts the bytes that came over the network."""

    def __init__(self, client: Client, store: ContentStore, gate: Gate) -> None:
        self._client = client
        self._store = store
        self._gate = gate
        self.received = 0

    def partial_size(self, sha256: str) -> int:
        """Bytes already in the blob's partial file."""
        try:
            return self._store.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def fetch(self, blob: BlobRef, segments: list[Segment]) -> None:
        """Complete the blob from `segments` (its plan), verify it whole, adopt it."""
        part = _Partial(self._store.partial_path(blob.sha256), blob.size)
        try:
            for seg in remaining(segments, part.done):
                if isinstance(seg, Local):
                    self._copy(seg, part)
                elif self._get(blob, seg, part):
                    break  # the server sent the whole file
        finally:
            part.out.close()
        if part.done != blob.size or part.hasher.hexdigest() != blob.sha256:
            part.path.unlink(missing_ok=True)
            raise BlobRefusedError(blob.sha256, "its sha256 does not match the manifest")
        self._store.adopt(blob.sha256, part.path)

    def _copy(self, seg: Local, part: _Partial) -> None:
        with self._store.blob_path(seg.source).open("rb") as source:
            source.seek(seg.offset)
            left = seg.length
            while left > 0:
                piece = source.read(min(PIECE * 16, left))
                if not piece:
                    raise BlobRefusedError(
                        seg.source, "a held blob is shorter than its manifest says"
                    )
                part.write(piece)
                left -= len(piece)

    def _get(self, blob: BlobRef, seg: Remote, part: _Partial) -> bool:
        """Fetch one remote segment; True when the server sent the whole file instead."""
        response = self._client.blob(blob.sha256, seg.at, seg.at + seg.length - 1)
        try:
            if response.status_code == 200:  # Range ignored: start the file again, cleanly
                _LOGGER.info("the server ignored Range for %s: fetching it whole", blob.sha256)
                part.restart()
                self._stream(response, part, blob.size, blob)
                return True
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match[1]) != seg.at or int(match[2]) != seg.at + seg.length - 1:
                raise SyncError("http_range", "the controller answered another range")
            self._stream(response, part, seg.length, blob)
        finally:
            response.close()
        return False

    def _stream(self, response: httpx.Response, part: _Partial, length: int, blob: BlobRef) -> None:
        import httpx  # noqa: PLC0415 - loaded already: a response is here

        got = 0
        try:
            for piece in response.iter_raw(PIECE):
                if got + len(piece) > length:
                    part.path.unlink(missing_ok=True)
                    raise BlobRefusedError(
                        blob.sha256, "the controller sent more bytes than it has"
                    )
                self._gate(len(piece))
                part.write(piece)
                got += len(piece)
                self.received += len(piece)
        except httpx.HTTPError as exc:
            raise SyncError("unreachable", f"{type(exc).__name__}: {exc}") from exc
        if got < length:
            raise SyncError("unreachable", f"the transfer stopped after {got} of {length} bytes")
