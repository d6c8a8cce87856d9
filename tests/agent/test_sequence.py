"""The sequence number survives restarts and never repeats."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.sequence import SequenceCounter


def test_sequence_continues_after_restart(tmp_path: Path) -> None:
    first = SequenceCounter(tmp_path / "state")
    assert [first.next() for _ in range(3)] == [1, 2, 3]
    again = SequenceCounter(tmp_path / "state")
    assert again.last == 3
    assert again.next() == 4


def test_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "seq").write_text("garbage")
    with pytest.raises(ConfigError, match="cannot use state directory"):
        SequenceCounter(tmp_path)
