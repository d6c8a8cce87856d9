"""The playbooks and rules the controller runs the ladder with: the signed bundle, as it needs it.

`load_bundle` builds (or reuses) the signed bundle of the playbooks directory and keeps what the
ladder decides with: each playbook's disruptiveness and timeout, its description, and the
`install_bundle` command that hands the bundle to kits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.remediation import bundle_keys, bundle_versions, bundles
from controller.trust import pki
from policy.ladder import PlaybookInfo
from protocol.bundle import read_metadata
from protocol.bundle_keys import key_fingerprint
from protocol.playbook_vars import VarSpec

_LOGGER = logging.getLogger(__name__)


@dataclass
class Bundle:
    """The signed playbook bundle kits are given, as the remediator needs it."""

    version: int
    catalogue: dict[str, PlaybookInfo]
    descriptions: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, VarSpec]] = field(default_factory=dict)
    """Per playbook, the variables a run may set (declared in the signed bundle)."""
    install_args: dict[str, Any] | None = None
    """The install_bundle command's args (None when bundles cannot be signed here)."""


def catalogue_of(bundle: Bundle | None) -> dict[str, PlaybookInfo]:
    """The playbooks the kits have (from the bundle manifest); none without a bundle."""
    return bundle.catalogue if bundle is not None else {}


def default_rules_path(settings: ControllerSettings) -> Path:
    """rules.yaml of the playbooks directory, unless configured."""
    if settings.rules_path is not None:
        return settings.rules_path
    return bundles.default_rules_path(bundles.playbooks_dir(settings))


def load_bundle(
    settings: ControllerSettings, now: datetime, sessions: sessionmaker[Session] | None = None
) -> Bundle:
    """Build (or reuse) the signed bundle of the playbooks and rules the controller uses.

    With the database (`sessions`) the version goes above every version kits may have seen and
    the build is recorded; the `install_bundle` command carries the key's hand-overs.
    Without the signing key (a controller run with --plain and no PKI) the catalogue is still
    read from the playbooks, but no bundle can be sent: kits then run nothing remotely.
    """
    playbooks = bundles.playbooks_dir(settings)
    paths = pki.PkiPaths(settings.pki_dir)
    key_path = paths.bundle_key
    if paths.exists() and not key_path.exists():  # a device CA made before bundles existed
        bundles.ensure_signing_key(key_path)
    if key_path.exists():
        store = bundles.BundleStore(bundles.bundle_dir(settings))
        key = bundles.load_signing_key(key_path)
        public = bundles.public_key_pem(key)
        floor = 0
        if sessions is not None:
            with sessions() as session:
                floor = bundle_versions.highest_seen(session)
        signed = store.build(playbooks, default_rules_path(settings), key, now, floor=floor)
        if sessions is not None:
            with sessions() as session:
                bundle_versions.record_build(session, signed, key_fingerprint(public), now)
                session.commit()
        handovers = bundle_keys.handover_chain(key_path, public)
        entries = signed.manifest.playbooks
        return Bundle(
            version=signed.version,
            catalogue={
                name: PlaybookInfo(e.disruptive, timedelta(seconds=e.timeout))
                for name, e in entries.items()
            },
            descriptions={name: e.description for name, e in entries.items()},
            variables={name: dict(e.vars) for name, e in entries.items()},
            install_args=bundles.install_command_args(signed, handovers).model_dump(),
        )
    _LOGGER.warning("no bundle signing key at %s: kits will not get playbooks", key_path)
    metas = [read_metadata(path.read_bytes()) for path in sorted(playbooks.glob("*.yml"))]
    return Bundle(
        version=0,
        catalogue={m.id: PlaybookInfo(m.disruptive, timedelta(seconds=m.timeout)) for m in metas},
        descriptions={m.id: m.description for m in metas},
        variables={m.id: dict(m.vars) for m in metas},
    )
