"""Signed playbook bundles: the format both sides agree on (pure; bytes in, bytes or models out).

A bundle is a gzip-compressed tar of regular files: `manifest.json`, `playbooks/<id>.yml` and
`rules.yaml`. The manifest lists every other file with its SHA-256 and, per playbook, what its
play vars say under `kitkeeper:` (id, disruptive, timeout, description, and the variables a
command may set: `protocol/playbook_vars.py`). The controller signs the
exact `.tar.gz` bytes with Ed25519 (a detached signature); the agent accepts a bundle only when the
signature verifies with the key it got at enrolment, every listed file is present with its hash,
nothing else is in the archive, and no member is a link, a device, an absolute path or climbs out
with `..`. Sizes are capped before anything is read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import stat
import tarfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

import yaml
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator

from protocol.base import WireModel
from protocol.commands import PLAYBOOK_ID_PATTERN
from protocol.playbook_vars import Declarations

FORMAT: Final = 1
MANIFEST: Final = "manifest.json"
RULES: Final = "rules.yaml"
PLAYBOOKS_DIR: Final = "playbooks"
MAX_BUNDLE_BYTES: Final = 1024 * 1024
"""Largest compressed bundle accepted (it travels base64 in one MQTT message of 64 KiB anyway)."""
MAX_UNPACKED_BYTES: Final = 5 * 1024 * 1024
"""Largest total size of the files in a bundle once unpacked."""
MAX_MEMBERS: Final = 512
"""Most members in one bundle."""
SIGNATURE_BYTES: Final = 64
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class BundleRefusal(StrEnum):
    """Why a bundle is refused; the reason the agent reports back."""

    UNSIGNED = "unsigned"
    SIGNATURE = "signature"
    NO_KEY = "no_key"
    MANIFEST = "manifest"
    HASH = "hash"
    UNSAFE_MEMBER = "unsafe_member"
    TOO_LARGE = "too_large"
    VERSION = "version"
    DAMAGED = "damaged"
    NO_BUNDLE = "no_bundle"


class BundleError(ValueError):
    """A bundle that cannot be accepted, with the reason (`reason`) and what exactly (`detail`)."""

    def __init__(self, reason: BundleRefusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class PlaybookMeta(WireModel):
    """What a playbook says about itself in its play vars, under `kitkeeper:`."""

    id: str = Field(pattern=PLAYBOOK_ID_PATTERN)
    disruptive: bool = Field(
        default=False, description="reboots, or restarts the network, audio or a driver"
    )
    timeout: int = Field(ge=1, le=24 * 3600, description="seconds before the run is stopped")
    description: str = Field(default="", max_length=500)
    vars: Declarations = Field(
        default_factory=dict,
        description="what a command may set (protocol/playbook_vars.py); nothing else",
    )


class PlaybookEntry(WireModel):
    """One playbook of the manifest: its file, its metadata and the variables a command may set."""

    file: str
    disruptive: bool = False
    timeout: int = Field(ge=1, le=24 * 3600)
    description: str = Field(default="", max_length=500)
    vars: Declarations = Field(default_factory=dict)


class Manifest(WireModel):
    """`manifest.json`: the bundle's version, its files with their hashes, its playbooks."""

    format: Literal[1] = FORMAT
    version: int = Field(ge=1, description="monotonic: a kit never goes back to an older one")
    created_at: AwareDatetime
    files: dict[str, str] = Field(description="path in the archive -> lowercase hex SHA-256")
    playbooks: dict[str, PlaybookEntry] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _files(cls, files: dict[str, str]) -> dict[str, str]:
        for path, digest in files.items():
            check_path(path)
            if path == MANIFEST:
                raise ValueError("the manifest cannot list itself")
            if not _SHA256.match(digest):
                raise ValueError(f"{path}: {digest!r} is not a lowercase hex SHA-256")
        return files

    @model_validator(mode="after")
    def _playbooks_are_listed(self) -> Manifest:
        for playbook_id, entry in self.playbooks.items():
            if not re.match(PLAYBOOK_ID_PATTERN, playbook_id):
                raise ValueError(f"{playbook_id!r} is not a playbook id")
            if entry.file != playbook_path(playbook_id):
                raise ValueError(f"playbook {playbook_id} must be {playbook_path(playbook_id)}")
            if entry.file not in self.files:
                raise ValueError(f"playbook {playbook_id}: {entry.file} is not in the files")
        return self


def playbook_path(playbook_id: str) -> str:
    """Where a playbook lives in a bundle."""
    return f"{PLAYBOOKS_DIR}/{playbook_id}.yml"


def check_path(path: str) -> str:
    """`path` if it is a safe relative archive path (no absolute, `..`, empty or odd segment)."""
    if not path or len(path) > 255 or "\\" in path or "\x00" in path:
        raise ValueError(f"{path!r} is not a safe relative path")
    pure = PurePosixPath(path)
    if pure.is_absolute() or str(pure) != path:
        raise ValueError(f"{path!r} is not a safe relative path")
    if any(not _SEGMENT.match(part) or part in {".", ".."} for part in pure.parts):
        raise ValueError(f"{path!r} is not a safe relative path")
    return path


def sha256(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


class _PlaybookLoader(yaml.SafeLoader):
    """Safe YAML that reads Ansible's own tags (`!unsafe`, `!vault`) as plain values."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return None


_PlaybookLoader.add_multi_constructor("!", _plain)


def read_metadata(playbook_yaml: bytes) -> PlaybookMeta:
    """The `kitkeeper:` block of a playbook's play vars (exactly one play carries it)."""
    try:
        plays = yaml.load(playbook_yaml, Loader=_PlaybookLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise BundleError(BundleRefusal.MANIFEST, f"the playbook is not YAML: {exc}") from exc
    if not isinstance(plays, list):
        raise BundleError(BundleRefusal.MANIFEST, "a playbook is a list of plays")
    blocks = [
        play["vars"]["kitkeeper"]
        for play in plays
        if isinstance(play, dict)
        and isinstance(play.get("vars"), dict)
        and "kitkeeper" in play["vars"]
    ]
    if len(blocks) != 1:
        raise BundleError(
            BundleRefusal.MANIFEST,
            f"exactly one play must carry `vars: kitkeeper: {{id, disruptive, timeout, "
            f"description}}`, found {len(blocks)}",
        )
    try:
        return PlaybookMeta.model_validate(blocks[0])
    except ValidationError as exc:
        raise BundleError(BundleRefusal.MANIFEST, f"bad kitkeeper metadata: {exc}") from exc


def build_manifest(files: dict[str, bytes], *, version: int, created_at: datetime) -> Manifest:
    """The manifest of `files` (path -> content): hashes, and every playbook's metadata."""
    playbooks: dict[str, PlaybookEntry] = {}
    for path in sorted(files):
        try:
            check_path(path)
        except ValueError as exc:
            raise BundleError(BundleRefusal.UNSAFE_MEMBER, str(exc)) from exc
        pure = PurePosixPath(path)
        if pure.parent == PurePosixPath(PLAYBOOKS_DIR) and pure.suffix == ".yml":
            try:
                meta = read_metadata(files[path])
            except BundleError as exc:
                raise BundleError(exc.reason, f"{path}: {exc.detail}") from exc
            if path != playbook_path(meta.id):
                raise BundleError(
                    BundleRefusal.MANIFEST,
                    f"{path} says its id is {meta.id!r}: name it {playbook_path(meta.id)}",
                )
            playbooks[meta.id] = PlaybookEntry(
                file=path,
                disruptive=meta.disruptive,
                timeout=meta.timeout,
                description=meta.description,
                vars=meta.vars,
            )
    try:
        return Manifest(
            version=version,
            created_at=created_at,
            files={path: sha256(files[path]) for path in sorted(files)},
            playbooks=playbooks,
        )
    except ValidationError as exc:
        raise BundleError(BundleRefusal.MANIFEST, str(exc)) from exc


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as stored in a bundle (sorted keys: the same manifest, the same bytes)."""
    return json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True).encode()


def pack(files: dict[str, bytes], *, version: int, created_at: datetime) -> bytes:
    """A deterministic bundle of `files` plus its manifest: sorted, mtime 0, owner 0, mode 0644."""
    if MANIFEST in files:
        raise BundleError(BundleRefusal.MANIFEST, "the manifest is written by pack itself")
    manifest = build_manifest(files, version=version, created_at=created_at)
    members = {MANIFEST: manifest_bytes(manifest), **files}
    if sum(len(data) for data in members.values()) > MAX_UNPACKED_BYTES:
        raise BundleError(BundleRefusal.TOO_LARGE, f"over {MAX_UNPACKED_BYTES} bytes unpacked")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(members):
            info = tarfile.TarInfo(path)
            info.size = len(members[path])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(members[path]))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def load_public_key(public_key_pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or BundleError(NO_KEY)."""
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BundleError(BundleRefusal.NO_KEY, "the bundle key is not a readable PEM") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(BundleRefusal.NO_KEY, "the bundle key is not an Ed25519 key")
    return key


def verify(bundle: bytes, signature: bytes, public_key_pem: bytes) -> Manifest:
    """The manifest of a bundle once its signature, members and hashes all check out."""
    if not signature:
        raise BundleError(BundleRefusal.UNSIGNED, "the bundle has no signature")
    if not bundle:
        raise BundleError(BundleRefusal.DAMAGED, "the bundle is empty")
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise BundleError(BundleRefusal.TOO_LARGE, f"the bundle is over {MAX_BUNDLE_BYTES} bytes")
    key = load_public_key(public_key_pem)
    try:
        key.verify(signature, bundle)
    except InvalidSignature:
        raise BundleError(
            BundleRefusal.SIGNATURE, "the signature does not verify: tampered, or another signer"
        ) from None
    manifest, _ = unpack(bundle)
    return manifest


def unpack(bundle: bytes) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest and the listed files of a bundle, checked, in memory (no signature check)."""
    contents = _members(bundle)
    raw_manifest = contents.pop(MANIFEST, None)
    if raw_manifest is None:
        raise BundleError(BundleRefusal.MANIFEST, "the bundle has no manifest.json")
    try:
        manifest = Manifest.model_validate_json(raw_manifest)
    except ValidationError as exc:
        raise BundleError(BundleRefusal.MANIFEST, f"manifest.json is invalid: {exc}") from exc
    unlisted = sorted(set(contents) - set(manifest.files))
    if unlisted:
        raise BundleError(BundleRefusal.MANIFEST, f"files not in the manifest: {unlisted}")
    for path, digest in manifest.files.items():
        if path not in contents:
            raise BundleError(BundleRefusal.HASH, f"{path} is listed but missing")
        if sha256(contents[path]) != digest:
            raise BundleError(BundleRefusal.HASH, f"{path} does not match its hash")
    contents[MANIFEST] = raw_manifest
    return manifest, contents


def _members(bundle: bytes) -> dict[str, bytes]:
    """Every member of the archive, refusing anything but small regular files at safe paths."""
    contents: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise BundleError(BundleRefusal.TOO_LARGE, f"over {MAX_MEMBERS} members")
                if not member.isreg():
                    kind = "a link" if member.issym() or member.islnk() else "not a regular file"
                    raise BundleError(BundleRefusal.UNSAFE_MEMBER, f"{member.name!r} is {kind}")
                try:
                    check_path(member.name)
                except ValueError as exc:
                    raise BundleError(BundleRefusal.UNSAFE_MEMBER, str(exc)) from exc
                if member.name in contents:
                    raise BundleError(BundleRefusal.UNSAFE_MEMBER, f"{member.name} twice")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise BundleError(
                        BundleRefusal.TOO_LARGE, f"over {MAX_UNPACKED_BYTES} bytes unpacked"
                    )
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isreg() members always have data
                    raise BundleError(BundleRefusal.DAMAGED, f"{member.name} has no data")
                contents[member.name] = handle.read(member.size)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, UnicodeError) as exc:
        raise BundleError(BundleRefusal.DAMAGED, f"not a readable .tar.gz: {exc}") from exc
    return contents


def extract(bundle: bytes, dest_dir: Path) -> Manifest:
    """Write the bundle's listed regular files (and manifest.json) into a new `dest_dir`."""
    manifest, contents = unpack(bundle)
    dest_dir.mkdir(mode=0o755, parents=True, exist_ok=False)
    for path in sorted(contents):
        target = dest_dir.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        with os.fdopen(fd, "wb") as handle:
            handle.write(contents[path])
            handle.flush()
            os.fsync(handle.fileno())
    return manifest
