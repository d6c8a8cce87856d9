"""The cost of one remediation run: CPU seconds and peak memory of one playbook (ansible-runner).

The kit's own runner (`agent.playbooks.Runner`) runs one playbook of the repository's bundle,
built and signed as the controller does, against a root in a temporary directory (`kk_live`
false: nothing on this machine changes), in a fresh Python process: the agent's runner in the
same code path as a self-heal. Measured: the CPU time of that process and every process the run
starts (ansible-playbook, its workers, the modules: all are waited for, so `os.times()` counts
them), and the peak of the summed memory of the process tree, sampled every 20 ms (RSS, and PSS,
which splits the pages forked workers share), above the runner's before the run. Prints figures;
asserts nothing.

    .venv/bin/python bench/remediation_cost.py --playbook audio-reset
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent

# Runs in the child: prepares the kit (bundle accepted, runner ready), says "ready <rss>", waits
# for a line on stdin, runs the playbook and says the CPU it took with its children, as JSON.
_CHILD = r"""
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.bundles import BundleStore
from agent.playbooks import Runner
from controller.remediation import bundles as controller_bundles

work, playbook = Path(sys.argv[1]), sys.argv[2]
state, root = work / "state", work / "root"
state.mkdir()
root.mkdir()
key = Ed25519PrivateKey.generate()
books = controller_bundles.DEFAULT_PLAYBOOKS_DIR
signed = controller_bundles.BundleStore(work / "controller").build(
    books, controller_bundles.default_rules_path(books), key, datetime.now(UTC)
)
(state / "bundle-signing.pub").write_bytes(controller_bundles.public_key_pem(key))
store = BundleStore(state)
store.install(signed.data, signed.signature)
variables = {"kk_root": str(root), "kk_live": False}
runner = Runner(state, store, lambda event: None, playbook_vars=variables)
print("ready", flush=True)
sys.stdin.readline()
before = os.times()
result = runner.run(playbook)
after = os.times()
own = (after.user - before.user) + (after.system - before.system)
children = (after.children_user - before.children_user) + (
    after.children_system - before.children_system
)
print(json.dumps({"own": own, "children": children, "status": result.status,
                  "duration_s": result.duration_s, "reason": result.reason}), flush=True)
"""


def _tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """Summed RSS and PSS of a process and its living descendants, and how many they are.

    RSS counts pages the forked workers share with ansible-playbook once per process (an upper
    bound); PSS splits each shared page among its sharers (what the run really adds).
    """
    rss = pss = 0
    members = [proc, *proc.children(recursive=True)]
    for member in members:
        try:
            info = member.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += info.pss
    return rss, pss, len(members)


def measure(playbook: str) -> dict[str, Any]:
    """Run `playbook` once in a fresh runner process; its CPU and peak memory."""
    with tempfile.TemporaryDirectory(prefix="kk-remediation-") as tmp:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, tmp, playbook],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the runner process did not start")
            proc = psutil.Process(child.pid)
            baseline_rss, baseline_pss, _ = _tree_memory(proc)
            peak_rss, peak_pss, peak_processes = baseline_rss, baseline_pss, 1
            child.stdin.write("go\n")
            child.stdin.flush()
            started = time.monotonic()
            while child.poll() is None:
                try:
                    rss, pss, processes = _tree_memory(proc)
                except psutil.NoSuchProcess:
                    break
                peak_pss = max(peak_pss, pss)
                if rss > peak_rss:
                    peak_rss, peak_processes = rss, processes
                time.sleep(0.02)
                if time.monotonic() - started > 600:
                    raise RuntimeError("the playbook ran for more than 10 minutes")
            wall = time.monotonic() - started
            line = child.stdout.readline()
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    outcome = json.loads(line)
    return {
        "playbook": playbook,
        "status": outcome["status"],
        "reason": outcome["reason"],
        "wall_s": round(wall, 2),
        "cpu_seconds": round(outcome["own"] + outcome["children"], 2),
        "cpu_seconds_runner": round(outcome["own"], 2),
        "cpu_seconds_children": round(outcome["children"], 2),
        "runner_rss_mb_before": round(baseline_rss / 2**20, 1),
        "peak_tree_rss_mb": round(peak_rss / 2**20, 1),
        "peak_extra_rss_mb": round((peak_rss - baseline_rss) / 2**20, 1),
        "peak_tree_pss_mb": round(peak_pss / 2**20, 1),
        "peak_extra_pss_mb": round((peak_pss - baseline_pss) / 2**20, 1),
        "processes_at_peak": peak_processes,
    }


def describe(cost: dict[str, Any]) -> str:
    """One line for a person."""
    return (
        f"one {cost['playbook']} run ({cost['status']}, {cost['wall_s']} s): "
        f"CPU {cost['cpu_seconds']} s ({cost['cpu_seconds_runner']} s in the agent's runner, "
        f"{cost['cpu_seconds_children']} s in ansible-playbook and its workers); "
        f"peak memory of the process tree {cost['peak_tree_rss_mb']} MB RSS "
        f"({cost['processes_at_peak']} processes; PSS {cost['peak_tree_pss_mb']} MB), "
        f"{cost['peak_extra_rss_mb']} MB RSS / {cost['peak_extra_pss_mb']} MB PSS above the "
        f"runner's {cost['runner_rss_mb_before']} MB before the run"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playbook", default="audio-reset")
    args = parser.parse_args()
    cost = measure(args.playbook)
    print(describe(cost))
    print(json.dumps(cost))
    return 0


if __name__ == "__main__":
    sys.exit(main())
