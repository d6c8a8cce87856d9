"""The playbook bundle this kit accepted: signed by the controller, verified before every run.

`BundleStore` keeps the newest signed bundle the kit accepted under `<state_dir>/bundle/`:

    bundle/
      state.json          {"accepted_version": 7, "accepted_at": "..."}
      current -> 7        a symlink, swapped atomically (os.replace) when a bundle is accepted
      7/                  the extracted files: manifest.json, playbooks/<id>.yml, rules.yaml
      7.tar.gz, 7.sig     the exact signed bytes and their detached Ed25519 signature

The signing key can be handed over (`protocol/bundle_keys.py`): a bundle signed by a newer key
is accepted when the hand-overs it comes with lead from the pinned key to that one, which is then
pinned in the key file; bundles signed by the older key are refused from then on.

It refuses unsigned or tampered bundles, bundles signed by another key, a kit without the key,
an older version than the accepted one, and the accepted version with other bytes. Before every
run the stored bytes are verified again and the extracted files checked against the manifest, so
a file changed on disk is refused too; what runs is written from the verified bytes
(`agent/playbooks.py`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from agent.enroll import BUNDLE_KEY_FILE
from common.files import PUBLIC_MODE, write_atomic
from protocol.bundle import (
    BundleError,
    BundleRefusal,
    Manifest,
    extract,
    sha256,
    unpack,
    verify,
)
from protocol.bundle_keys import follow, key_fingerprint
from protocol.commands import InstallBundleArgs, SignedHandover

_LOGGER = logging.getLogger(__name__)

BUNDLE_DIR: Final = "bundle"
_STATE_FILE = "state.json"
_CURRENT = "current"


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """The accepted bundle, verified just now: its manifest and files (from the signed bytes)."""

    manifest: Manifest
    files: dict[str, bytes]


class BundleStore:
    """The playbook bundle this kit accepted, under `<state_dir>/bundle/`."""

    def __init__(self, state_dir: Path, *, public_key: Path | None = None) -> None:
        self.state_dir = state_dir
        self.root = state_dir / BUNDLE_DIR
        self.public_key_path = public_key or state_dir / BUNDLE_KEY_FILE
        self._lock = threading.RLock()

    @property
    def current_dir(self) -> Path:
        """The extracted files of the accepted bundle (`rules.yaml`, `playbooks/`, ...)."""
        return self.root / _CURRENT

    def accepted_version(self) -> int | None:
        """The newest version this kit accepted, or None before the first."""
        versions = [v for v in (self._recorded_version(), self._linked_version()) if v is not None]
        return max(versions) if versions else None

    def manifest(self) -> Manifest | None:
        """The accepted bundle's manifest as extracted (not verified: for display and rules)."""
        try:
            return Manifest.model_validate_json((self.current_dir / "manifest.json").read_bytes())
        except (OSError, ValueError):
            return None

    def install_command(self, args: Mapping[str, Any]) -> Manifest:
        """Install what an `install_bundle` command carries (key hand-overs included)."""
        bundle, signature, handovers = decode_install_args(args)
        return self.install(bundle, signature, handovers)

    def install(
        self, bundle: bytes, signature: bytes, handovers: Sequence[SignedHandover] = ()
    ) -> Manifest:
        """Verify a signed bundle and make it the accepted one; BundleError says why not.

        A bundle the pinned key does not verify is accepted only if the key hand-overs lead
        from the pinned key to one that does; that key is then pinned (before the bundle is put
        in place, so the accepted bundle always verifies with the pinned key).
        """
        with self._lock:
            pinned = self._public_key()
            try:
                manifest = verify(bundle, signature, pinned)
                next_key = None
            except BundleError as exc:
                next_key = follow(pinned, handovers) if handovers else pinned
                if exc.reason != BundleRefusal.SIGNATURE or next_key == pinned:
                    raise
                manifest = verify(bundle, signature, next_key)
            accepted = self.accepted_version()
            if accepted is not None and manifest.version < accepted:
                raise BundleError(
                    BundleRefusal.VERSION,
                    f"version {manifest.version} is older than the accepted version {accepted}",
                )
            if accepted == manifest.version:
                try:
                    stored = (self.root / f"{accepted}.tar.gz").read_bytes()
                except OSError:
                    stored = None  # lost on disk: the same signed version may put it back
                if stored is not None and stored != bundle:
                    raise BundleError(
                        BundleRefusal.VERSION,
                        f"version {accepted} is already accepted with other content",
                    )
                if stored is not None and self._tree_matches(accepted, manifest):
                    return manifest
            try:
                if next_key is not None:
                    write_atomic(self.public_key_path, next_key, PUBLIC_MODE)
                    _LOGGER.warning(
                        "bundle signing key handed over to %s", key_fingerprint(next_key)
                    )
                self._put(manifest.version, bundle, signature)
            except OSError as exc:
                raise BundleError(
                    BundleRefusal.DAMAGED, f"cannot store the bundle in {self.root}: {exc}"
                ) from exc
            _LOGGER.info(
                "playbook bundle %d accepted (%d playbooks)",
                manifest.version,
                len(manifest.playbooks),
            )
            return manifest

    def verified(self) -> VerifiedBundle:
        """The accepted bundle, its stored bytes verified again and its files checked on disk."""
        with self._lock:
            version = self._linked_version()
            if version is None:
                raise BundleError(BundleRefusal.NO_BUNDLE, "no playbook bundle is installed")
            public_key = self._public_key()
            try:
                data = (self.root / f"{version}.tar.gz").read_bytes()
                signature = (self.root / f"{version}.sig").read_bytes()
            except OSError as exc:
                raise BundleError(
                    BundleRefusal.DAMAGED, f"the stored bundle is unreadable: {exc}"
                ) from exc
            manifest = verify(data, signature, public_key)
            recorded = self._recorded_version()
            if manifest.version != version or (recorded is not None and version < recorded):
                raise BundleError(
                    BundleRefusal.VERSION,
                    f"the bundle on disk is version {manifest.version}, the kit accepted "
                    f"{max(version, recorded or 0)}",
                )
            if not self._tree_matches(version, manifest):
                raise BundleError(
                    BundleRefusal.HASH, "the extracted playbooks were changed on disk"
                )
            _, files = unpack(data)
            return VerifiedBundle(manifest=manifest, files=files)

    # --- on disk ---------------------------------------------------------------------------

    def _public_key(self) -> bytes:
        try:
            return self.public_key_path.read_bytes()
        except FileNotFoundError:
            raise BundleError(
                BundleRefusal.NO_KEY,
                f"no bundle signing key at {self.public_key_path} (enrol again, or set "
                "KITKEEPER_BUNDLE_KEY)",
            ) from None
        except OSError as exc:
            raise BundleError(BundleRefusal.NO_KEY, f"cannot read the bundle key: {exc}") from exc

    def _recorded_version(self) -> int | None:
        try:
            value = json.loads((self.root / _STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        version = value.get("accepted_version") if isinstance(value, dict) else None
        return version if isinstance(version, int) and version > 0 else None

    def _linked_version(self) -> int | None:
        try:
            target = self.current_dir.readlink().name
        except OSError:
            return None
        return int(target) if target.isdigit() else None

    def _tree_matches(self, version: int, manifest: Manifest) -> bool:
        tree = self.root / str(version)
        try:
            return all(
                sha256(tree.joinpath(*path.split("/")).read_bytes()) == digest
                for path, digest in manifest.files.items()
            )
        except OSError:
            return False

    def _put(self, version: int, bundle: bytes, signature: bytes) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        staging = self.root / f".new-{token}"
        extract(bundle, staging)
        write_atomic(self.root / f"{version}.sig", signature, PUBLIC_MODE)
        write_atomic(self.root / f"{version}.tar.gz", bundle, PUBLIC_MODE)
        target = self.root / str(version)
        if target.exists():  # a damaged copy of the same version: put it aside first
            target.rename(self.root / f".old-{token}")
        staging.rename(target)
        if self.current_dir.exists() and not self.current_dir.is_symlink():
            shutil.rmtree(self.current_dir)
        link = self.root / f".link-{token}"
        link.symlink_to(str(version))
        link.replace(self.current_dir)  # the switch: atomic
        write_atomic(
            self.root / _STATE_FILE,
            json.dumps(
                {"accepted_version": version, "accepted_at": datetime.now(UTC).isoformat()}
            ).encode(),
            PUBLIC_MODE,
        )
        keep = {_CURRENT, _STATE_FILE, str(version), f"{version}.tar.gz", f"{version}.sig"}
        for path in self.root.iterdir():
            if path.name in keep:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def decode_install_args(
    args: Mapping[str, Any],
) -> tuple[bytes, bytes, list[SignedHandover]]:
    """The bundle, signature and key hand-overs an `install_bundle` command carries."""
    if not args.get("signature_b64"):
        raise BundleError(BundleRefusal.UNSIGNED, "the command carries no signature")
    try:
        parsed = InstallBundleArgs.model_validate(args)
    except ValidationError as exc:
        detail = str(exc).splitlines()[0]
        raise BundleError(BundleRefusal.DAMAGED, f"invalid arguments: {detail}") from exc
    try:
        return (
            base64.b64decode(parsed.bundle_b64, validate=True),
            base64.b64decode(parsed.signature_b64, validate=True),
            list(parsed.handovers),
        )
    except (binascii.Error, ValueError) as exc:
        raise BundleError(BundleRefusal.DAMAGED, f"not base64: {exc}") from exc
