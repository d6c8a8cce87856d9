"""Signed playbook bundles: what the controller builds, and what a kit refuses even when signed."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.remediation import bundles as controller_bundles
from controller.trust.pki import init_pki
from protocol.bundle import (
    MANIFEST,
    MAX_UNPACKED_BYTES,
    BundleError,
    BundleRefusal,
    extract,
    pack,
    read_metadata,
    sha256,
    unpack,
    verify,
)
from tests.support import HOSTS

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


def playbook(playbook_id: str, *, timeout: int = 60, disruptive: bool = False) -> bytes:
    return f"""
- name: {playbook_id}
  hosts: localhost
  gather_facts: false
  vars:
    kitkeeper:
      id: {playbook_id}
      disruptive: {str(disruptive).lower()}
      timeout: {timeout}
      description: "fixes {playbook_id}"
  tasks:
    - name: say so
      ansible.builtin.debug:
        msg: "{{{{ 'fixing' | upper }}}}"
""".encode()


FILES = {
    "playbooks/restart-audio.yml": playbook("restart-audio", timeout=120),
    "playbooks/reboot.yml": playbook("reboot", disruptive=True),
    "rules.yaml": b"rules: []\n",
}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public(key: Ed25519PrivateKey) -> bytes:
    return controller_bundles.public_key_pem(key)


def raw_bundle(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """A hand-made .tar.gz: (name, data) regular files, or TarInfo entries (links, ...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return gzip.compress(buffer.getvalue())


def manifest_for(files: dict[str, bytes], **overrides: object) -> bytes:
    manifest = {
        "format": 1,
        "version": 3,
        "created_at": NOW.isoformat(),
        "files": {path: sha256(data) for path, data in files.items()},
        "playbooks": {},
        **overrides,
    }
    return json.dumps(manifest).encode()


# --- the format --------------------------------------------------------------------------------


def test_a_signed_bundle_verifies_and_lists_its_playbooks(key: Ed25519PrivateKey) -> None:
    data = pack(FILES, version=7, created_at=NOW)
    manifest = verify(data, key.sign(data), public(key))
    assert manifest.version == 7
    assert manifest.created_at == NOW
    assert manifest.files == {path: sha256(content) for path, content in FILES.items()}
    assert set(manifest.playbooks) == {"restart-audio", "reboot"}
    assert manifest.playbooks["reboot"].disruptive is True
    assert manifest.playbooks["restart-audio"].timeout == 120
    assert manifest.playbooks["restart-audio"].file == "playbooks/restart-audio.yml"
    assert manifest.playbooks["restart-audio"].description == "fixes restart-audio"


def test_packing_is_deterministic() -> None:
    assert pack(FILES, version=1, created_at=NOW) == pack(
        dict(reversed(FILES.items())), version=1, created_at=NOW
    )
    with tarfile.open(fileobj=io.BytesIO(pack(FILES, version=1, created_at=NOW))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted([MANIFEST, *FILES])
    assert {(m.mtime, m.uid, m.gid, m.mode) for m in members} == {(0, 0, 0, 0o644)}


def test_playbook_metadata_comes_from_the_play_vars() -> None:
    meta = read_metadata(playbook("fix-camera", timeout=30))
    assert (meta.id, meta.timeout, meta.disruptive) == ("fix-camera", 30, False)
    # Ansible's own tags do not stop the reading.
    tagged = playbook("fix-camera") + b"\n- hosts: localhost\n  vars:\n    x: !unsafe '{{ no }}'\n"
    assert read_metadata(tagged).id == "fix-camera"


@pytest.mark.parametrize(
    "text",
    [
        b"- hosts: localhost\n  tasks: []\n",  # no metadata
        b"hosts: localhost\n",  # not a list of plays
        b"- hosts: localhost\n  vars: {kitkeeper: {id: BAD ID, timeout: 5}}\n",
        b"- hosts: localhost\n  vars: {kitkeeper: {id: x}}\n",  # no timeout
        b"- [unclosed\n",
    ],
)
def test_a_playbook_without_valid_metadata_is_not_packed(text: bytes) -> None:
    with pytest.raises(BundleError) as caught:
        pack({"playbooks/x.yml": text}, version=1, created_at=NOW)
    assert caught.value.reason is BundleRefusal.MANIFEST


def test_a_playbook_must_be_named_after_its_id() -> None:
    with pytest.raises(BundleError, match=r"name it playbooks/reboot\.yml"):
        pack({"playbooks/restart.yml": playbook("reboot")}, version=1, created_at=NOW)


# --- what a kit refuses ------------------------------------------------------------------------


def test_one_changed_byte_breaks_the_signature(key: Ed25519PrivateKey) -> None:
    data = bytearray(pack(FILES, version=1, created_at=NOW))
    signature = key.sign(bytes(data))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(BundleError) as caught:
        verify(bytes(data), signature, public(key))
    assert caught.value.reason is BundleRefusal.SIGNATURE


def test_an_unsigned_bundle_is_refused(key: Ed25519PrivateKey) -> None:
    data = pack(FILES, version=1, created_at=NOW)
    with pytest.raises(BundleError) as caught:
        verify(data, b"", public(key))
    assert caught.value.reason is BundleRefusal.UNSIGNED


def test_a_bundle_signed_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    data = pack(FILES, version=1, created_at=NOW)
    intruder = Ed25519PrivateKey.generate()
    with pytest.raises(BundleError) as caught:
        verify(data, intruder.sign(data), public(key))
    assert caught.value.reason is BundleRefusal.SIGNATURE


def test_a_key_that_is_not_ed25519_is_refused(key: Ed25519PrivateKey) -> None:
    data = pack(FILES, version=1, created_at=NOW)
    with pytest.raises(BundleError) as caught:
        verify(
            data, key.sign(data), b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
        )
    assert caught.value.reason is BundleRefusal.NO_KEY


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


EVIL = b"- hosts: all\n  tasks: [{command: 'rm -rf /'}]\n"
UNSAFE_MEMBERS: list[tuple[str, tarfile.TarInfo | tuple[str, bytes]]] = [
    ("traversal", ("../../etc/cron.d/evil", EVIL)),
    ("traversal inside", ("playbooks/../../evil.yml", EVIL)),
    ("absolute path", ("/etc/cron.d/evil", EVIL)),
    ("symlink", _link("playbooks/evil.yml", "/etc/shadow", tarfile.SYMTYPE)),
    ("hard link", _link("playbooks/evil.yml", "/etc/shadow", tarfile.LNKTYPE)),
    ("directory", _directory("playbooks")),
    ("device", _link("playbooks/dev", "", tarfile.CHRTYPE)),
    ("hidden file", ("playbooks/.evil.yml", EVIL)),
]


@pytest.mark.parametrize(
    "member", [m for _, m in UNSAFE_MEMBERS], ids=[name for name, _ in UNSAFE_MEMBERS]
)
def test_unsafe_members_are_refused_even_when_signed(
    key: Ed25519PrivateKey, member: tarfile.TarInfo | tuple[str, bytes], tmp_path: Path
) -> None:
    files = {"rules.yaml": b"rules: []\n"}
    data = raw_bundle([(MANIFEST, manifest_for(files)), *files.items(), member])
    with pytest.raises(BundleError) as caught:
        verify(data, key.sign(data), public(key))
    assert caught.value.reason is BundleRefusal.UNSAFE_MEMBER
    with pytest.raises(BundleError):
        extract(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.yml").exists()


def test_a_file_that_does_not_match_its_hash_is_refused(key: Ed25519PrivateKey) -> None:
    files = {"rules.yaml": b"rules: []\n"}
    manifest = manifest_for({"rules.yaml": b"rules: [reboot-always]\n"})
    data = raw_bundle([(MANIFEST, manifest), *files.items()])
    with pytest.raises(BundleError) as caught:
        verify(data, key.sign(data), public(key))
    assert caught.value.reason is BundleRefusal.HASH


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([("rules.yaml", b"x")], BundleRefusal.MANIFEST),  # no manifest
        ([(MANIFEST, b"{not json")], BundleRefusal.MANIFEST),
        ([(MANIFEST, manifest_for({})), ("rules.yaml", b"x")], BundleRefusal.MANIFEST),  # unlisted
        ([(MANIFEST, manifest_for({"rules.yaml": b"x"}))], BundleRefusal.HASH),  # missing file
        (
            [(MANIFEST, manifest_for({}, version=0))],  # versions start at 1
            BundleRefusal.MANIFEST,
        ),
        (
            [
                (
                    MANIFEST,
                    manifest_for(
                        {"playbooks/x.yml": b"x"},
                        playbooks={"x": {"file": "rules.yaml", "timeout": 5}},
                    ),
                ),
                ("playbooks/x.yml", b"x"),
            ],
            BundleRefusal.MANIFEST,  # a playbook pointing at another file
        ),
    ],
    ids=["no manifest", "bad json", "unlisted file", "missing file", "version 0", "wrong file"],
)
def test_a_bad_manifest_is_refused_even_when_signed(
    key: Ed25519PrivateKey, members: list[tuple[str, bytes]], reason: BundleRefusal
) -> None:
    data = raw_bundle(list(members))
    with pytest.raises(BundleError) as caught:
        verify(data, key.sign(data), public(key))
    assert caught.value.reason is reason


def test_a_bundle_too_large_once_unpacked_is_refused(key: Ed25519PrivateKey) -> None:
    huge = b"\0" * (MAX_UNPACKED_BYTES + 1)  # compresses to almost nothing
    data = raw_bundle([(MANIFEST, manifest_for({"rules.yaml": huge})), ("rules.yaml", huge)])
    assert len(data) < 64 * 1024
    with pytest.raises(BundleError) as caught:
        verify(data, key.sign(data), public(key))
    assert caught.value.reason is BundleRefusal.TOO_LARGE


def test_garbage_is_refused_as_damaged(key: Ed25519PrivateKey) -> None:
    data = b"this is not a tarball"
    with pytest.raises(BundleError) as caught:
        verify(data, key.sign(data), public(key))
    assert caught.value.reason is BundleRefusal.DAMAGED


def test_extract_writes_only_the_listed_files(tmp_path: Path) -> None:
    data = pack(FILES, version=2, created_at=NOW)
    manifest = extract(data, tmp_path / "out")
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*"))
    assert written == sorted([MANIFEST, "playbooks", *FILES])
    assert (tmp_path / "out" / "rules.yaml").read_bytes() == FILES["rules.yaml"]
    assert manifest.version == 2
    with pytest.raises(FileExistsError):  # never into an existing directory
        extract(data, tmp_path / "out")


# --- the controller's side ---------------------------------------------------------------------


def write_playbooks(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (directory / Path(path).name).write_bytes(data)


def test_the_signing_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "bundle-signing.key"
    key = controller_bundles.ensure_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    pub = controller_bundles.public_key_path(path)
    assert pub.stat().st_mode & 0o777 == 0o644
    assert pub.read_bytes() == controller_bundles.public_key_pem(key)
    again = controller_bundles.ensure_signing_key(path)
    assert controller_bundles.public_key_pem(again) == controller_bundles.public_key_pem(key)


def test_pki_init_makes_the_bundle_key(tmp_path: Path) -> None:
    paths = init_pki(tmp_path / "pki", hosts=HOSTS, now=NOW)
    assert paths.bundle_key.stat().st_mode & 0o777 == 0o600
    assert paths.bundle_public_key.exists()
    controller_bundles.load_signing_key(paths.bundle_key)


def test_versions_go_up_only_when_the_content_changes(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    source = tmp_path / "playbooks"
    write_playbooks(source, {k: v for k, v in FILES.items() if k.startswith("playbooks/")})
    (source / "rules.yaml").write_bytes(FILES["rules.yaml"])
    (source / "README.md").write_text("not a playbook")
    store = controller_bundles.BundleStore(tmp_path / "bundles")
    assert store.current() is None
    first = store.build(source, source / "rules.yaml", key, NOW)
    assert first.version == 1
    assert set(first.manifest.files) == set(FILES)
    assert verify(first.data, first.signature, public(key)).version == 1
    # Nothing changed: the same bundle, even from a new store over the same directory.
    again = controller_bundles.BundleStore(tmp_path / "bundles").build(
        source, source / "rules.yaml", key, datetime.now(UTC)
    )
    assert (again.version, again.data) == (1, first.data)
    (source / "rules.yaml").write_bytes(b"rules: [changed]\n")
    second = store.build(source, source / "rules.yaml", key, datetime.now(UTC))
    assert second.version == 2
    assert store.current() == second
    assert store.versions() == [1, 2]
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir()) == [
        "1.sig",
        "1.tar.gz",
        "2.sig",
        "2.tar.gz",
    ]
    # Without rules the bundle still builds (the rules file is optional).
    third = store.build(source, None, key, datetime.now(UTC))
    assert "rules.yaml" not in third.manifest.files
    assert third.version == 3


def test_install_command_args_carry_the_bundle_in_base64(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    source = tmp_path / "playbooks"
    write_playbooks(source, {"playbooks/reboot.yml": FILES["playbooks/reboot.yml"]})
    bundle = controller_bundles.BundleStore(tmp_path / "bundles").build(source, None, key, NOW)
    args = controller_bundles.install_command_args(bundle)
    assert base64.b64decode(args.bundle_b64) == bundle.data
    assert base64.b64decode(args.signature_b64) == bundle.signature
    too_big = controller_bundles.SignedBundle(
        version=9, data=bytes(40_000), signature=b"s", manifest=bundle.manifest
    )
    with pytest.raises(controller_bundles.BundleBuildError, match="over the 48000"):
        controller_bundles.install_command_args(too_big)


def test_a_bad_playbook_stops_the_build(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    source = tmp_path / "playbooks"
    write_playbooks(source, {"playbooks/broken.yml": b"- hosts: localhost\n"})
    store = controller_bundles.BundleStore(tmp_path / "bundles")
    with pytest.raises(controller_bundles.BundleBuildError, match="broken"):
        store.build(source, None, key, NOW)
    assert store.current() is None


def test_unpack_gives_the_files_back() -> None:
    manifest, files = unpack(pack(FILES, version=4, created_at=NOW))
    assert manifest.version == 4
    assert {k: v for k, v in files.items() if k != MANIFEST} == FILES


def test_a_damaged_stored_bundle_is_superseded(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    source = tmp_path / "playbooks"
    write_playbooks(source, {"playbooks/reboot.yml": FILES["playbooks/reboot.yml"]})
    store = controller_bundles.BundleStore(tmp_path / "bundles")
    assert store.build(source, None, key, NOW).version == 1
    (tmp_path / "bundles" / "1.tar.gz").write_bytes(b"damaged")
    rebuilt = store.build(source, None, key, NOW)
    assert rebuilt.version == 2, "never the same number for other bytes"
    assert verify(rebuilt.data, rebuilt.signature, public(key)).version == 2
