"""Battery wear from sysfs (`/sys/class/power_supply/BAT*`): what psutil does not tell."""

from __future__ import annotations

from pathlib import Path

from protocol.base import Unavailable
from protocol.inventory import BatteryHealth

POWER_SUPPLY = Path("/sys/class/power_supply")
MICRO = 1_000_000


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _number(path: Path) -> float | None:
    text = _read(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def parse(battery_dir: Path) -> BatteryHealth:
    """Read one battery directory: energy_* (µWh), or charge_* (µAh) times the design voltage."""
    full = _number(battery_dir / "energy_full")
    design = _number(battery_dir / "energy_full_design")
    in_wh = full is not None and design is not None
    if not in_wh:  # some batteries count charge instead of energy
        full = _number(battery_dir / "charge_full")
        design = _number(battery_dir / "charge_full_design")
        volts = _number(battery_dir / "voltage_min_design")
        if volts is not None and full is not None and design is not None:
            full, design, in_wh = full * volts / MICRO, design * volts / MICRO, True
    wear = None
    if full is not None and design:
        wear = round(max(0.0, 100.0 - 100.0 * full / design), 1)
    cycles = _number(battery_dir / "cycle_count")
    return BatteryHealth(
        wear_percent=wear,
        cycle_count=int(cycles) if cycles and cycles > 0 else None,
        energy_full_wh=round(full / MICRO, 2) if in_wh and full is not None else None,
        energy_full_design_wh=round(design / MICRO, 2) if in_wh and design is not None else None,
        status=_read(battery_dir / "status"),
    )


def collect(root: Path = POWER_SUPPLY) -> BatteryHealth | Unavailable:
    """The first system battery's health, or why there is none."""
    if not root.is_dir():
        return Unavailable(unavailable="no power supply information (/sys/class/power_supply)")
    for supply in sorted(root.iterdir()):
        if _read(supply / "type") == "Battery" and _read(supply / "scope") != "Device":
            return parse(supply)
    return Unavailable(unavailable="no battery")
