"""The psutil facade: CPU, memory, swap, disks, battery, uptime, network interfaces.

Every part is collected on its own: a part that fails (no battery, permission denied, a platform
without the sensor) becomes `Unavailable` with the reason, and the rest of the snapshot goes out.
"""

from __future__ import annotations

import logging
import platform
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import psutil

from agent import __version__
from agent.collectors import firmware, power, services, smart
from protocol.inventory import AgentProcess, Fan, Sensors, Temperature
from protocol.models import (
    Battery,
    Cpu,
    Disk,
    Memory,
    NetInterface,
    Swap,
    Telemetry,
    Unavailable,
)

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

# Pseudo and virtual file systems that say nothing about the kit's storage.
_PSEUDO_FS = frozenset(
    {"squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "autofs", "nsfs", "ramfs"}
)


def guard(name: str, collect: Callable[[], T]) -> T | Unavailable:
    """Run one collector; its failure becomes `Unavailable` with the reason, never an error."""
    try:
        return collect()
    except PermissionError as exc:
        reason = f"permission denied: {exc.filename or exc}"
    except (NotImplementedError, AttributeError):
        reason = "not supported on this platform"
    except Exception as exc:  # noqa: BLE001 - a collector must never stop the snapshot
        reason = f"{type(exc).__name__}: {exc}"
    _LOGGER.warning("collector %s unavailable: %s", name, reason)
    return Unavailable(unavailable=reason[:500] or "unknown error")


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    except OSError:
        return platform.platform()


SLOW_PARTS_TTL_S = {"disk_health": 3600.0, "firmware": 86400.0}
"""Parts that change slowly and cost a subprocess: collected at most this often."""


class SystemCollector:
    """Collects the hardware part of a snapshot; keeps CPU counters and slow parts between calls."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        disk_paths: Sequence[Path] = (),
    ) -> None:
        self._disk_paths = tuple(disk_paths)
        self._os = _os_name()
        self._hostname = socket.gethostname()
        self._primed = False
        self._me = psutil.Process()
        self._clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    def prime(self) -> None:
        """Start CPU accounting so the next `collect` reports the load since now."""
        psutil.cpu_percent(interval=None)
        self._me.cpu_percent(interval=None)
        self._primed = True

    def _slow(self, name: str, collect: Callable[[], T]) -> T | Unavailable:
        now = self._clock()
        cached = self._cache.get(name)
        if cached is None or now - cached[0] >= SLOW_PARTS_TTL_S[name]:
            cached = (now, guard(name, collect))
            self._cache[name] = cached
        return cast("T | Unavailable", cached[1])

    def collect(self, interval_s: float) -> Telemetry:
        """Take one snapshot; `interval_s` is the agent's reporting interval, sent along."""
        if not self._primed:
            # Without a previous reading psutil reports 0.0; measure over a short window instead.
            psutil.cpu_percent(interval=0.2)
            self._primed = True
        boot = psutil.boot_time()
        return Telemetry(
            hostname=self._hostname,
            os=self._os,
            agent_version=__version__,
            interval_s=interval_s,
            uptime_s=max(0.0, time.time() - boot),
            boot_time=datetime.fromtimestamp(boot, UTC),
            cpu=guard("cpu", _cpu),
            memory=guard("memory", _memory),
            swap=guard("swap", _swap),
            disks=guard("disks", lambda: _disks(self._disk_paths)),
            battery=guard("battery", _battery),
            network=guard("network", _network),
            battery_health=guard("battery_health", power.collect),
            disk_health=self._slow("disk_health", smart.collect),
            sensors=guard("sensors", _sensors),
            services=guard("services", services.collect),
            agent_process=guard("agent_process", self._agent_process),
            firmware=self._slow("firmware", firmware.collect),
        )

    def _agent_process(self) -> AgentProcess:
        with self._me.oneshot():
            return AgentProcess(
                cpu_percent=self._me.cpu_percent(interval=None),
                rss_bytes=self._me.memory_info().rss,
                threads=self._me.num_threads(),
            )


def _cpu() -> Cpu:
    try:
        load: tuple[float, float, float] | None = psutil.getloadavg()
    except (OSError, AttributeError):
        load = None
    return Cpu(
        percent=min(100.0, psutil.cpu_percent(interval=None)),
        count=psutil.cpu_count(),
        load_1m=load[0] if load else None,
        load_5m=load[1] if load else None,
        load_15m=load[2] if load else None,
    )


def _memory() -> Memory:
    mem = psutil.virtual_memory()
    return Memory(total_bytes=mem.total, available_bytes=mem.available, used_percent=mem.percent)


def _swap() -> Swap:
    swap = psutil.swap_memory()
    return Swap(total_bytes=swap.total, used_bytes=swap.used, used_percent=swap.percent)


def _disks(extra: Sequence[Path] = ()) -> list[Disk]:
    """Every real file system, plus the configured extra paths (a data partition, a tmpfs)."""
    disks: list[Disk] = []
    seen: set[str] = set()
    real = [
        _Part(p.mountpoint, p.device, p.fstype)
        for p in psutil.disk_partitions(all=False)
        if p.fstype not in _PSEUDO_FS
    ]
    configured = [_Part(str(path), "configured", "configured") for path in extra]
    for part in [*real, *configured]:
        if part.mountpoint in seen:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError as exc:  # an unreadable mount is skipped, the others still count
            _LOGGER.debug("skipping %s: %s", part.mountpoint, exc)
            continue
        seen.add(part.mountpoint)
        disks.append(
            Disk(
                mountpoint=part.mountpoint,
                device=part.device,
                fstype=part.fstype,
                total_bytes=usage.total,
                used_bytes=usage.used,
                free_bytes=usage.free,
                used_percent=usage.percent,
            )
        )
    if not disks:  # containers: fall back to the root file system
        usage = psutil.disk_usage("/")
        disks.append(
            Disk(
                mountpoint="/",
                device="rootfs",
                fstype="unknown",
                total_bytes=usage.total,
                used_bytes=usage.used,
                free_bytes=usage.free,
                used_percent=usage.percent,
            )
        )
    return disks


@dataclass(frozen=True, slots=True)
class _Part:
    mountpoint: str
    device: str
    fstype: str


def _sensors() -> Sensors | Unavailable:
    temps = psutil.sensors_temperatures() if hasattr(psutil, "sensors_temperatures") else {}
    fans = psutil.sensors_fans() if hasattr(psutil, "sensors_fans") else {}
    if not temps and not fans:
        return Unavailable(unavailable="no temperature or fan sensors exposed")
    return Sensors(
        temperatures=[
            Temperature(
                label=f"{chip}/{t.label or n}",
                current_c=t.current,
                high_c=t.high,
                critical_c=t.critical,
            )
            for chip, entries in temps.items()
            for n, t in enumerate(entries)
        ],
        fans=[
            Fan(label=f"{chip}/{f.label or n}", rpm=max(0, int(f.current)))
            for chip, entries in fans.items()
            for n, f in enumerate(entries)
        ],
    )


def _battery() -> Battery | Unavailable:
    battery = psutil.sensors_battery()
    if battery is None:
        return Unavailable(unavailable="no battery")
    secs = battery.secsleft
    return Battery(
        percent=max(0.0, min(100.0, battery.percent)),
        plugged=battery.power_plugged,
        secs_left=secs if isinstance(secs, int) and secs >= 0 else None,
    )


def _network() -> list[NetInterface]:
    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    io = psutil.net_io_counters(pernic=True)
    result: list[NetInterface] = []
    for name in sorted(set(addrs) | set(stats)):
        st = stats.get(name)
        counters = io.get(name)
        result.append(
            NetInterface(
                name=name,
                is_up=bool(st and st.isup),
                speed_mbps=st.speed if st and st.speed > 0 else None,
                mtu=st.mtu if st else None,
                addresses=[
                    a.address
                    for a in addrs.get(name, [])
                    if a.family in (socket.AF_INET, socket.AF_INET6)
                ],
                bytes_sent=counters.bytes_sent if counters else 0,
                bytes_recv=counters.bytes_recv if counters else 0,
                errors_in=counters.errin if counters else 0,
                errors_out=counters.errout if counters else 0,
            )
        )
    return result
