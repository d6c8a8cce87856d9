"""`kitkeeper-agent content sync|status`, in process against the test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import cli
from tests.agent.content.lab import KIT, lab


def test_content_sync_then_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with lab(tmp_path) as kit:
        blob = kit.blob(os.urandom(50_000))
        kit.sync().on_pointer(kit.publish(kit.manifest(1, [blob])))  # as the agent keeps it
        state = str(kit.state)
        assert cli.main(["content", "status", "--state-dir", state, "--json"]) == 0
        before = json.loads(capsys.readouterr().out)
        assert before["serving_version"] is None
        enrolled = {"kit_id": KIT, "controller_url": kit.url}
        (kit.state / "enrollment.json").write_text(json.dumps(enrolled))
        assert cli.main(["content", "sync", "--state-dir", state]) == 0
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        kinds = ["content_progress", "content_synced", "content_readiness"]
        assert [e["kind"] for e in events] == kinds
        assert cli.main(["content", "status", "--state-dir", state]) == 0
        shown = capsys.readouterr().out
    assert "served version:   1" in shown
    assert "bytes missing:    0 (0 files)" in shown


def test_content_sync_on_a_kit_never_enrolled_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    assert cli.main(["content", "sync", "--state-dir", str(tmp_path / "state")]) == 2


@pytest.mark.processes
def test_the_agent_loads_no_http_client_until_it_has_something_to_fetch() -> None:
    code = "import sys, agent.cli, agent.service; assert 'httpx' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
