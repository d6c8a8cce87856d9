"""What the simulated week prints: its assumptions, each week, the summary of many weeks."""

from __future__ import annotations

import statistics
import sys
from datetime import time, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.week_model import (  # noqa: E402
    COURIER_AT,
    FAULTS_PER_WEEK,
    HOME_VISIT,
    KINDS,
    ONLINE_SLOTS,
    PRELESSON,
    REPORT_DELAY,
    RESPONSE,
    TECHNICIAN_FIX,
    TELEMETRY_INTERVAL,
    WEEK_OF,
    WORKDAY,
    Summary,
    WeekResult,
    World,
    local,
    utc,
    when,
)
from protocol.models import LessonMode  # noqa: E402

# --- report ------------------------------------------------------------------------------------


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def assumptions(world: World) -> list[str]:
    """The assumptions, as printed."""
    minutes = {
        mode: sum(
            (lesson.end - lesson.start).total_seconds() / 60
            for lesson in world.lessons
            if lesson.mode is mode and lesson.start < utc(WEEK_OF + timedelta(days=7), time(0))
        )
        for mode in LessonMode
    }
    slots = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ONLINE_SLOTS)
    book = ", ".join(
        f"{name} {'DISRUPTIVE' if info.disruptive else 'no'}/{int(info.timeout.total_seconds())}s"
        for name, info in sorted(world.catalogue.items())
    )
    source = "playbooks/*.yml `kitkeeper:` vars" + (
        f" (fallback table for {', '.join(world.fallback)})" if world.fallback else ""
    )
    response = ", ".join(f"{p} {_span(s)}" for p, s in RESPONSE.items())
    return [
        f"Week of Mon {WEEK_OF:%Y-%m-%d}, Asia/Almaty (UTC+5); times below are local.",
        f"Timetable: Mon-Fri online {slots}; Wed 15:00 replaced by a home visit "
        f"{HOME_VISIT[1]:%H:%M}-{HOME_VISIT[2]:%H:%M}; self-study Tue+Thu 16:00-16:45. Per week: "
        f"{minutes[LessonMode.ONLINE]:.0f} min online, {minutes[LessonMode.HOME_VISIT]:.0f} home "
        f"visit, {minutes[LessonMode.SELF_STUDY]:.0f} self-study. The next week is in the "
        "timetable too (a Friday fault costs Monday's lessons).",
        "Faults stop only the lessons that need what broke (camera/microphone/network: online; "
        "sound: online + self-study; accessibility: all). Faults of rules with costs_lessons "
        "false cost nothing in both arms.",
        f"Playbooks (disruptive/timeout) from {source}: {book}.",
        f"kitkeeper: detection = the rule's `for` + {_span(TELEMETRY_INTERVAL)}; real rules, "
        f"ladder and guard ({_span(world.guard)}); the kit's self-heal retries a disruptive "
        f"playbook at each snapshot until no lesson or guard is in the way; the readiness check "
        f"runs {_span(PRELESSON)} before each online lesson (fix, then a technician incident if "
        "still failing); playbook run times per fault 20-180 s; ok = the run fixed the fault.",
        f"People (both arms): technicians Mon-Fri {WORKDAY[0]:%H:%M}-{WORKDAY[1]:%H:%M}; they act "
        f"after {response} of working time, normal/low: next working morning; a fix by a person "
        f"(remote session or phone call to the parent) takes {_span(TECHNICIAN_FIX)}; a technician "
        "who finds broken hardware orders the replacement; the courier brings it at "
        f"{COURIER_AT:%H:%M} on the first working day after the order. Tickets are worked in "
        "parallel (no queue).",
        "No automation: a fault is noticed when it stops a lesson; the parent's call reaches the "
        f"school {_span(REPORT_DELAY)} later (priority as the ladder would give it: urgent); "
        "broken hardware is ordered the moment it is noticed (generous: no diagnosis time).",
        "Columns: none = no automation; kitkeeper = the ladder and the kit alone; +call = "
        "kitkeeper while the parent can still phone (whichever fixes first).",
    ]


def wrap(text: str, width: int = 100) -> list[str]:
    """A bullet: '  - ' then lines indented under it."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width - 4:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [("  - " if i == 0 else "    ") + text for i, text in enumerate(lines)]


def report_week(week: WeekResult, *, verbose: bool = False) -> list[str]:
    """The per-fault table and the totals."""
    head = (
        f"{'#':>2}  {'fault':<38} {'starts':<9} {'rule':<21} "
        f"{'none':>6} {'kitkpr':>6} {'+call':>6}  how kitkeeper fixed it"
    )
    lines = [head, "-" * len(head)]
    for index, r in enumerate(week.faults, 1):
        lines.append(
            f"{index:>2}  {r.fault.kind.what:<38} {when(r.fault.start):<9} "
            f"{r.fault.kind.rule_id:<21} {r.baseline.lost:>6.1f} {r.kitkeeper.lost:>6.1f} "
            f"{r.with_call_lost:>6.1f}  {r.kitkeeper.how}"
        )
        if verbose:
            lines.extend(f"{'':>6}kitkeeper  {entry}" for entry in r.kitkeeper.log)
            lines.append(f"{'':>6}none       {r.baseline.how}")
    lines.append("-" * len(head))
    lines.append(
        f"{'':>2}  {'total lesson minutes lost (a minute lost to two faults counts once)':<70} "
        f"{week.baseline:>6.1f} {week.kitkeeper:>6.1f} {week.with_call:>6.1f}"
    )
    replacements = sum(1 for r in week.faults if r.kitkeeper.replacement_ordered)
    base_replacements = sum(1 for r in week.faults if r.baseline.replacement_ordered)
    lines.append(
        f"    replacements ordered: none {base_replacements}, kitkeeper {replacements}; "
        f"tickets: none {sum(r.baseline.tickets for r in week.faults)}, "
        f"kitkeeper {sum(r.kitkeeper.tickets for r in week.faults)}"
    )
    return lines


def report_summary(summary: Summary, seed: int) -> list[str]:
    """Mean / median / max over the random weeks."""

    def row(name: str, values: list[float]) -> str:
        return (
            f"  {name:<26} {statistics.fmean(values):>8.1f} {statistics.median(values):>8.1f} "
            f"{max(values):>8.1f}"
        )

    worse = (
        f"{summary.kitkeeper_worse} of {summary.faults} faults "
        f"({100 * summary.kitkeeper_worse / summary.faults:.1f}%), by "
        f"{statistics.fmean(summary.worse_by):.1f} min on average (max {max(summary.worse_by):.1f})"
        if summary.worse_by
        else f"0 of {summary.faults} faults"
    )
    saved = statistics.fmean(summary.baseline) - statistics.fmean(summary.kitkeeper)
    share = saved / statistics.fmean(summary.baseline) if statistics.fmean(summary.baseline) else 0
    kinds = [
        f"  {KINDS[key].what:<38} {len(pairs):>5} {statistics.fmean(a for a, _ in pairs):>8.1f} "
        f"{statistics.fmean(b for _, b in pairs):>8.1f}"
        for key, pairs in summary.by_kind.items()
    ]
    return [
        f"{summary.weeks} random weeks (seed {seed}), {FAULTS_PER_WEEK} faults each of rules "
        "that cost lessons; lesson minutes lost per week:",
        f"  {'':<26} {'mean':>8} {'median':>8} {'max':>8}",
        row("no automation", summary.baseline),
        row("kitkeeper", summary.kitkeeper),
        row("kitkeeper + parent's call", summary.with_call),
        f"  kitkeeper saves {saved:.1f} min per week on average ({100 * share:.0f}% of what is "
        "lost without automation).",
        "  Faults where kitkeeper alone lost more than no automation:",
        f"    {worse}.",
        f"  Replacements ordered: no automation {summary.replacements_baseline}, kitkeeper "
        f"{summary.replacements_kitkeeper},",
        f"    {summary.replacements_unneeded} of them for faults a person could fix (the ladder "
        "ordered them before the technician came).",
        "  Per fault kind, mean lesson minutes lost per fault:",
        f"  {'fault':<38} {'count':>5} {'none':>8} {'kitkpr':>8}",
        *kinds,
    ]


def as_json(week: WeekResult) -> list[dict[str, Any]]:
    return [
        {
            "fault": r.fault.kind.key,
            "rule": r.fault.kind.rule_id,
            "starts_local": local(r.fault.start).isoformat(),
            "lost_none": r.baseline.lost,
            "lost_kitkeeper": r.kitkeeper.lost,
            "lost_with_call": r.with_call_lost,
            "kitkeeper_how": r.kitkeeper.how,
        }
        for r in week.faults
    ]
