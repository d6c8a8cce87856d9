"""The command line and the demo agree (issue 13): the CLI finds the demo's configuration, never
makes a second database on the side, and logs quietly.

Against the real `kitkeeper-controller` in a folder laid out as `make demo` leaves it
(var/demo/kitkeeper.env written by tools/demo.py, the demo's database), without starting the demo.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.platform.crypto import generate_key
from tools.demo import write_config

pytestmark = pytest.mark.processes

CONTROLLER = str(Path(sys.executable).parent / "kitkeeper-controller")
PASSWORD = "Correct-Horse-7-Battery"


@dataclass
class Run:
    """A command line started, and what it is given on standard input."""

    process: subprocess.Popen[str]
    stdin: str


def start(*args: str, cwd: Path, stdin: str = "", **env: str) -> Run:
    """The real command line in `cwd`, with none of the caller's KITKEEPER_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KITKEEPER_")}
    process = subprocess.Popen(
        [CONTROLLER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**clean, **env},
    )
    return Run(process, stdin)


def finish(started: Run) -> tuple[int, str]:
    """(exit code, standard error) once it ends."""
    _, stderr = started.process.communicate(started.stdin, timeout=60)
    return started.process.returncode, stderr


def run(*args: str, cwd: Path, stdin: str = "", **env: str) -> tuple[int, str]:
    """Run it to the end: (exit code, standard error)."""
    return finish(start(*args, cwd=cwd, stdin=stdin, **env))


def users(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT username FROM users ORDER BY 1")]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A project folder after `make demo`: var/demo/kitkeeper.env and the demo's database."""
    var = tmp_path / "var" / "demo"
    var.mkdir(parents=True)
    keys = {
        "KITKEEPER_PII_KEYS": json.dumps([generate_key()]),
        "KITKEEPER_PII_INDEX_KEY": generate_key(),
    }
    config = write_config(var, mqtt_port=1884, http_port=8000, env=keys)
    assert config.stat().st_mode & 0o777 == 0o600
    code, stderr = run("db", "upgrade", "--db", f"sqlite:///{var / 'kitkeeper.db'}", cwd=tmp_path)
    assert code == 0, stderr
    assert " INFO " not in stderr, "no Alembic INFO lines"
    assert "alembic" not in stderr
    return tmp_path


def test_the_command_line_works_on_the_demo_and_refuses_a_second_database(demo: Path) -> None:
    db = demo / "var" / "demo" / "kitkeeper.db"
    empty = demo / "empty"
    empty.mkdir()
    create = ("user", "create", "--username", "aigerim", "--role", "admin", "--password-stdin")
    by_itself = start(*create, cwd=demo, stdin=PASSWORD)
    refused = start(*create, cwd=empty, stdin=PASSWORD)
    missing = start("user", "disable", "--username", "x", cwd=empty, KITKEEPER_CONFIG="no.env")

    code, stderr = finish(by_itself)
    assert code == 0, stderr
    assert "var/demo/kitkeeper.env" in stderr, "it says which configuration it used"
    assert " INFO " not in stderr, "quiet by default"
    assert not (demo / "var" / "kitkeeper.db").exists(), "no second database on the side"

    code, stderr = finish(refused)
    assert code == 2
    assert "var/kitkeeper.db" in stderr, "it says which database it looked for"
    assert "KITKEEPER_CONFIG=var/demo/kitkeeper.env" in stderr, "and how to use the demo's"
    assert "Traceback" not in stderr
    assert list(empty.iterdir()) == [], "nothing created"
    code, stderr = finish(missing)
    assert code == 2
    assert "no.env" in stderr

    elsewhere = f"sqlite:///{demo / 'site.db'}"
    code, stderr = run(
        *create[:-1], "--password-stdin", "--db", elsewhere, cwd=demo, stdin=PASSWORD
    )
    assert code == 0, stderr
    assert "kitkeeper.env" not in stderr, "a command given its database never takes the demo's"
    assert users(demo / "site.db") == ["aigerim"]
    code, stderr = run("db", "upgrade", cwd=demo)
    assert code == 0, stderr
    assert "var/demo/kitkeeper.env" in stderr, "run by the demo, it migrates the demo's database"
    assert not (demo / "var" / "kitkeeper.db").exists(), "and never creates another on the side"

    config = str(demo / "var" / "demo" / "kitkeeper.env")
    teacher = ("user", "create", "--username", "dana", "--role", "teacher", "--password-stdin")
    code, stderr = run(*teacher, cwd=empty, stdin=PASSWORD, KITKEEPER_CONFIG=config)
    assert code == 0, stderr
    assert stderr == ""
    assert users(db) == ["aigerim", "dana"]
    assert list(empty.iterdir()) == []
