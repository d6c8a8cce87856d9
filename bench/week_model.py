"""The simulated week's world: assumptions, fault kinds, lessons, people's hours, outcomes.

Part of `bench/simulate_week.py` (its docstring says what the simulation is and is not).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.selfheal import FIXES  # noqa: E402
from controller.remediation.evaluation import PRELESSON_RULE as CONTROLLER_PRELESSON_RULE  # noqa: E402
from policy.ladder import PlaybookInfo, Priority  # noqa: E402
from policy.lessons import (  # noqa: E402
    DEFAULT_GUARD,
    Lesson,
    ordered,
)
from policy.rules import Rule, load_rules  # noqa: E402
from protocol.models import LessonMode  # noqa: E402

# --- assumptions -------------------------------------------------------------------------------

LOCAL = ZoneInfo("Asia/Almaty")
"""The pupil, the school and its technicians: UTC+5."""
WEEK_OF = date(2026, 11, 30)
"""The simulated week (a Monday). The timetable runs two weeks so that a fault of Friday evening
costs what it costs on the next Monday; faults are injected in the first week only."""
TIMETABLE_WEEKS = 2

ONLINE_SLOTS = (
    (time(9, 0), time(9, 40)),
    (time(9, 50), time(10, 30)),
    (time(11, 0), time(11, 40)),
    (time(15, 0), time(15, 40)),
)
"""Mon-Fri online lessons, local time."""
SUBJECTS = ("maths", "Kazakh", "Russian", "science")
HOME_VISIT = (2, time(14, 30), time(16, 0))
"""(weekday, start, end): a teacher comes home on Wednesday afternoon; it replaces the 15:00
online lesson of that day."""
SELF_STUDY = ((1, time(16, 0), time(16, 45)), (3, time(16, 0), time(16, 45)))
"""(weekday, start, end): self-study blocks with offline content, Tuesday and Thursday."""

TELEMETRY_INTERVAL = timedelta(seconds=30)
"""Detection = the rule's `for` + one snapshot interval; the kit retries a waiting self-heal at
every snapshot."""
PRELESSON = timedelta(minutes=30)
"""The kit's readiness check before each online lesson (agent/selfheal.py DEFAULT_PRELESSON)."""
READINESS_FIXES = FIXES
"""What the readiness check runs for what failed: the agent's own table."""
PRELESSON_RULE = CONTROLLER_PRELESSON_RULE
"""The incident a failed readiness check opens: the controller's own rule."""

WORKDAY = (time(9, 0), time(18, 0))
"""Technicians and the replacement desk work Mon-Fri 09:00-18:00 local."""
RESPONSE: Mapping[Priority, timedelta] = {
    Priority.URGENT: timedelta(minutes=30),
    Priority.HIGH: timedelta(hours=2),
}
"""A technician acts this much working time after a ticket (or a call) of this priority;
normal and low: at the start of the next working morning."""
TECHNICIAN_FIX = timedelta(minutes=20)
"""What a person fixes (a remote session running the same fix by hand, or a phone call walking
the parent through it) takes 20 min, in both arms."""
COURIER_AT = time(14, 0)
"""A replacement arrives at 14:00 local on the first working day after the day it is ordered."""
REPORT_DELAY = timedelta(minutes=5)
"""Without automation: from the moment a fault stops a lesson to the parent's (or the visiting
teacher's) call reaching the school."""
FAULTS_PER_WEEK = 8
"""Random weeks: this many faults, at uniformly random minutes of Mon 00:00 - Sat 00:00 local,
each of a rule that costs lessons (uniformly), then a fault of that rule (uniformly): there are
no field data on how often each happens."""
HORIZON = timedelta(days=21)
"""A fault nothing ends within this is reported as never fixed (none is, by construction)."""

ONLINE = frozenset({LessonMode.ONLINE})
SOUND = frozenset({LessonMode.ONLINE, LessonMode.SELF_STUDY})
EVERY_MODE = frozenset(LessonMode)
PLAYBOOKS = ROOT / "playbooks"

FALLBACK_CATALOGUE: Mapping[str, PlaybookInfo] = {
    "disk-cleanup": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=300)),
    "audio-reset": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
    "camera-reload": PlaybookInfo(disruptive=True, timeout=timedelta(seconds=180)),
    "network-reset": PlaybookInfo(disruptive=True, timeout=timedelta(seconds=180)),
    "time-sync": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
    "agent-restart": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=60)),
    "accessibility-restore": PlaybookInfo(disruptive=False, timeout=timedelta(seconds=120)),
}
"""Used only for a playbook whose file has no `kitkeeper:` metadata."""


@dataclass(frozen=True, slots=True)
class FaultKind:
    """What goes wrong, which rule sees it, and what ends it."""

    key: str
    what: str
    rule_id: str
    fixed_by: frozenset[str]
    """Playbooks whose run ends the fault."""
    person_fixes: bool
    """A technician ends it (remote session, or a phone call to the parent)."""
    replacement_fixes: bool
    """A replacement component or kit ends it."""
    run_time: timedelta
    """How long a playbook run on this fault takes (fixing it or not)."""
    needs: frozenset[LessonMode]
    """Which lessons it stops (when its rule costs lessons)."""
    readiness: str | None = None
    """Which readiness check fails while it stands (None: the check does not see it)."""


def _kind(
    key: str,
    what: str,
    rule_id: str,
    fixed_by: Iterable[str],
    person: bool,
    replacement: bool,
    run_seconds: int,
    needs: frozenset[LessonMode],
    readiness: str | None = None,
) -> FaultKind:
    return FaultKind(
        key,
        what,
        rule_id,
        frozenset(fixed_by),
        person,
        replacement,
        timedelta(seconds=run_seconds),
        needs,
        readiness,
    )


KINDS: Mapping[str, FaultKind] = {
    k.key: k
    for k in (
        # key, what, rule, playbooks that end it, a person ends it, a replacement ends it,
        # seconds a playbook run takes, lessons it stops, the readiness check that fails
        _kind("camera-hung", "camera driver hung", "camera-missing",
              ["camera-reload"], True, True, 40, ONLINE, "camera"),
        _kind("camera-unplugged", "pupil unplugged the camera", "camera-missing",
              [], True, True, 40, ONLINE, "camera"),
        _kind("camera-broken", "camera broken", "camera-missing",
              [], False, True, 40, ONLINE, "camera"),
        _kind("mic-unplugged", "pupil unplugged the microphone", "microphone-missing",
              [], True, True, 30, ONLINE, "microphone"),
        _kind("mic-broken", "microphone broken", "microphone-missing",
              [], False, True, 30, ONLINE, "microphone"),
        _kind("audio-crashed", "sound service crashed", "audio-service-down",
              ["audio-reset"], True, True, 30, SOUND),
        _kind("dns-stuck", "DNS resolver stuck", "dns-broken",
              ["network-reset"], True, True, 60, ONLINE, "network"),
        _kind("wifi-powersave", "Wi-Fi power saving: link too poor", "webinar-not-ready",
              ["network-reset"], True, True, 60, ONLINE, "network"),
        _kind("router-hung", "home router hung (parent restarts it)", "webinar-not-ready",
              [], True, False, 60, ONLINE, "network"),
        _kind("a11y-drifted", "screen reader switched off", "accessibility-drifted",
              ["accessibility-restore"], True, True, 45, EVERY_MODE, "profile"),
        _kind("disk-full", "disk full of logs", "disk-full",
              ["disk-cleanup"], True, True, 180, EVERY_MODE),
        _kind("clock-stopped", "time service stopped", "clock-unsynchronised",
              ["time-sync"], True, True, 30, EVERY_MODE),
        _kind("agent-leak", "agent memory leak", "agent-bloated",
              ["agent-restart"], True, True, 20, EVERY_MODE),
        _kind("disk-failing", "disk failing (SMART)", "disk-failing",
              [], False, True, 0, EVERY_MODE),
    )
}  # fmt: skip

DEFAULT_SCENARIO: Sequence[tuple[int, time, str]] = (
    (0, time(8, 40), "camera-hung"),  # Mon, 20 min before the first lesson
    (0, time(10, 5), "mic-unplugged"),  # Mon, in the second lesson
    (1, time(3, 10), "disk-full"),  # Tue night: costs no lessons
    (1, time(14, 45), "audio-crashed"),  # Tue, 15 min before a lesson
    (2, time(14, 18), "a11y-drifted"),  # Wed, 12 min before the home visit
    (2, time(17, 30), "camera-broken"),  # Wed evening
    (3, time(9, 15), "dns-stuck"),  # Thu, in the first lesson
    (3, time(20, 0), "router-hung"),  # Thu evening, lasts the night
    (4, time(1, 0), "disk-failing"),  # Fri night: costs no lessons
)
"""(weekday, local time, fault kind) of the fixed default week."""


# --- the world ---------------------------------------------------------------------------------


def utc(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LOCAL).astimezone(UTC)


def local(moment: datetime) -> datetime:
    """A UTC moment in the pupil's time zone."""
    return moment.astimezone(LOCAL)


def when(moment: datetime) -> str:
    """'Wed 14:18', local."""
    return local(moment).strftime("%a %H:%M")


def build_lessons(monday: date = WEEK_OF, weeks: int = TIMETABLE_WEEKS) -> list[Lesson]:
    """The pupil's individual timetable, in UTC."""
    lessons: list[Lesson] = []
    for offset in range(7 * weeks):
        day = monday + timedelta(days=offset)
        weekday = day.weekday()
        if weekday >= 5:
            continue
        for index, (start, end) in enumerate(ONLINE_SLOTS):
            if weekday == HOME_VISIT[0] and start == time(15, 0):
                continue
            subject = SUBJECTS[(index + weekday) % len(SUBJECTS)]
            lessons.append(Lesson(utc(day, start), utc(day, end), LessonMode.ONLINE, subject))
        if weekday == HOME_VISIT[0]:
            lessons.append(
                Lesson(
                    utc(day, HOME_VISIT[1]), utc(day, HOME_VISIT[2]), LessonMode.HOME_VISIT, "art"
                )
            )
        for study_day, start, end in SELF_STUDY:
            if weekday == study_day:
                lessons.append(
                    Lesson(utc(day, start), utc(day, end), LessonMode.SELF_STUDY, "reading")
                )
    return ordered(lessons)


def load_catalogue(directory: Path = PLAYBOOKS) -> tuple[dict[str, PlaybookInfo], list[str]]:
    """The playbooks' `disruptive`/`timeout` from their `kitkeeper:` play vars, and which came
    from the fallback table instead."""
    catalogue: dict[str, PlaybookInfo] = {}
    for path in sorted(directory.glob("*.yml")):
        try:
            plays = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        for play in plays if isinstance(plays, list) else []:
            variables = play.get("vars") if isinstance(play, dict) else None
            meta = variables.get("kitkeeper") if isinstance(variables, dict) else None
            if isinstance(meta, dict) and meta.get("id"):
                catalogue[str(meta["id"])] = PlaybookInfo(
                    disruptive=bool(meta.get("disruptive", True)),
                    timeout=timedelta(seconds=float(meta.get("timeout", 3600))),
                )
    fallback = sorted(set(FALLBACK_CATALOGUE) - set(catalogue))
    for name in fallback:
        catalogue[name] = FALLBACK_CATALOGUE[name]
    return catalogue, fallback


@dataclass(frozen=True)
class World:
    """What every fault is judged against: the rules, the playbooks, the pupil's lessons."""

    rules: Mapping[str, Rule]
    catalogue: Mapping[str, PlaybookInfo]
    lessons: Sequence[Lesson]
    fallback: Sequence[str] = ()
    guard: timedelta = DEFAULT_GUARD

    def affected(self, kind: FaultKind) -> list[Lesson]:
        """The lessons a fault of this kind stops (none if its rule costs no lessons)."""
        if not self.rules[kind.rule_id].costs_lessons:
            return []
        return [lesson for lesson in self.lessons if lesson.mode in kind.needs]


def load_world(root: Path = ROOT) -> World:
    """The real rules and playbooks, and the pupil's timetable."""
    rules = load_rules((root / "playbooks" / "rules.yaml").read_bytes()).by_id()
    missing = sorted({k.rule_id for k in KINDS.values()} - set(rules))
    if missing:
        raise SystemExit(f"playbooks/rules.yaml has no rule {', '.join(missing)}")
    catalogue, fallback = load_catalogue(root / "playbooks")
    return World(rules, catalogue, build_lessons(), fallback)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: what and from when (UTC)."""

    kind: FaultKind
    start: datetime


def default_faults(monday: date = WEEK_OF) -> list[Fault]:
    """The fixed default week."""
    return [
        Fault(KINDS[key], utc(monday + timedelta(days=day), clock))
        for day, clock, key in DEFAULT_SCENARIO
    ]


def random_faults(
    rng: random.Random, world: World, count: int = FAULTS_PER_WEEK, monday: date = WEEK_OF
) -> list[Fault]:
    """A random week: faults of rules that cost lessons, at random minutes of Mon-Fri."""
    by_rule: dict[str, list[FaultKind]] = {}
    for kind in KINDS.values():
        if world.rules[kind.rule_id].costs_lessons:
            by_rule.setdefault(kind.rule_id, []).append(kind)
    rule_ids = sorted(by_rule)
    start = utc(monday, time(0))
    minutes = int((utc(monday + timedelta(days=5), time(0)) - start).total_seconds() // 60)
    faults = [
        Fault(
            rng.choice(by_rule[rng.choice(rule_ids)]),
            start + timedelta(minutes=rng.randrange(minutes)),
        )
        for _ in range(count)
    ]
    return sorted(faults, key=lambda f: f.start)


# --- people: working hours ---------------------------------------------------------------------


def _working_day(day: date) -> bool:
    return day.weekday() < 5


def add_working_time(start: datetime, span: timedelta) -> datetime:
    """`span` of working time (Mon-Fri 09:00-18:00 local) after `start`."""
    moment, left = start, span
    while True:
        day = local(moment).date()
        opens, closes = utc(day, WORKDAY[0]), utc(day, WORKDAY[1])
        if not _working_day(day) or moment >= closes:
            moment = utc(day + timedelta(days=1), WORKDAY[0])
            continue
        moment = max(moment, opens)
        if moment + left <= closes:
            return moment + left
        left -= closes - moment
        moment = utc(day + timedelta(days=1), WORKDAY[0])


def next_working_morning(moment: datetime) -> datetime:
    """The next start of a working day after `moment`."""
    day = local(moment).date()
    while not (_working_day(day) and utc(day, WORKDAY[0]) > moment):
        day += timedelta(days=1)
    return utc(day, WORKDAY[0])


def technician_acts(moment: datetime, priority: Priority) -> datetime:
    """When a technician acts on a ticket or call of `priority` made at `moment`."""
    span = RESPONSE.get(priority)
    return add_working_time(moment, span) if span is not None else next_working_morning(moment)


def courier_arrives(ordered_at: datetime) -> datetime:
    """14:00 local on the first working day after the day of the order."""
    day = local(ordered_at).date() + timedelta(days=1)
    while not _working_day(day):
        day += timedelta(days=1)
    return utc(day, COURIER_AT)


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A playbook started by automation (never forced: people fix by hand, see TECHNICIAN_FIX)."""

    at: datetime
    playbook: str
    disruptive: bool
    origin: str


@dataclass
class Outcome:
    """How one fault went in one arm."""

    end: datetime | None
    lost: float
    how: str
    runs: list[Run] = field(default_factory=list)
    replacement_ordered: datetime | None = None
    tickets: int = 0
    log: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FaultResult:
    """One fault in both arms, and kitkeeper with the parent's call still possible."""

    fault: Fault
    baseline: Outcome
    kitkeeper: Outcome
    with_call_end: datetime | None
    with_call_lost: float


@dataclass(frozen=True)
class WeekResult:
    """A week's faults and its totals (a lesson minute lost to two faults counts once)."""

    faults: list[FaultResult]
    baseline: float
    kitkeeper: float
    with_call: float


@dataclass(frozen=True)
class Summary:
    """Many random weeks."""

    weeks: int
    baseline: list[float]
    kitkeeper: list[float]
    with_call: list[float]
    faults: int
    kitkeeper_worse: int
    worse_by: list[float]
    replacements_kitkeeper: int
    replacements_unneeded: int
    replacements_baseline: int
    by_kind: dict[str, list[tuple[float, float]]]
    """Per fault kind: (lost without automation, lost with kitkeeper) of every such fault."""
