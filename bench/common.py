"""What the benchmarks share: ending a child process, saving and printing a result."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def end(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended in `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def save(result: dict[str, Any], out: Path) -> None:
    """Write the result to `out` (bench/results/*.json) and print it as one JSON line."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
