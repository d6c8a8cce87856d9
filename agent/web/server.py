"""The pupil's page served by uvicorn in a thread of the agent: two origins on 127.0.0.1.

`PupilPage(...).start()` binds the page's port and the materials' port (the next one) at once,
so a port taken is said in the log and the agent runs on without its page rather than dying;
`stop()` lets both servers finish the requests under way.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import uvicorn

from agent.content.store import ContentStore
from agent.doctor import Check
from agent.web.materials import create_materials_app
from agent.web.page import PageConfig, create_page_app
from common.i18n import Lang

_LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"


def _bind(port: int) -> socket.socket:
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets whose proto says TCP, and
    # without that every keep-alive answer (headers, then body) waited 40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app: object) -> uvicorn.Server:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        http="auto",  # httptools when installed (several times h11's speed), else h11
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        limit_concurrency=100,
        timeout_keep_alive=5,
    )
    return uvicorn.Server(config)


class PupilPage:
    """The page on `port` and its materials on `port + 1`, both on 127.0.0.1."""

    def __init__(
        self,
        *,
        state_dir: Path,
        port: int,
        profile: str = "base",
        kit_lang: Lang = "en",
        checks: Callable[[], list[Check] | None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
        store: ContentStore | None = None,
    ) -> None:
        self.port = port
        self.material_port = port + 1
        config = PageConfig(
            store=store or ContentStore(state_dir),
            state_dir=state_dir,
            port=port,
            material_port=self.material_port,
            profile=profile,
            kit_lang=kit_lang,
            checks=checks,
        )
        if clock is not None:
            config.clock = clock
        self._servers = [
            _server(create_page_app(config)),
            _server(create_materials_app(config.store, page_port=port, port=self.material_port)),
        ]
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Bind both ports and serve in a thread; False (logged) when a port is taken."""
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # no "started" twice
        try:
            sockets = [_bind(self.port), _bind(self.material_port)]
        except OSError as exc:
            _LOGGER.warning(
                "the pupil's page cannot listen on %s:%d-%d: %s",
                HOST,
                self.port,
                self.material_port,
                exc,
            )
            return False
        self._thread = threading.Thread(
            target=self._serve, args=(sockets,), name="pupil-page", daemon=True
        )
        self._thread.start()
        _LOGGER.info(
            "the pupil's page is on http://%s:%d/ (materials on port %d)",
            HOST,
            self.port,
            self.material_port,
        )
        return True

    def _serve(self, sockets: list[socket.socket]) -> None:
        async def both() -> None:
            await asyncio.gather(
                *(s.serve(sockets=[sock]) for s, sock in zip(self._servers, sockets, strict=True))
            )

        try:
            asyncio.run(both())
        except Exception:  # the boundary of a thread: the agent keeps running without its page
            _LOGGER.exception("the pupil's page stopped")
        finally:
            for sock in sockets:
                sock.close()

    def started(self) -> bool:
        """Whether both servers are accepting connections."""
        return all(s.started for s in self._servers)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both servers and wait for the thread."""
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
