"""What the kit has and how it is connected: peripherals, its profile, webinar readiness.

Keeps the latest of each for the snapshot, turns hotplug into events within a second, and says
so (as events) when the kit stops or starts matching its profile or its readiness verdict changes.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from agent.collectors import connectivity, peripherals
from agent.collectors.system import guard
from agent.config import AgentSettings
from agent.errors import ProfileError
from agent.profiles import Profile, check, dpkg_installed, gsettings_get, load_profile
from protocol.base import Unavailable
from protocol.inventory import (
    Connectivity,
    DeviceKind,
    Peripheral,
    Peripherals,
    ProfileCheck,
    UsbDevice,
    Verdict,
)
from protocol.models import Event, Severity

_LOGGER = logging.getLogger(__name__)
# Unplugging one of these can cost a lesson: say so louder.
_LESSON_DEVICES = frozenset(
    {DeviceKind.CAMERA, DeviceKind.AUDIO_CAPTURE, DeviceKind.AUDIO_PLAYBACK, DeviceKind.BRAILLE}
)
_VERDICT_SEVERITY = {
    Verdict.READY: Severity.INFO,
    Verdict.DEGRADED: Severity.WARNING,
    Verdict.NOT_READY: Severity.CRITICAL,
}


def endpoints(
    settings: AgentSettings, *, broker: tuple[str, int], controller_url: str | None
) -> list[connectivity.Endpoint]:
    """The endpoints a lesson depends on: the broker, the controller, the webinar server."""
    result = [connectivity.Endpoint("broker", broker[0], broker[1])]
    if controller_url:
        parts = urlsplit(controller_url)
        if parts.hostname:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            result.append(connectivity.Endpoint("controller", parts.hostname, port))
    if settings.webinar:
        host, _, port_text = settings.webinar.rpartition(":")
        result.append(connectivity.Endpoint("webinar", host, int(port_text)))
    return result


RECHECK_DELAY_S = 0.5
"""After a hotplug event, wait this long for the rest of the device's events before rechecking."""
LOOKUP_TTL_S = 600.0
"""Installed software and desktop settings change seldom: looked up at most this often."""


class _Lookups:
    """The profile check's lookups (which, dpkg-query, gsettings), remembered for a while."""

    def __init__(self, ttl_s: float = LOOKUP_TTL_S) -> None:
        self._ttl = ttl_s
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _get(self, key: tuple[str, ...], look: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = look()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def which(self, binary: str) -> str | None:
        """shutil.which, remembered."""
        result: str | None = self._get(("which", binary), lambda: shutil.which(binary))
        return result

    def package(self, name: str) -> bool | None:
        """Whether a Debian package is installed, remembered."""
        result: bool | None = self._get(("dpkg", name), lambda: dpkg_installed(name))
        return result

    def setting(self, schema: str, key: str) -> str | None:
        """A gsettings value, remembered; unknown when the agent runs as root.

        gsettings reads the settings of whoever runs it: as root those are root's, not the
        pupil's, so they prove nothing either way.
        """
        if os.geteuid() == 0:
            return None
        result: str | None = self._get(
            ("gsettings", schema, key), lambda: gsettings_get(schema, key)
        )
        return result


class KitView:
    """The kit's peripherals, profile and connectivity, kept current."""

    def __init__(
        self,
        settings: AgentSettings,
        targets: list[connectivity.Endpoint],
        publish_event: Callable[[Event], None] | None = None,
        *,
        throughput: tuple[str, ssl.SSLContext | None] | None = None,
    ) -> None:
        self._settings = settings
        self._targets = targets
        self._throughput = throughput
        self._publish = publish_event or (lambda event: None)
        self._lock = threading.RLock()  # one profile check at a time, in order
        self._recheck = threading.Event()
        self._monitor: peripherals.HotplugMonitor | None = None
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None
        self._rechecker: threading.Thread | None = None
        self.profile: Profile | Unavailable = self._load_profile()
        self.connectivity: Connectivity | Unavailable | None = None
        self._last_check: ProfileCheck | Unavailable | None = None
        self._last_verdict: Verdict | None = None
        self._lookups = _Lookups()

    def _load_profile(self) -> Profile | Unavailable:
        try:
            return load_profile(self._settings.profile, self._settings.profiles_dir)
        except ProfileError as exc:
            _LOGGER.warning("kit profile unavailable: %s", exc)
            return Unavailable(unavailable=str(exc)[:500])

    # --- what is plugged in, and the profile ---------------------------------------------------

    def peripherals(self) -> Peripherals | Unavailable:
        """What is plugged in now."""
        return guard("peripherals", peripherals.inventory)

    def check_profile(self, devices: Peripherals | Unavailable) -> ProfileCheck | Unavailable:
        """The kit against its profile; an event when that changes."""
        with self._lock:
            return self._check_profile(devices)

    def fresh_check(self) -> tuple[Peripherals | Unavailable, ProfileCheck | Unavailable]:
        """List the peripherals and check the profile against them, as one step."""
        with self._lock:
            devices = self.peripherals()
            return devices, self._check_profile(devices)

    def _check_profile(self, devices: Peripherals | Unavailable) -> ProfileCheck | Unavailable:
        if isinstance(self.profile, Unavailable):
            result: ProfileCheck | Unavailable = self.profile
        elif isinstance(devices, Unavailable):
            result = Unavailable(unavailable=f"peripherals unknown: {devices.unavailable}"[:500])
        else:
            lookups = self._lookups
            result = guard(
                "profile",
                lambda: check(
                    self.profile,  # type: ignore[arg-type]
                    devices,
                    which=lookups.which,
                    package_installed=lookups.package,
                    gsetting=lookups.setting,
                ),
            )
        previous, self._last_check = self._last_check, result
        if isinstance(result, ProfileCheck) and (
            not isinstance(previous, ProfileCheck)
            or (previous.complete, previous.missing) != (result.complete, result.missing)
        ):
            self._publish(_profile_event(result))
        return result

    def _on_hotplug(self, action: str, change: Any) -> None:
        # The event at once; the profile is checked again once the burst of events is over.
        self._publish(_hotplug_event(action, change))
        self._recheck.set()

    def _recheck_loop(self) -> None:
        while not self._stop.is_set():
            if not self._recheck.wait(timeout=1.0):
                continue
            while self._recheck.is_set():  # debounce: a device comes as several udev events
                self._recheck.clear()
                self._stop.wait(RECHECK_DELAY_S)
            try:
                self.fresh_check()
            except Exception:
                _LOGGER.exception("profile recheck failed")

    # --- connectivity ---------------------------------------------------------------------------

    def probe(self, *, count: int = 10, webinar: str | None = None) -> Connectivity | Unavailable:
        """Measure connectivity now; an event when the readiness verdict changes.

        `webinar` ("host:port", a lesson's own server) stands in for the configured one.
        """
        targets = self._targets
        host, _, port = (webinar or "").rpartition(":")
        if host and port.isdigit():
            lesson = connectivity.Endpoint("webinar", host, int(port))
            targets = [t for t in targets if t.name != "webinar"] + [lesson]
        result: Connectivity | Unavailable = guard(
            "connectivity",
            lambda: connectivity.collect_connectivity(
                targets,
                thresholds=self._settings.thresholds,
                count=count,
                dns_name=self._dns_name(),
                throughput_url=self._throughput[0] if self._throughput else None,
                throughput_context=self._throughput[1] if self._throughput else None,
            ),
        )
        self.connectivity = result
        if isinstance(result, Connectivity):
            verdict = result.readiness.verdict
            if verdict is not self._last_verdict:
                self._last_verdict = verdict
                self._publish(
                    Event(
                        kind="readiness_changed",
                        severity=_VERDICT_SEVERITY[verdict],
                        message=f"webinar readiness: {verdict.value}"
                        + (
                            f" ({'; '.join(result.readiness.reasons)})"
                            if result.readiness.reasons
                            else ""
                        ),
                        data=result.readiness.model_dump(mode="json"),
                    )
                )
        return result

    def _dns_name(self) -> str | None:
        """A name the lesson needs resolved: the webinar server's, else the controller's."""
        for wanted in ("webinar", "controller", "broker"):
            for target in self._targets:
                if target.name == wanted and not _is_address(target.host):
                    return target.host
        return None

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe()
            except Exception:  # the loop must outlive any one probe
                _LOGGER.exception("connectivity probe failed")
            self._stop.wait(self._settings.connectivity_interval)

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Watch hotplug and probe connectivity in the background."""
        try:
            self._monitor = peripherals.HotplugMonitor(self._on_hotplug)
            self._monitor.start()
        except Exception as exc:  # noqa: BLE001 - no udev (a container): no hotplug, still run
            _LOGGER.warning("hotplug events unavailable: %s", exc)
            self._monitor = None
        self._rechecker = threading.Thread(target=self._recheck_loop, name="recheck", daemon=True)
        self._rechecker.start()
        if self._settings.connectivity_interval > 0:
            self._prober = threading.Thread(target=self._probe_loop, name="prober", daemon=True)
            self._prober.start()

    def stop(self) -> None:
        """Stop watching; events after this are dropped (the outbox is closing)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.stop()
        self._publish = lambda event: None
        for thread in (self._prober, self._rechecker):
            if thread is not None:
                thread.join(timeout=1)

    def parts(self) -> dict[str, Any]:
        """The snapshot parts this view owns, freshly read where cheap."""
        devices, profile = self.fresh_check()
        return {"peripherals": devices, "profile": profile, "connectivity": self.connectivity}


def _hotplug_event(action: str, change: Peripheral | UsbDevice) -> Event:
    attached = action == "add"
    if isinstance(change, Peripheral):
        what = f"{change.kind.value} {change.name}"
        loud = change.kind in _LESSON_DEVICES and not attached
    else:
        what = f"USB {change.vendor_id}:{change.product_id} {change.product or ''}".strip()
        loud = False
    return Event(
        kind="device_attached" if attached else "device_detached",
        severity=Severity.WARNING if loud else Severity.INFO,
        message=f"{what} {'plugged in' if attached else 'unplugged'}",
        data=change.model_dump(mode="json"),
    )


def _profile_event(result: ProfileCheck) -> Event:
    if result.complete:
        return Event(
            kind="profile_complete",
            message=f"the kit has everything its profile {result.profile} asks for",
            data=result.model_dump(mode="json"),
        )
    return Event(
        kind="profile_incomplete",
        severity=Severity.WARNING,
        message=f"missing for profile {result.profile}: {', '.join(result.missing)}",
        data=result.model_dump(mode="json"),
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
