"""The per-kit message sequence number, kept across restarts in the state directory."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.errors import ConfigError


class SequenceCounter:
    """A monotonic counter persisted in `<state_dir>/seq` (atomic replace on every step)."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / "seq"
        self._lock = threading.Lock()
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            text = self._path.read_text(encoding="ascii").strip() if self._path.exists() else "0"
            self._last = int(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot use state directory {state_dir}: {exc}") from exc

    @property
    def last(self) -> int:
        """The last number handed out (0 before the first)."""
        return self._last

    def next(self) -> int:
        """Hand out the next number and persist it before returning."""
        with self._lock:
            value = self._last + 1
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(str(value), encoding="ascii")
            tmp.replace(self._path)
            self._last = value
            return value
