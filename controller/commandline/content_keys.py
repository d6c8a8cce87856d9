"""`content-key rotate` and `content-key show`: the key that signs kits' content manifests."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from controller.commandline.common import EXIT_OK, settings_of
from controller.content import keys
from protocol.bundle_keys import key_fingerprint


def content_key(args: argparse.Namespace) -> int:
    """Dispatch `content-key rotate` / `content-key show`."""
    settings = settings_of(args)
    if args.content_key_command == "rotate":
        rotation = keys.rotate(settings.pki_dir, datetime.now(UTC))
        sys.stdout.write(
            f"content signing key rotated (hand-over {rotation.number})\n"
            f"  previous key (sha256): {rotation.previous}\n"
            f"  new key (sha256):      {rotation.current}\n"
            "  the running controller signs with the new key from its next pass; every manifest\n"
            "  carries the hand-over, so kits that pinned the previous key follow it\n"
        )
        return EXIT_OK
    pem = keys.public_pem(settings.pki_dir)
    sys.stdout.write(f"{keys.key_path(settings.pki_dir)}\n  key (sha256): {key_fingerprint(pem)}\n")
    return EXIT_OK
