"""`kitkeeper-agent run --web-port P` serves the pupil's page, offline, and stops with the agent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from common.i18n import catalogue
from tests.support import BIN, Proc, free_port, free_port_pair, wait_for


@pytest.mark.processes
def test_the_agent_serves_the_page_in_the_kits_language_with_its_readiness(tmp_path: Path) -> None:
    port = free_port_pair()
    agent = Proc(
        [
            str(BIN / "kitkeeper-agent"),
            "run",
            "--plain-mqtt",
            "--mqtt-port",
            str(free_port()),  # no broker: the page needs none
            "--interval",
            "1",
            "--state-dir",
            str(tmp_path / "agent"),
            "--web-port",
            str(port),
        ],
        tmp_path / "agent.log",
        env={"LANG": "ru_RU.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""},
    ).start()
    try:
        unknown = catalogue("page").text("status.unknown", "ru")

        def checked() -> str | None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            except httpx.TransportError:
                return None  # not listening yet
            return page.text if page.status_code == 200 and unknown not in page.text else None

        home = wait_for(checked, 30, "the page with the kit's readiness")
        assert '<html lang="ru"' in home
        said = catalogue("page").texts("status.ready").values()
        said_not = catalogue("page").texts("status.not_ready").values()
        assert any(text in home for text in (*said, *said_not))
        assert catalogue("page").text("content.none", "ru") in home
    finally:
        assert agent.stop() == 0, agent.log()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
