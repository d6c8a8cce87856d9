"""Agent footprint: a healthy kit's steady state, and one remediation run, measured apart.

(a) Steady state: a TLS broker, the controller and one enrolled `kitkeeper-agent run` (the real
processes, as in the tests) on a kit that is healthy, so no rule fires and nothing self-heals:
its camera and headset are umockdev recordings (tests/agent/data/webcam.umockdev and
usb-headset.umockdev, merged) that the agent sees through `umockdev-run`, its profile asks for
exactly what they give (a camera, a microphone, speakers, a browser), and the audio and time
services it checks are stand-in processes of those names (this machine runs no systemd, no audio
server and no time daemon: the collector then looks for processes by name). The agent's resident
memory is sampled every few seconds and its CPU time (user + system, with the subprocesses it
waited for) is given as a share of one core. The run checks that no playbook ran and no incident
opened; if one did, the figure is not a steady state and says so.

(b) One remediation run: `bench/remediation_cost.py` (the agent's runner, ansible-runner and
ansible-playbook) apart, in a fresh process: CPU seconds and peak memory.

    .venv/bin/python bench/agent_footprint.py --minutes 2.5 --interval 30
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, remediation_cost  # noqa: E402
from tests.support import (  # noqa: E402
    Agent,
    Controller,
    free_port_pair,
    start_broker,
    wait_for,
)

DATA = ROOT / "tests" / "agent" / "data"
RECORDINGS = ("webcam.umockdev", "usb-headset.umockdev")
PROFILE = """\
name: bench-healthy
description: The benchmark's healthy kit (a webcam and a USB headset from umockdev recordings).
peripherals:
  - {label: camera, kind: camera}
  - {label: microphone, kind: audio_capture}
  - {label: speakers or headset, kind: audio_playback}
software:
  - {label: web browser, binaries: [chromium, firefox-esr, firefox], packages: [chromium]}
"""
# The service roles the agent checks (agent/collectors/services.py) and a name it accepts for each.
STAND_INS = ("NetworkManager", "pipewire", "chronyd")


def merged_recording(target: Path) -> Path:
    """One umockdev recording with every device of RECORDINGS, shared parents once."""
    seen: set[str] = set()
    blocks: list[str] = []
    for name in RECORDINGS:
        for raw in (DATA / name).read_text(encoding="utf-8").split("\n\n"):
            block = raw.strip()
            if block and block.splitlines()[0] not in seen:
                seen.add(block.splitlines()[0])
                blocks.append(block)
    target.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return target


def stand_in_services(work: Path, stack: ExitStack) -> None:
    """Processes named as the network, audio and time services (copies of `sleep`)."""
    bin_dir = work / "services"
    bin_dir.mkdir()
    sleep = shutil.which("sleep")
    assert sleep is not None
    for name in STAND_INS:
        shutil.copy(sleep, bin_dir / name)
        proc = subprocess.Popen([str(bin_dir / name), "infinity"])
        stack.callback(common.end, proc)


def healthy_agent(work: Path, broker: Any, interval: float, kit_id: str, web_port: int) -> Agent:
    """An enrolled agent started under umockdev-run with the merged recording and its profile."""
    profiles = work / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "bench-healthy.yaml").write_text(PROFILE, encoding="utf-8")
    recording = merged_recording(work / "kit.umockdev")
    root = work / f"playbook-root-{kit_id}"
    root.mkdir(exist_ok=True)
    agent = Agent(
        work,
        broker,
        kit_id,
        interval=interval,
        KITKEEPER_PROFILE="bench-healthy",
        KITKEEPER_PROFILES_DIR=str(profiles),
        KITKEEPER_PLAYBOOK_VARS=json.dumps({"kk_root": str(root), "kk_live": False}),
        KITKEEPER_WEB_PORT=str(web_port),
    )
    agent.args = ["umockdev-run", "-d", str(recording), "--", *agent.args]
    return agent


def agent_process(agent: Agent) -> psutil.Process:
    """The agent's Python process: umockdev-run's child."""
    assert agent.process is not None
    wrapper = psutil.Process(agent.process.pid)
    children: list[psutil.Process] = wait_for(wrapper.children, 30, "the agent's process")
    return children[0]


def stop_agent(agent: Agent, proc: psutil.Process) -> None:
    """SIGTERM to the agent itself (it ends cleanly), then its umockdev-run."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        proc.kill()
    agent.stop()


def healthy(controller: Controller, kit_id: str) -> bool:
    """The kit reported its camera and headset and accepted the bundle."""
    status, kit = controller.get(f"/api/v1/kits/{kit_id}")
    if status != 200 or not kit.get("latest"):
        return False
    kinds = {d["kind"] for d in kit["latest"].get("peripherals", {}).get("devices", [])}
    bundle = controller.get(f"/api/v1/kits/{kit_id}/bundle")[1]
    return {"camera", "audio_capture", "audio_playback"} <= kinds and bool(bundle["accepted"])


@dataclass
class Measured:
    """One kit of the run: its agent, the agent's process, what was sampled."""

    name: str
    agent: Agent
    proc: psutil.Process
    web_port: int
    rss: list[int] = field(default_factory=list)
    cpu_start: float = 0.0
    seq_start: int = 0


def _open_page(port: int) -> bool:
    """What a pupil does once: open the page (its templates and catalogues are then loaded)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as answer:
        return bool(answer.read())


def _result(kit: Measured, controller: Controller, wall: float) -> dict[str, Any]:
    kit_id = kit.agent.kit_id
    cpu = sum(kit.proc.cpu_times()[:4]) - kit.cpu_start
    state = controller.get(f"/api/v1/kits/{kit_id}")[1]
    incidents = controller.get(f"/api/v1/incidents?state=all&kit_id={kit_id}")[1]
    return {
        "web_port": kit.web_port,
        "minutes": round(wall / 60, 2),
        "snapshots_stored": state["last_seq"] - kit.seq_start,
        "profile_complete": state["latest"]["profile"]["complete"],
        "incidents": [i["rule_id"] for i in incidents],
        "playbook_runs": len(list((kit.agent.state_dir / "runs").glob("*"))),
        "rss_mb_mean": round(statistics.mean(kit.rss) / 2**20, 1),
        "rss_mb_max": round(max(kit.rss) / 2**20, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
    }


def steady(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Two healthy kits side by side, the pupil's page off and on; each agent measured."""
    if shutil.which("umockdev-run") is None:
        raise SystemExit("umockdev is not installed: `make test-deps` (Debian: umockdev)")
    with tempfile.TemporaryDirectory(prefix="kk-footprint-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        stand_in_services(work, stack)
        broker = start_broker(work)
        stack.callback(broker.stop)
        controller = Controller(work, broker).start()
        stack.callback(controller.stop)
        kits: list[Measured] = []
        for name, port in (("page off", 0), ("page on", free_port_pair())):
            agent = healthy_agent(
                work, broker, args.interval, f"kit-{name.replace(' ', '-')}", port
            )
            agent.start()
            kits.append(Measured(name, agent, agent_process(agent), port))
            stack.callback(stop_agent, agent, kits[-1].proc)
        for kit in kits:
            kit_id, port = kit.agent.kit_id, kit.web_port
            wait_for(lambda: healthy(controller, kit_id), 120, f"{kit.name} healthy")  # noqa: B023
            if port:
                wait_for(lambda: _open_page(port), 30, "the pupil's page")  # noqa: B023
        time.sleep(args.settle)  # past start-up (imports, first snapshots, the bundle)
        for kit in kits:
            kit.cpu_start = sum(kit.proc.cpu_times()[:4])  # with the subprocesses it ran
            kit.seq_start = controller.get(f"/api/v1/kits/{kit.agent.kit_id}")[1]["last_seq"]
        started = time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            for kit in kits:
                kit.rss.append(kit.proc.memory_info().rss)
            time.sleep(args.sample)
        wall = time.monotonic() - started
        return {
            kit.name: {**_result(kit, controller, wall), "interval_s": args.interval}
            for kit in kits
        }


def describe(name: str, result: dict[str, Any]) -> str:
    """One line for a person."""
    quiet = not result["incidents"] and not result["playbook_runs"]
    return (
        f"healthy kit, {name}, {result['minutes']} min at {result['interval_s']:g} s: "
        f"RSS mean {result['rss_mb_mean']} MB, max {result['rss_mb_max']} MB; "
        f"CPU {result['cpu_seconds']} s = {result['cpu_percent_of_one_core']}% of one core "
        "(goal: under 60 MB and 0.5%); "
        + (
            "no rule fired, no playbook ran"
            if quiet
            else f"NOT STEADY: incidents {result['incidents']}, {result['playbook_runs']} runs"
        )
    )


# The agent's libraries in the order it needs them, then its own code, then the page's stack.
IMPORTS = (
    "pydantic",
    "paho.mqtt.client",
    "cryptography.x509",
    "psutil",
    "pyudev",
    "yaml",
    "sqlite3",
    "ansible_runner",
    "httpx",
    "fastcdc",
    "agent.service",
    "uvicorn",
    "starlette.applications",
    "jinja2",
    "agent.web.server",
)
_IMPORT_COSTS = r"""
import importlib, json, sys, psutil
me = psutil.Process()
costs = {"interpreter and psutil": me.memory_info().rss}
for name in sys.argv[1:]:
    before = me.memory_info().rss
    importlib.import_module(name)
    costs[name] = me.memory_info().rss - before
print(json.dumps(costs))
"""


def import_costs() -> dict[str, float]:
    """Resident memory each library adds when imported in that order (MB), in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_COSTS, *IMPORTS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return {name: round(size / 2**20, 1) for name, size in json.loads(out.stdout).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.5, help="steady-state measurement")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--playbook", default="audio-reset", help="the remediation run measured")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "agent_footprint.json"
    )
    args = parser.parse_args()
    result: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "steady": steady(args)}
    for name, kit in result["steady"].items():
        print(describe(name, kit))
    on, off = result["steady"]["page on"], result["steady"]["page off"]
    result["page_costs_mb"] = round(on["rss_mb_mean"] - off["rss_mb_mean"], 1)
    print(f"the pupil's page costs {result['page_costs_mb']} MB of resident memory")
    result["import_costs_mb"] = import_costs()
    print(
        "resident memory added by each import (MB): "
        + ", ".join(f"{name} {size}" for name, size in result["import_costs_mb"].items())
    )
    result["remediation"] = remediation_cost.measure(args.playbook)
    print(remediation_cost.describe(result["remediation"]))
    common.save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
