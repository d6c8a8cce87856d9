"""The remediation playbooks (playbooks/*.yml): lint, metadata, and real runs that repair faults.

Every run goes through ansible-runner, as on a kit, but against a disposable root in tmp_path
(`kk_root`) with `kk_live=false`: nothing here touches the real machine. Ansible, ansible-runner
and ansible-lint keep their homes, caches and temporary files in tmp_path too.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner  # type: ignore[import-untyped]
import pytest
import yaml

from agent.profiles import PROFILES_DIR, SettingRequirement, load_profile, setting_matches
from protocol.bundle import PlaybookMeta
from protocol.playbook_vars import check_vars

# Every test here runs ansible or reads what it wrote.
pytestmark = pytest.mark.processes

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
BIN = Path(sys.executable).parent
EXPECTED_IDS = {
    "disk-cleanup",
    "audio-reset",
    "camera-reload",
    "network-reset",
    "time-sync",
    "agent-restart",
    "accessibility-restore",
}
DISRUPTIVE = {"camera-reload", "network-reset"}
GUARD = "kk_prefix == '' or not (kk_live | bool)"
"""The condition every playbook asserts first: live commands only against the real root."""

DAY = 86400
KIT_ONLY = {"kk_root", "kk_live", "kk_agent_venv", "kk_pip_index_url", "kk_agent_unit"}
"""Variables only the kit's own configuration sets: no playbook lets a command set them."""


def playbook_ids() -> list[str]:
    """Every playbook in playbooks/ (the lead's rules.yaml is not a playbook)."""
    return sorted(path.stem for path in PLAYBOOKS.glob("*.yml"))


def load_play(playbook_id: str) -> dict[str, Any]:
    """The single play of a playbook, as PyYAML (and so the bundle builder) reads it."""
    plays = yaml.safe_load((PLAYBOOKS / f"{playbook_id}.yml").read_text(encoding="utf-8"))
    assert isinstance(plays, list)
    assert len(plays) == 1, f"{playbook_id}: one play per playbook"
    play = plays[0]
    assert isinstance(play, dict)
    return play


# --- running a playbook --------------------------------------------------------------------------


def ansible_env(tmp_path: Path) -> dict[str, str]:
    """Environment for Ansible and ansible-lint that keeps every file they write in tmp_path."""
    home = tmp_path / "ansible-home"
    for sub in ("tmp", "remote-tmp", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", os.defpath)]),
        "HOME": str(home),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }


@dataclass
class Outcome:
    """What a run of a playbook gave: ansible-runner's status, the PLAY RECAP and the output."""

    status: str
    rc: int
    stats: dict[str, dict[str, int]]
    output: str

    @property
    def changed(self) -> int:
        """Tasks that reported a change, over every host."""
        return sum(self.stats.get("changed", {}).values())

    def __str__(self) -> str:
        return f"status={self.status} rc={self.rc} stats={self.stats}\n{self.output}"


@dataclass
class Kit:
    """A disposable root in tmp_path, and how to run a playbook against it."""

    tmp_path: Path
    root: Path
    runs: int = 0

    def run(self, playbook_id: str, *, check: bool = False, **extravars: Any) -> Outcome:
        """Run one playbook with ansible-runner against this root (kk_live=false by default)."""
        # The playbooks refuse live commands beside a test root; tests do not rely on that alone.
        assert check or not extravars.get("kk_live"), "a live run from a test must be --check"
        self.runs += 1
        private = self.tmp_path / f"runner-{self.runs}"
        private.mkdir()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(PLAYBOOKS / f"{playbook_id}.yml"),
            inventory={
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            },
            extravars={"kk_root": str(self.root), "kk_live": False, **extravars},
            envvars=ansible_env(self.tmp_path),
            cmdline="--check" if check else None,
            timeout=120,
            quiet=True,
        )
        with runner.stdout as stdout:
            output = stdout.read()
        return Outcome(
            status=str(runner.status),
            rc=int(runner.rc),
            stats=dict(runner.stats or {}),
            output=output,
        )


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    """A fresh disposable root; ansible-playbook found in this venv."""
    monkeypatch.setenv("PATH", os.pathsep.join([str(BIN), os.environ.get("PATH", os.defpath)]))
    root = tmp_path / "root"
    root.mkdir()
    return Kit(tmp_path=tmp_path, root=root)


# --- the faults, and what repaired looks like ---------------------------------------------------


def write(path: Path, text: str = "", *, age_days: float = 0, size: int = 0) -> Path:
    """A file (parents made), `size` bytes long if given (sparse), last modified `age_days` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if size:
        with path.open("r+b") as handle:
            handle.truncate(size)
    if age_days:
        then = time.time() - age_days * DAY
        os.utime(path, (then, then))
    return path


def ini(path: Path) -> configparser.ConfigParser:
    """An INI-style file (systemd, NetworkManager, dconf keyfiles), keys case kept."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def disk_fault(root: Path) -> None:
    apt = root / "var/cache/apt/archives"
    write(apt / "firefox-esr_128.5.0esr-1_amd64.deb", size=60 * 2**20)
    write(apt / "partial/libreoffice-core_7.4.7-1_amd64.deb", size=2**20)
    write(apt / "lock")
    write(root / "var/log/syslog", "today\n")
    write(root / "var/log/syslog.1", "yesterday\n", age_days=1)
    write(root / "var/log/syslog.4.gz", "old\n", age_days=30)
    write(root / "var/log/apt/history.log.2.gz", "old\n", age_days=60)
    write(root / "var/log/cups/error_log.1", "old\n", age_days=20)
    trash = root / "home/aru/.local/share/Trash"
    write(trash / "files/homework-draft.odt", "x" * 1000)
    write(trash / "files/old photos/1.jpg", "x" * 1000)
    write(trash / "info/homework-draft.odt.trashinfo", "[Trash Info]\n")
    write(trash / "info/old photos.trashinfo", "[Trash Info]\n")
    write(root / "home/aru/.cache/thumbnails/large/0a1b.png", "png")
    write(root / "home/aru/Documents/essay.odt", "the pupil's work")
    (root / "home/dana").mkdir(parents=True)  # a home without trash or thumbnails
    write(root / "tmp/old-download.part", "x", age_days=10)
    write(root / "tmp/lesson-recording.webm", "x")
    write(root / "tmp/.X0-lock", "1234\n", age_days=40)
    write(root / "var/tmp/old-session/cache.bin", "x", age_days=12)


def disk_repaired(root: Path) -> None:
    gone = [
        "var/cache/apt/archives/firefox-esr_128.5.0esr-1_amd64.deb",
        "var/cache/apt/archives/partial/libreoffice-core_7.4.7-1_amd64.deb",
        "var/log/syslog.4.gz",
        "var/log/apt/history.log.2.gz",
        "var/log/cups/error_log.1",
        "home/aru/.local/share/Trash/files/homework-draft.odt",
        "home/aru/.local/share/Trash/files/old photos",
        "home/aru/.local/share/Trash/info/homework-draft.odt.trashinfo",
        "home/aru/.local/share/Trash/info/old photos.trashinfo",
        "home/aru/.cache/thumbnails",
        "tmp/old-download.part",
        "var/tmp/old-session/cache.bin",
    ]
    kept = [
        "var/cache/apt/archives/lock",
        "var/log/syslog",
        "var/log/syslog.1",  # rotated, but younger than kk_log_max_age_days
        "home/aru/Documents/essay.odt",
        "home/aru/.local/share/Trash/files",  # the trash itself stays, empty
        "tmp/lesson-recording.webm",
        "tmp/.X0-lock",  # the running display's lock, however old
    ]
    assert [p for p in gone if (root / p).exists()] == []
    assert [p for p in kept if not (root / p).exists()] == []


WIREPLUMBER = "etc/wireplumber/wireplumber.conf.d/90-kitkeeper.conf"


def audio_fault(root: Path) -> None:
    write(
        root / WIREPLUMBER, "wireplumber.settings = { device.routes.default-sink-volume = 0.0 }\n"
    )


def audio_repaired(root: Path) -> None:
    text = (root / WIREPLUMBER).read_text(encoding="utf-8")
    # 70 % and 80 % on the cubic scale people see are these linear volumes.
    assert "device.routes.default-sink-volume = 0.343\n" in text
    assert "device.routes.default-source-volume = 0.512\n" in text
    assert "= 0.0 " not in text


UVC_CONF = "etc/modprobe.d/kitkeeper-uvcvideo.conf"


def camera_fault(root: Path) -> None:
    write(root / "dev/video0")  # the camera is there; the driver options are missing
    write(root / "dev/video1")


def camera_repaired(root: Path) -> None:
    lines = (root / UVC_CONF).read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        "options uvcvideo nodrop=1 timeout=6000"
    ]


NM_DROPIN = "etc/NetworkManager/conf.d/90-kitkeeper.conf"


def network_fault(root: Path) -> None:
    write(root / NM_DROPIN, "[connection]\nwifi.powersave=3\n[connectivity]\nenabled=false\n")


def network_repaired(root: Path) -> None:
    conf = ini(root / NM_DROPIN)
    assert conf["connection"]["wifi.powersave"] == "2"
    assert conf["connectivity"]["enabled"] == "true"
    assert conf["connectivity"]["uri"].startswith("http")
    assert conf["global-dns-domain-*"]["servers"] == "10.20.0.53,1.1.1.1"


TIMESYNCD = "etc/systemd/timesyncd.conf.d/kitkeeper.conf"


def time_fault(root: Path) -> None:
    write(root / TIMESYNCD, "[Time]\nNTP=ntp.closed-school.local\n")


def time_repaired(root: Path) -> None:
    conf = ini(root / TIMESYNCD)
    assert conf["Time"]["NTP"] == "0.kz.pool.ntp.org 1.kz.pool.ntp.org ntp.school.kz"
    assert "pool.ntp.org" in conf["Time"]["FallbackNTP"]


AGENT_UNIT = "etc/systemd/system/kitkeeper-agent.service"


def agent_fault(root: Path) -> None:
    (root / "etc/systemd/system").mkdir(parents=True)  # the unit file is gone


def agent_repaired(root: Path) -> None:
    unit = ini(root / AGENT_UNIT)
    service = unit["Service"]
    assert service["ExecStart"].split()[:2] == [
        "/opt/kitkeeper/.venv/bin/kitkeeper-agent",
        "run",
    ]
    assert service["Restart"] == "always"
    assert service["NoNewPrivileges"] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


A11Y_KEYFILE = "etc/dconf/db/local.d/00-kitkeeper-a11y"
A11Y_LOCKS = "etc/dconf/db/local.d/locks/kitkeeper-a11y"


def a11y_fault(root: Path) -> None:
    write(
        root / A11Y_KEYFILE, "[org/gnome/desktop/a11y/applications]\nscreen-reader-enabled=false\n"
    )


def a11y_repaired(root: Path) -> None:
    keyfile = ini(root / A11Y_KEYFILE)
    assert keyfile["org/gnome/desktop/a11y/applications"]["screen-reader-enabled"] == "true"
    locks = (root / A11Y_LOCKS).read_text(encoding="utf-8").splitlines()
    assert "/org/gnome/desktop/a11y/applications/screen-reader-enabled" in locks
    profile = (root / "etc/dconf/profile/user").read_text(encoding="utf-8").splitlines()
    assert profile == ["user-db:user", "system-db:local"]


@dataclass(frozen=True)
class Case:
    """A fault a playbook repairs: how to make it, the variables, and what repaired looks like."""

    make: Callable[[Path], None]
    repaired: Callable[[Path], None]
    extravars: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "disk-cleanup": Case(disk_fault, disk_repaired),
    "audio-reset": Case(audio_fault, audio_repaired),
    "camera-reload": Case(camera_fault, camera_repaired),
    # As a controller command carries them: one string.
    "network-reset": Case(
        network_fault, network_repaired, {"kk_dns_servers": "10.20.0.53, 1.1.1.1"}
    ),
    "time-sync": Case(
        time_fault,
        time_repaired,
        {"kk_ntp_servers": "0.kz.pool.ntp.org,1.kz.pool.ntp.org ntp.school.kz"},
    ),
    "agent-restart": Case(agent_fault, agent_repaired),
    "accessibility-restore": Case(a11y_fault, a11y_repaired, {"kk_profile": "blind"}),
}


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with its kind and content hash, to see whether a run changed any."""
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            seen[rel] = "dir"
        else:
            seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


# --- the tests -----------------------------------------------------------------------------------


def test_every_playbook_is_here() -> None:
    assert set(playbook_ids()) == EXPECTED_IDS
    assert set(CASES) == EXPECTED_IDS


def test_every_playbook_is_documented() -> None:
    readme = (PLAYBOOKS / "README.md").read_text(encoding="utf-8")
    for playbook_id in playbook_ids():
        meta = load_play(playbook_id)["vars"]["kitkeeper"]
        disruptive = "**yes**" if meta["disruptive"] else "no"
        row = f"| `{playbook_id}` |"
        assert row in readme, playbook_id
        line = next(line for line in readme.splitlines() if line.startswith(row))
        assert line.endswith(f"| {disruptive} | {meta['timeout']} s |"), line


@pytest.mark.parametrize("playbook_id", sorted(EXPECTED_IDS))
def test_metadata_and_safety_guard(playbook_id: str) -> None:
    play = load_play(playbook_id)
    assert play["hosts"] == "localhost"
    assert play["connection"] == "local"
    assert play["gather_facts"] is False
    meta = play["vars"]["kitkeeper"]
    assert set(meta) == {"id", "disruptive", "timeout", "description", "vars"}
    assert meta["id"] == playbook_id
    assert meta["disruptive"] is (playbook_id in DISRUPTIVE)
    assert isinstance(meta["timeout"], int)
    assert not isinstance(meta["timeout"], bool)
    assert 0 < meta["timeout"] <= 3600
    assert isinstance(meta["description"], str)
    assert 20 < len(meta["description"]) <= 500
    # Safe defaults, and the guard first: live commands never run against a test root.
    assert play["vars"]["kk_root"] == "/"
    assert play["vars"]["kk_live"] is True
    first = play["tasks"][0]
    assert "ansible.builtin.assert" in first
    assert GUARD in first["ansible.builtin.assert"]["that"]
    # Only ansible.builtin: kits have no collections and no Galaxy.
    tasks = play["tasks"] + play.get("handlers", [])
    modules = {key for task in tasks for key in task if "." in key}
    assert {m for m in modules if not m.startswith("ansible.builtin.")} == set()


@pytest.mark.parametrize("playbook_id", sorted(EXPECTED_IDS))
def test_declared_variables_have_defaults_that_fit_them(playbook_id: str) -> None:
    """What a command may set is declared (signed with the bundle), never the kit's own settings."""
    play_vars = load_play(playbook_id)["vars"]
    declared = PlaybookMeta.model_validate(play_vars["kitkeeper"]).vars
    assert declared, f"{playbook_id} declares what a command may set"
    assert not declared.keys() & KIT_ONLY
    assert all(name.startswith("kk_") for name in declared)
    for name, spec in declared.items():
        if name == "kk_profile":  # required: no default on purpose
            continue
        default = play_vars[name]
        if isinstance(default, list):  # a command may give the list as one string
            default = " ".join(default)
        if spec.type == "str" and not isinstance(default, str):
            default = str(default)
        assert check_vars({name: spec}, {name: default}) == {name: default}


@pytest.mark.slow
def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    """All playbooks at once (one ansible-lint start), offline, with the repository's config."""
    repo = PLAYBOOKS.parent
    files = [str(PLAYBOOKS / f"{playbook_id}.yml") for playbook_id in playbook_ids()]
    result = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--profile", "production", *files],
        cwd=repo,
        env={**os.environ, **ansible_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output
    assert f"{len(files)} files processed" in output, output


@pytest.mark.slow
@pytest.mark.parametrize("playbook_id", sorted(EXPECTED_IDS))
def test_repairs_the_fault_then_changes_nothing(kit: Kit, playbook_id: str) -> None:
    case = CASES[playbook_id]
    case.make(kit.root)

    first = kit.run(playbook_id, **case.extravars)
    assert first.status == "successful", first
    assert first.changed > 0, first
    assert "WARNING]" not in first.output, first  # deprecations and module warnings too
    case.repaired(kit.root)

    second = kit.run(playbook_id, **case.extravars)
    assert second.status == "successful", second
    assert all(count == 0 for count in second.stats.get("changed", {}).values()), second
    assert second.stats.get("ok", {}).get("localhost", 0) > 0, second
    case.repaired(kit.root)


@pytest.mark.slow
def test_check_mode_reports_and_deletes_nothing(kit: Kit) -> None:
    """The controller's `check: true` runs with --check: it says what it would do, and does not."""
    disk_fault(kit.root)
    before = snapshot(kit.root)

    outcome = kit.run("disk-cleanup", check=True)

    assert outcome.status == "successful", outcome
    assert outcome.changed > 0, outcome
    assert "homework-draft.odt" in outcome.output, outcome
    assert snapshot(kit.root) == before


@pytest.mark.slow
def test_live_commands_refused_against_a_test_root(kit: Kit) -> None:
    """kk_live=true with kk_root elsewhere than / stops at the guard (in check mode, to be sure)."""
    camera_fault(kit.root)
    before = snapshot(kit.root)

    outcome = kit.run("camera-reload", check=True, kk_live=True)

    assert outcome.status == "failed", outcome
    assert "live commands (kk_live=true) only run against the real" in outcome.output, outcome
    assert outcome.stats.get("ok", {}).get("localhost", 0) == 0, outcome
    assert snapshot(kit.root) == before


@pytest.mark.slow
def test_camera_reload_fails_when_no_camera_comes_back(kit: Kit) -> None:
    (kit.root / "dev").mkdir()
    write(kit.root / "dev/vcs1")  # a device, but no video*

    outcome = kit.run("camera-reload")

    assert outcome.status == "failed", outcome
    assert outcome.rc != 0
    assert "No camera: no video device" in outcome.output, outcome
    assert "the camera must be replaced" in outcome.output, outcome
    camera_repaired(kit.root)  # the driver options are in place all the same


@pytest.mark.slow
def test_camera_reload_without_a_camera_when_none_is_expected(kit: Kit) -> None:
    outcome = kit.run("camera-reload", kk_expect_camera=False)

    assert outcome.status == "successful", outcome
    camera_repaired(kit.root)


@pytest.mark.slow
@pytest.mark.parametrize("profile_name", ["deaf", None])
def test_accessibility_restore_refuses_an_unknown_profile(
    kit: Kit, profile_name: str | None
) -> None:
    extravars: dict[str, Any] = {} if profile_name is None else {"kk_profile": profile_name}

    outcome = kit.run("accessibility-restore", **extravars)

    assert outcome.status == "failed", outcome
    shown = "(none: set kk_profile)" if profile_name is None else profile_name
    assert f"Unknown kit profile '{shown}'" in outcome.output, outcome
    assert "expected one of base, low-vision, hearing, motor, blind" in outcome.output, outcome
    assert not (kit.root / "etc").exists()


def profile_names() -> list[str]:
    return sorted(path.stem for path in PROFILES_DIR.glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("profile_name", profile_names())
def test_accessibility_restore_meets_every_setting_of_the_profile(
    kit: Kit, profile_name: str
) -> None:
    """What images/profiles/<name>.yaml asks for (with what it extends), and only that, is set."""
    # Left over from another profile, and a lock on it: both must go.
    write(kit.root / A11Y_KEYFILE, "[org/gnome/desktop/a11y/keyboard]\nbouncekeys-enable=true\n")
    write(kit.root / A11Y_LOCKS, "/org/gnome/desktop/a11y/keyboard/bouncekeys-enable\n")

    outcome = kit.run("accessibility-restore", kk_profile=profile_name)
    assert outcome.status == "successful", outcome

    keyfile = ini(kit.root / A11Y_KEYFILE)
    locks = set((kit.root / A11Y_LOCKS).read_text(encoding="utf-8").splitlines())
    settings = [
        r for r in load_profile(profile_name).requirements() if isinstance(r, SettingRequirement)
    ]
    for setting in settings:
        section = setting.gsettings_schema.replace(".", "/")
        assert keyfile.has_option(section, setting.key), f"{profile_name}: {setting.label}"
        value = keyfile[section][setting.key]
        assert setting_matches(setting.expected, value), f"{setting.label}: {value}"
        if setting.required:
            assert f"/{section}/{setting.key}" in locks, setting.label
    # Nothing beyond the profile: every key set belongs to one of its settings.
    wanted = {(s.gsettings_schema.replace(".", "/"), s.key) for s in settings}
    set_keys = {(section, key) for section in keyfile.sections() for key in keyfile[section]}
    assert set_keys == wanted
    # Every lock names a key that is set.
    assert {line for line in locks if line and not line.startswith("#")} <= {
        f"/{section}/{key}" for section, key in set_keys
    }
