"""Content sync throughput: the kit's downloader against `curl`, same blobs, same TLS link.

One HTTPS server, Debian's nginx (a child process, one worker) presenting the controller's
certificate from a test CA and requiring a kit's client certificate, as the controller does. It
serves the controller's paths from a folder: signed manifest documents at
`/api/v1/kits/{kit}/manifest?version=N` and blobs at `/api/v1/content/blobs/{sha256}` (static
files: nginx answers `Range` itself and is not what limits either client). nginx rather than the
controller so that the figure is the downloader's, not the server's.

Two clients, alternating, each run on an empty kit:
- **the agent's sync** (`agent.content.sync.ContentSync.run_once`, the code the agent runs, with
  its bandwidth cap off): the pointer taken, the manifest fetched and its signature checked, the
  free space checked, every blob fetched with `Range` into its partial file with the sha256 computed
  while streaming, verified, adopted (fsync, rename) and the store switched;
- **curl**, one process fetching the same blobs over one kept-alive connection with the same
  client certificate into files (no hashing, no fsync): the goal's peer;
- **curl + sha256sum + sync**: the same, then every file checked with `sha256sum -c` and flushed
  with `sync FILE...`: the agent's whole job done by C tools, one step after the other.

Throughput is the content's bytes over the wall time of each run; the ratio is of the medians.
Prints figures and writes bench/results/content_sync.json; asserts nothing.

    .venv/bin/python bench/content_sync.py --mib 256 --repeat 3
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.identity import load_identity  # noqa: E402
from bench import common, nginx  # noqa: E402
from protocol.content import BlobRef, ContentStatus, SyncState  # noqa: E402
from tests.agent.content.blobserver import Served  # noqa: E402
from tests.agent.content.lab import Lab, kit_state, make_pki  # noqa: E402

LOCATIONS = """\
        location ~ "^/api/v1/content/blobs/(?<sha>[0-9a-f]{{64}})$" {{
            alias {root}/blobs/$sha;
        }}
        location ~ "^/api/v1/kits/(?<kit>[A-Za-z0-9._-]+)/manifest$" {{
            alias {root}/manifests/$kit-$arg_version.json;
        }}"""


def blob_sizes(mib: int) -> list[int]:
    """Half the content in two large files (video), half in 4 MiB ones (PDFs, packages)."""
    large = mib * 2**20 // 4
    small = 4 * 2**20
    return [large, large] + [small] * max(1, (mib * 2**20 // 2) // small)


def make_blobs(lab: Lab, sizes: list[int], chunks: bool) -> list[BlobRef]:
    """Random files on the server (random: nothing compresses or repeats)."""
    return [lab.blob(os.urandom(size), chunks=chunks) for size in sizes]


def agent_run(lab: Lab, blobs: list[BlobRef], version: int) -> float:
    """One sync of `blobs` onto an empty kit by the agent's code; seconds."""
    kit_state(lab.pki, lab.state, lab.key)
    sync = lab.sync(reserve_bytes=0, reserve_ratio=0.0, timeout=60.0)
    sync.on_pointer(lab.publish(lab.manifest(version, blobs)))
    started = time.perf_counter()
    status: ContentStatus = sync.run_once()
    took = time.perf_counter() - started
    if status.state is not SyncState.SYNCED:
        raise RuntimeError(f"the agent's sync ended {status.state}: {status}")
    sync.stop()
    shutil.rmtree(lab.state / "content")
    return took


def curl_run(lab: Lab, blobs: list[BlobRef], out: Path, *, verify: bool = False) -> float:
    """curl fetching `blobs` over one connection with the kit's certificate; seconds.

    With `verify`, then what the agent does beyond the download, by C tools: `sha256sum -c` of
    every file and `sync` of the files (fsync each).
    """
    identity = load_identity(lab.state)
    assert identity is not None
    out.mkdir(parents=True, exist_ok=True)
    command = ["curl", "-sS", "--fail", "--http1.1", "--cacert", str(identity.ca_path)]
    command += ["--cert", str(identity.cert_path), "--key", str(identity.key_path)]
    for blob in blobs:
        command += ["-o", str(out / blob.sha256), f"{lab.url}/api/v1/content/blobs/{blob.sha256}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=600)
    if verify:
        sums = "".join(f"{blob.sha256}  {out / blob.sha256}\n" for blob in blobs)
        subprocess.run(["sha256sum", "--quiet", "-c"], input=sums.encode(), check=True)
        subprocess.run(["sync", *(str(out / blob.sha256) for blob in blobs)], check=True)
    took = time.perf_counter() - started
    got = sum((out / blob.sha256).stat().st_size for blob in blobs)
    if got != sum(blob.size for blob in blobs):
        raise RuntimeError(f"curl fetched {got} bytes")
    shutil.rmtree(out)
    return took


def _tls_used(work: Path) -> list[str]:
    """The TLS protocols and ciphers nginx logged, each once."""
    lines = (work / "access.log").read_text(encoding="utf-8").splitlines()
    return sorted({" ".join(line.split()[-2:]) for line in lines})


def profile_run(lab: Lab, blobs: list[BlobRef], version: int, top: int = 15) -> str:
    """One more agent run under cProfile: the functions that took the most time, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    agent_run(lab, blobs, version)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def measure(mib: int, repeat: int, chunks: bool, profile: bool = False) -> dict[str, Any]:
    """Set up the server and the blobs, then alternate the two clients `repeat` times."""
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed (Debian: curl)")
    with tempfile.TemporaryDirectory(prefix="kk-sync-bench-") as tmp:
        work = Path(tmp)
        paths = make_pki(work / "pki", ["127.0.0.1"])
        served = Served(work / "served")
        tls = nginx.Tls(paths.controller_cert, paths.controller_key, paths.ca_cert)
        locations = LOCATIONS.format(root=served.root)
        (work / "nginx").mkdir()
        with nginx.serving(work / "nginx", locations, tls=tls, log=True) as (port, _):
            lab = Lab(paths, served, port, "127.0.0.1", work / "kit")
            kit_state(paths, lab.state, lab.key)
            blobs = make_blobs(lab, blob_sizes(mib), chunks)
            total = sum(blob.size for blob in blobs)
            agent_s: list[float] = []
            curl_s: list[float] = []
            verified_s: list[float] = []
            curl_run(lab, blobs, work / "warm")  # the server's files in the page cache
            for n in range(repeat):
                curl_s.append(curl_run(lab, blobs, work / "curl"))
                verified_s.append(curl_run(lab, blobs, work / "curl", verify=True))
                agent_s.append(agent_run(lab, blobs, version=n + 1))
            if profile:
                print(profile_run(lab, blobs, version=repeat + 1))
            tls_used = _tls_used(work / "nginx")
    agent_rate = total / statistics.median(agent_s) / 2**20
    curl_rate = total / statistics.median(curl_s) / 2**20
    verified_rate = total / statistics.median(verified_s) / 2**20
    return {
        "when": datetime.now(UTC).isoformat(),
        "content_mib": round(total / 2**20, 1),
        "blobs": len(blobs),
        "chunked_manifest": chunks,
        "tls": tls_used,
        "agent_seconds": [round(s, 3) for s in agent_s],
        "curl_seconds": [round(s, 3) for s in curl_s],
        "curl_verified_seconds": [round(s, 3) for s in verified_s],
        "agent_mib_s": round(agent_rate, 1),
        "curl_mib_s": round(curl_rate, 1),
        "curl_verified_mib_s": round(verified_rate, 1),
        "ratio": round(agent_rate / curl_rate, 2),
        "ratio_to_verified": round(agent_rate / verified_rate, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="content size in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-chunks", action="store_true", help="manifest without FastCDC chunk lists"
    )
    parser.add_argument("--profile", action="store_true", help="print where the agent's time goes")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "content_sync.json"
    )
    args = parser.parse_args()
    result = measure(args.mib, args.repeat, not args.no_chunks, args.profile)
    print(
        f"sync of {result['content_mib']} MiB in {result['blobs']} blobs over TLS "
        f"({', '.join(result['tls'])}): agent {result['agent_mib_s']} MiB/s, "
        f"curl {result['curl_mib_s']} MiB/s (medians of {args.repeat}); "
        f"ratio {result['ratio']} (goal >= 0.8); curl + sha256sum + sync "
        f"{result['curl_verified_mib_s']} MiB/s, ratio {result['ratio_to_verified']}"
    )
    common.save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
