"""Agent footprint: resident memory and CPU of `kitkeeper-agent run` at a 30 s interval.

Runs a TLS broker, the controller and one enrolled agent (the real processes, as in the tests) for
`--minutes` (10 by default), samples the agent's resident memory every few seconds, and reports its
CPU time over the run as a share of one core. Prints figures; asserts nothing.

    .venv/bin/python bench/agent_footprint.py --minutes 10 --interval 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import Agent, Controller, start_broker, wait_for  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "agent_footprint.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kk-footprint-") as tmp:
        work = Path(tmp)
        broker = start_broker(work)
        controller = Controller(work, broker).start()
        agent = Agent(work, broker, "kit-footprint", interval=args.interval).start()
        try:
            assert agent.process is not None
            proc = psutil.Process(agent.process.pid)
            wait_for(lambda: controller.get("/api/v1/kits/kit-footprint")[0] == 200, 60, "the kit")
            time.sleep(5)  # past start-up (imports, first snapshot)
            cpu_start = sum(proc.cpu_times()[:4])  # with the subprocesses it ran
            started = time.monotonic()
            rss: list[int] = []
            while time.monotonic() - started < args.minutes * 60:
                rss.append(proc.memory_info().rss)
                time.sleep(args.sample)
            wall = time.monotonic() - started
            cpu = sum(proc.cpu_times()[:4]) - cpu_start
            kit = controller.get("/api/v1/kits/kit-footprint")[1]
        finally:
            agent.stop()
            controller.stop()
            broker.stop()
    result = {
        "when": datetime.now(UTC).isoformat(),
        "minutes": round(wall / 60, 1),
        "interval_s": args.interval,
        "snapshots_stored": kit["last_seq"],
        "rss_mb_mean": round(statistics.mean(rss) / 2**20, 1),
        "rss_mb_max": round(max(rss) / 2**20, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
    }
    print(
        f"agent over {result['minutes']} min at {args.interval:g} s: "
        f"RSS mean {result['rss_mb_mean']} MB, max {result['rss_mb_max']} MB; "
        f"CPU {result['cpu_seconds']} s = {result['cpu_percent_of_one_core']}% of one core "
        "(goal: under 60 MB and 0.5%)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
