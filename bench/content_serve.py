"""The kit's local web server against nginx: requests/s and throughput for a static resource.

The pupil's page (`agent.web.server.PupilPage`, the uvicorn servers the agent starts in a thread
with `--web-port`) runs in a process of its own over a content store whose served manifest names
two video resources: a 100 KB blob (for requests/s) and a 100 MB one (for throughput). They are
fetched the way the page has them fetched, from the materials' origin: `GET /blob/{sha256}`
(Starlette's FileResponse, with the origin's security headers). Debian's nginx (a child process,
one worker: one process against one, `sendfile on`, the same headers added) serves the same files
at the same paths. One load generator (`bench/loadgen.py`: kept-alive connections, one request
in flight on each) drives both in one run, one after the other, alternating which goes first,
`--rounds` times; the figures are the medians (the machine may be busy with other work: the load
average before and after is recorded).

Prints figures and writes bench/results/content_serve.json; asserts nothing.

    .venv/bin/python bench/content_serve.py --seconds 5 --rounds 3 --connections 16
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, loadgen, nginx  # noqa: E402
from tests.support import free_port_pair  # noqa: E402

SMALL = 100 * 1000
LARGE = 100 * 1000 * 1000

# Runs in the child: a content store with a served manifest naming the blobs, and the page.
_PAGE = r"""
import shutil, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.content.store import ContentStore
from agent.web.server import PupilPage
from protocol.content import BlobRef, ContentManifest, ManifestResource, sign_manifest

state, port, files = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
store = ContentStore(state)
blobs = []
for name in files:
    sha = Path(name).name
    size = Path(name).stat().st_size
    copy = state / f"incoming-{sha}"
    shutil.copyfile(name, copy)
    store.adopt(sha, copy)
    blobs.append(BlobRef(sha256=sha, size=size, media_type="video/mp4"))
now = datetime.now(UTC).replace(microsecond=0)
manifest = ContentManifest(
    kit_id="kit-serve", version=1, issued_at=now - timedelta(minutes=1),
    expires_at=now + timedelta(days=7), lessons=[], blobs=blobs, tasks=[],
    resources=[
        ManifestResource(
            id=f"r{i}", title=f"Video {i}", kind="video", language="kk", sha256=b.sha256
        )
        for i, b in enumerate(blobs)
    ],
)
store.switch(sign_manifest(manifest, Ed25519PrivateKey.generate()))
page = PupilPage(state_dir=state, port=port)
if not page.start():
    sys.exit("the page could not listen")
while not page.started():
    time.sleep(0.05)
print("ready", flush=True)
sys.stdin.read()
page.stop()
"""

NGINX_LOCATIONS = """\
        location /blob/ {{
            root {root};
            types {{ }}
            default_type video/mp4;
            add_header content-security-policy "sandbox allow-scripts" always;
            add_header x-content-type-options nosniff always;
            add_header referrer-policy no-referrer always;
            add_header cache-control no-cache always;
        }}"""


def blob_files(folder: Path) -> dict[str, Path]:
    """The two random files, named by their sha256 under folder/blob/."""
    import hashlib  # noqa: PLC0415

    (folder / "blob").mkdir(parents=True)
    found = {}
    for name, size in (("small", SMALL), ("large", LARGE)):
        data = os.urandom(size)
        path = folder / "blob" / hashlib.sha256(data).hexdigest()
        path.write_bytes(data)
        found[name] = path
    return found


def start_page(work: Path, files: dict[str, Path]) -> tuple[subprocess.Popen[str], int]:
    """The pupil's page in its own process; the materials' port."""
    port = free_port_pair()
    state = work / "kit"
    state.mkdir()
    page = subprocess.Popen(
        [sys.executable, "-c", _PAGE, str(state), str(port), *map(str, files.values())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert page.stdout is not None
    if page.stdout.readline().strip() != "ready":
        page.kill()
        raise RuntimeError("the pupil's page did not start")
    return page, port + 1


def _cpu(server: psutil.Process) -> float:
    """CPU seconds of a server process and its children (nginx's worker)."""
    return sum(sum(p.cpu_times()[:2]) for p in [server, *server.children(recursive=True)])


def drive(
    server: psutil.Process, port: int, path: str, args: argparse.Namespace, connections: int
) -> dict[str, Any]:
    """One load against one server; with the CPU the server used meanwhile."""
    load = loadgen.Load(
        "127.0.0.1",
        port,
        path,
        connections=connections,
        processes=args.processes,
        seconds=args.seconds,
        warmup=args.warmup,
    )
    before = _cpu(server)
    outcome = loadgen.run(load).as_dict()
    # Over warm-up and measurement: the share of a core the server used, roughly.
    outcome["server_cpu_share"] = round((_cpu(server) - before) / (args.warmup + args.seconds), 2)
    return outcome


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests/s (an odd count: the middle one)."""
    return sorted(runs, key=lambda run: run["requests_per_s"])[len(runs) // 2]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Both servers, small then large, alternating which goes first, `args.rounds` times."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        size: {"kit": [], "nginx": []} for size in ("small", "large")
    }
    with tempfile.TemporaryDirectory(prefix="kk-serve-bench-") as tmp:
        work = Path(tmp)
        files = blob_files(work / "www")
        page, page_port = start_page(work, files)
        try:
            (work / "nginx").mkdir()
            locations = NGINX_LOCATIONS.format(root=work / "www")
            with nginx.serving(work / "nginx", locations) as (nginx_port, nginx_proc):
                servers = {
                    "kit": (psutil.Process(page.pid), page_port),
                    "nginx": (nginx_proc, nginx_port),
                }
                for round_ in range(args.rounds):
                    order = ["kit", "nginx"] if round_ % 2 == 0 else ["nginx", "kit"]
                    for size, connections in (("small", args.connections), ("large", args.large)):
                        for name in order:
                            proc, port = servers[name]
                            path = f"/blob/{files[size].name}"
                            runs[size][name].append(drive(proc, port, path, args, connections))
        finally:
            assert page.stdin is not None
            page.stdin.close()
            page.wait(30)
    return {
        size: {
            "connections": args.connections if size == "small" else args.large,
            **{name: _median_run(found) for name, found in by_server.items()},
            "runs": by_server,
        }
        for size, by_server in runs.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per load")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="each load this often (medians)")
    parser.add_argument("--connections", type=int, default=16, help="for the 100 KB blob")
    parser.add_argument("--large", type=int, default=2, help="connections for the 100 MB blob")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "content_serve.json"
    )
    args = parser.parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results = measure(args)
    small, large = results["small"], results["large"]
    result = {
        "when": datetime.now(UTC).isoformat(),
        "seconds_per_load": args.seconds,
        "rounds": args.rounds,
        "load_processes": args.processes,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **results,
        "requests_ratio": round(
            small["kit"]["requests_per_s"] / small["nginx"]["requests_per_s"], 3
        ),
        "throughput_ratio": round(large["kit"]["mib_per_s"] / large["nginx"]["mib_per_s"], 3),
    }
    print(
        f"100 KB resource, {small['connections']} connections: kit "
        f"{small['kit']['requests_per_s']} req/s, nginx {small['nginx']['requests_per_s']} "
        f"req/s: ratio {result['requests_ratio']} (goal >= 0.3; medians of {args.rounds})"
    )
    print(
        f"100 MB resource, {large['connections']} connections: kit {large['kit']['mib_per_s']} "
        f"MiB/s, nginx {large['nginx']['mib_per_s']} MiB/s: ratio {result['throughput_ratio']}"
    )
    print(
        "share of a core used (100 KB; 100 MB): the kit's server "
        f"{small['kit']['server_cpu_share']}; {large['kit']['server_cpu_share']}, nginx "
        f"{small['nginx']['server_cpu_share']}; {large['nginx']['server_cpu_share']}; the load "
        f"generator's CPU seconds over {args.seconds:g} s against the kit "
        f"{small['kit']['client_cpu_s']}, against nginx {small['nginx']['client_cpu_s']} "
        f"({time.monotonic() - started:.0f} s in all; load average "
        f"{result['load_average_1m'][0]} before, {result['load_average_1m'][1]} after)"
    )
    common.save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
