"""`bundle build` and `bundle rotate-key`: the signed playbook bundle and its signing key."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from controller.commandline.common import EXIT_OK, sessions_of, settings_of
from controller.errors import ConfigError
from controller.remediation import bundle_keys, bundles
from controller.remediation.playbooks import load_bundle
from controller.trust import pki


def bundle(args: argparse.Namespace) -> int:
    """Dispatch `bundle build` / `bundle rotate-key`."""
    settings = settings_of(args)
    key_path = pki.PkiPaths(settings.pki_dir).bundle_key
    if args.bundle_command == "rotate-key":
        if not key_path.exists():
            raise ConfigError(f"no bundle signing key at {key_path}: nothing to rotate")
        rotation = bundle_keys.rotate_signing_key(key_path, datetime.now(UTC))
        sys.stdout.write(
            f"bundle signing key rotated (hand-over {rotation.number})\n"
            f"  previous key (sha256): {rotation.previous}\n"
            f"  new key (sha256):      {rotation.current}\n"
            "  restart the controller: it builds a new bundle signed with the new key, and kits\n"
            "  take the new key through the hand-over the previous key signed\n"
        )
        return EXIT_OK
    built = load_bundle(settings, datetime.now(UTC), sessions_of(settings))
    if built.install_args is None:
        raise ConfigError(f"no bundle signing key at {key_path}: run `pki init` first")
    sys.stdout.write(
        f"playbook bundle {built.version} ({len(built.catalogue)} playbooks) in "
        f"{bundles.bundle_dir(settings)}\n"
    )
    return EXIT_OK
