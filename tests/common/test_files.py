"""The one atomic writer: the old file or the new one, never half, with its mode from the start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from common import files
from common.files import PRIVATE_MODE, PUBLIC_MODE, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_a_new_file_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "kit.key"
    write_atomic(path, b"secret", PRIVATE_MODE)
    assert path.read_bytes() == b"secret"
    assert _mode(path) == 0o600


def test_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_atomic(path, b"new", PUBLIC_MODE)
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt"]


def test_the_mode_holds_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "crl.pem", b"list", PUBLIC_MODE)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "crl.pem") == 0o644


def test_the_mode_is_set_before_the_file_takes_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    replace = Path.replace

    def spy(self: Path, target: Path) -> Path:
        seen.append(_mode(self))
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    write_atomic(tmp_path / "kit.key", b"secret", PRIVATE_MODE)
    assert seen == [0o600]


def test_the_file_and_its_directory_are_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[str] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        flushed.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        fsync(fd)

    monkeypatch.setattr(files.os, "fsync", spy)
    write_atomic(tmp_path / "state.json", b"{}", PUBLIC_MODE)
    assert flushed == ["file", "dir"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "acl"
    path.write_bytes(b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new", PUBLIC_MODE)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acl"]


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "nowhere" / "file", b"x", PUBLIC_MODE)
