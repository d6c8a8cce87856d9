"""Playbook bundles on the controller: the signing key, building, versioning and storing them.

The controller packs the repository's `playbooks/*.yml` and `playbooks/rules.yaml` into a bundle
(`protocol/bundle.py`), signs the exact bytes with its Ed25519 bundle key (kept beside the device
CA as `bundle-signing.key`, mode 0600; kits get the public half at enrolment) and keeps every
version it ever built as `<version>.tar.gz` + `<version>.sig` in its bundle directory. Versions
only go up and survive restarts: building content identical to the newest stored bundle, signed
by the current key, returns that bundle; anything else becomes the next version, above every
version the database says kits may have seen (`bundle_versions.py`: a lost bundle directory
never makes a version go back or be reused). Key rotation: `bundle_keys.py`.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.files import PRIVATE_MODE, PUBLIC_MODE, write_atomic
from common.pem import PemError, load_private_key
from controller.config import ControllerSettings
from controller.errors import ControllerError
from protocol.bundle import (
    RULES,
    BundleError,
    Manifest,
    pack,
    playbook_path,
    sha256,
    unpack,
)
from protocol.commands import InstallBundleArgs, SignedHandover

_LOGGER = logging.getLogger(__name__)

SIGNING_KEY_FILE = "bundle-signing.key"
"""The bundle signing key's file name in the PKI directory (its public half: `.pub`)."""
DEFAULT_PLAYBOOKS_DIR = Path(__file__).resolve().parents[2] / "playbooks"
"""The repository's playbooks (and their `rules.yaml`)."""
MAX_BASE64_CHARS = 48_000
"""Largest base64 bundle sent in one `install_bundle` command (payloads are capped at 64 KiB)."""
_VERSION_FILE = re.compile(r"^([1-9][0-9]{0,17})\.tar\.gz$")


class BundleBuildError(ControllerError):
    """A bundle cannot be built, stored or sent (bad playbook metadata, too large, disk)."""


@dataclass(frozen=True, slots=True)
class SignedBundle:
    """One stored bundle: its version, the exact bytes, their detached signature, its manifest."""

    version: int
    data: bytes
    signature: bytes
    manifest: Manifest


def public_key_path(key_path: Path) -> Path:
    """Where the public half of the signing key at `key_path` is kept."""
    return key_path.with_suffix(".pub")


def ensure_signing_key(path: Path) -> Ed25519PrivateKey:
    """The bundle signing key at `path`; created (0600, public half beside it, 0644) if missing."""
    if path.exists():
        key = load_signing_key(path)
        _write_public(path, key)
    else:
        key = Ed25519PrivateKey.generate()
        write_signing_key(path, key)
        _LOGGER.info("bundle signing key created in %s", path)
    return key


def write_signing_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Put `key` at `path` (0600) and its public half beside it (0644), each atomically."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            PRIVATE_MODE,
        )
    except OSError as exc:
        raise BundleBuildError(f"cannot write the bundle signing key {path}: {exc}") from exc
    _write_public(path, key)


def _write_public(path: Path, key: Ed25519PrivateKey) -> None:
    public = public_key_path(path)
    pem = public_key_pem(key)
    try:
        if not public.exists() or public.read_bytes() != pem:
            write_atomic(public, pem, PUBLIC_MODE)
    except OSError as exc:
        raise BundleBuildError(f"cannot write {public}: {exc}") from exc


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The bundle signing key at `path`."""
    try:
        key = load_private_key(path, "the bundle signing key")
    except PemError as exc:
        raise BundleBuildError(str(exc)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleBuildError(f"{path} is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The public half of a signing key, PEM (SubjectPublicKeyInfo): what kits verify with."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The detached Ed25519 signature of `data`."""
    return key.sign(data)


def playbooks_dir(settings: ControllerSettings) -> Path:
    """Where the playbooks are: the setting, else the repository's `playbooks/`."""
    return settings.playbooks_dir or DEFAULT_PLAYBOOKS_DIR


def bundle_dir(settings: ControllerSettings) -> Path:
    """Where built bundles are kept: the setting, else `bundles/` beside the PKI directory."""
    return settings.bundle_dir or settings.pki_dir.parent / "bundles"


def collect_files(playbooks: Path, rules_path: Path | None) -> dict[str, bytes]:
    """What goes into a bundle: every `*.yml` in `playbooks` and, if it exists, the rules file."""
    try:
        files = {
            playbook_path(path.stem): path.read_bytes()
            for path in sorted(playbooks.glob("*.yml"))
            if path.is_file()
        }
        if rules_path is not None and rules_path.is_file():
            files[RULES] = rules_path.read_bytes()
    except OSError as exc:
        raise BundleBuildError(f"cannot read the playbooks in {playbooks}: {exc}") from exc
    if not files:
        raise BundleBuildError(f"no playbooks (*.yml) in {playbooks}")
    return files


class BundleStore:
    """Every bundle the controller built, by version, in one directory."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self._lock = threading.Lock()

    def versions(self) -> list[int]:
        """Stored versions (those with both bytes and signature), oldest first."""
        if not self.store_dir.is_dir():
            return []
        found = []
        for path in self.store_dir.iterdir():
            match = _VERSION_FILE.match(path.name)
            if match and (self.store_dir / f"{match.group(1)}.sig").is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def get(self, version: int) -> SignedBundle:
        """The stored bundle of `version`."""
        try:
            data = (self.store_dir / f"{version}.tar.gz").read_bytes()
            signature = (self.store_dir / f"{version}.sig").read_bytes()
        except OSError as exc:
            raise BundleBuildError(f"cannot read bundle {version}: {exc}") from exc
        try:
            manifest, _ = unpack(data)
        except BundleError as exc:
            raise BundleBuildError(f"stored bundle {version} is damaged: {exc}") from exc
        return SignedBundle(version=version, data=data, signature=signature, manifest=manifest)

    def current(self) -> SignedBundle | None:
        """The newest stored bundle, or None before the first build."""
        versions = self.versions()
        return self.get(versions[-1]) if versions else None

    def build(
        self,
        playbooks: Path,
        rules_path: Path | None,
        key: Ed25519PrivateKey,
        now: datetime,
        *,
        floor: int = 0,
    ) -> SignedBundle:
        """The newest bundle of these playbooks: the stored one if unchanged, else a new version.

        The stored one is reused only if this key signed it and it is not below `floor` (the
        highest version kits may have seen, from the database); a new version is above both.
        """
        files = collect_files(playbooks, rules_path)
        hashes = {path: sha256(data) for path, data in files.items()}
        with self._lock:
            versions = self.versions()
            latest = None
            if versions:
                try:
                    latest = self.get(versions[-1])
                except BundleBuildError:  # damaged on disk: superseded by a new version
                    _LOGGER.exception("stored bundle %d is unusable", versions[-1])
            if (
                latest is not None
                and latest.manifest.files == hashes
                and latest.version >= floor
                and _signed_by(latest, key)
            ):
                return latest
            version = max(versions[-1] if versions else 0, floor) + 1
            try:
                data = pack(files, version=version, created_at=now)
            except BundleError as exc:
                raise BundleBuildError(f"cannot build a bundle from {playbooks}: {exc}") from exc
            signature = sign(data, key)
            manifest, _ = unpack(data)
            bundle = SignedBundle(
                version=version, data=data, signature=signature, manifest=manifest
            )
            install_command_args(bundle)  # refuse to store what could never be sent
            try:
                self.store_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
                # The signature first: a version exists once its .tar.gz is in place.
                write_atomic(self.store_dir / f"{version}.sig", signature, PUBLIC_MODE)
                write_atomic(self.store_dir / f"{version}.tar.gz", data, PUBLIC_MODE)
            except OSError as exc:
                raise BundleBuildError(f"cannot store bundle {version}: {exc}") from exc
        _LOGGER.info(
            "playbook bundle %d built: %d playbooks, %d bytes",
            version,
            len(manifest.playbooks),
            len(data),
        )
        return bundle


def _signed_by(bundle: SignedBundle, key: Ed25519PrivateKey) -> bool:
    try:
        key.public_key().verify(bundle.signature, bundle.data)
    except InvalidSignature:
        return False
    return True


def install_command_args(
    bundle: SignedBundle, handovers: Sequence[SignedHandover] = ()
) -> InstallBundleArgs:
    """The `install_bundle` command's args for a bundle (base64); refuses one too large to send."""
    encoded = base64.b64encode(bundle.data).decode("ascii")
    extra = sum(len(h.statement_b64) + len(h.signature_b64) for h in handovers)
    if len(encoded) + extra > MAX_BASE64_CHARS:
        raise BundleBuildError(
            f"bundle {bundle.version} is {len(encoded)} characters in base64, over the "
            f"{MAX_BASE64_CHARS} one command can carry: make the playbooks smaller"
        )
    return InstallBundleArgs(
        bundle_b64=encoded,
        signature_b64=base64.b64encode(bundle.signature).decode("ascii"),
        handovers=list(handovers),
    )


def default_rules_path(playbooks: Path) -> Path:
    """The rules file that goes with a playbooks directory."""
    return playbooks / RULES
