"""Enrolment: make a key on the kit, have the controller's CA sign it, keep the certificate.

The one-time token printed by `kitkeeper-controller enroll-token create` carries a pin of the
controller's CA (the first 32 hex digits of its SHA-256 fingerprint). The agent fetches the CA
certificate, checks it against the pin, and from then on trusts only that CA: for the enrolment
request itself and for the broker. The private key is created here with mode 0600 and never sent.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import EnrollError, IdentityError
from agent.identity import (
    KEY_FILE,
    Identity,
    fingerprint_pem,
    generate_key,
    load_identity,
    make_csr,
    save_identity,
    verify_issued,
)
from common.files import PUBLIC_MODE, write_atomic
from common.i18n import default_lang
from protocol.bundle import BundleError, load_public_key
from protocol.topics import is_valid_kit_id

_LOGGER = logging.getLogger(__name__)
ENROLLMENT_FILE = "enrollment.json"
BUNDLE_KEY_FILE = "bundle-signing.pub"
"""The public key that signs playbook bundles, in the state directory (from enrolment)."""
CONTENT_KEY_FILE = "content-signing.pub"
"""The public key that signs content manifests, in the state directory (from enrolment)."""
PIN_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Token:
    """A parsed enrolment token: `<kit id>:<secret>:<ca pin>`."""

    raw: str
    kit_id: str
    ca_pin: str


def parse_token(token: str) -> Token:
    """Split and check the token's shape (its secret is checked by the controller)."""
    parts = token.strip().split(":")
    if (
        len(parts) != 3
        or not all(parts)
        or not is_valid_kit_id(parts[0])
        or len(parts[2]) != PIN_LENGTH
    ):
        raise EnrollError(
            "this is not a kitkeeper enrolment token (expected <kit id>:<secret>:<pin>)"
        )
    return Token(raw=token.strip(), kit_id=parts[0], ca_pin=parts[2].lower())


def _fetch_ca(base_url: str, pin: str) -> bytes:
    # Trust on first use, but only for a CA whose fingerprint matches the pin in the token.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(  # noqa: S310 - https only, checked by enroll()
            f"{base_url}/api/v1/pki/ca.pem", context=unverified, timeout=15
        ) as resp:
            ca_pem: bytes = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise EnrollError(f"cannot reach the controller at {base_url}: {exc}") from exc
    try:
        actual = fingerprint_pem(ca_pem)
    except IdentityError as exc:
        raise EnrollError(f"the controller sent no valid CA certificate: {exc}") from exc
    if not actual.startswith(pin):
        raise EnrollError(
            "the controller's CA does not match the token: wrong controller address, or someone "
            "is in the way; enrolment stopped"
        )
    return ca_pem


def _refusal(exc: urllib.error.HTTPError) -> object:
    """Why the controller refused: in the technician's language when the answer says it so
    (`messages`), else its `detail` (English), else the HTTP reason."""
    try:
        body = json.load(exc)
    except (ValueError, AttributeError):
        return exc.reason
    if not isinstance(body, dict):
        return exc.reason
    messages = body.get("messages")
    if isinstance(messages, dict) and isinstance(said := messages.get(default_lang()), str):
        return said
    return body.get("detail", exc.reason)


def _post(url: str, body: dict[str, Any], context: ssl.SSLContext) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked by enroll()
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as resp:  # noqa: S310
            result = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise EnrollError(
            f"the controller refused enrolment ({exc.code}): {_refusal(exc)}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise EnrollError(f"cannot reach the controller at {url}: {exc}") from exc
    except ValueError as exc:
        raise EnrollError(f"the controller's answer is not readable: {exc}") from exc
    if not isinstance(result, dict) or not isinstance(result.get("certificate_pem"), str):
        raise EnrollError("the controller's answer is not an enrolment result")
    return result


def enroll(controller_url: str, token_text: str, state_dir: Path) -> dict[str, Any]:
    """Enrol this kit; returns what was recorded in `enrollment.json`."""
    base = controller_url.rstrip("/")
    if not base.startswith("https://"):
        raise EnrollError("the controller URL must start with https://")
    token = parse_token(token_text)
    previous = _previous_identity(state_dir, token.kit_id)
    ca_pem = _fetch_ca(base, token.ca_pin)
    context = ssl.create_default_context(cadata=ca_pem.decode())
    context.check_hostname = False  # the pinned private CA is the trust anchor, not a host name

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pending_key = state_dir / (KEY_FILE + ".new")
    key = generate_key(pending_key)
    csr = make_csr(key, token.kit_id).decode()
    kit_id = token.kit_id
    try:
        reply = _post(f"{base}/api/v1/enroll", {"token": token.raw, "csr_pem": csr}, context)
        verify_issued(
            reply["certificate_pem"].encode(),
            ca_pem,
            key=key,
            kit_id=kit_id,
            now=datetime.now(UTC),
        )
    except (KeyError, AttributeError) as exc:
        pending_key.unlink(missing_ok=True)
        raise EnrollError("the controller's answer has no certificate") from exc
    except (EnrollError, IdentityError):
        pending_key.unlink(missing_ok=True)
        raise
    pending_key.replace(state_dir / KEY_FILE)
    save_identity(state_dir, cert_pem=reply["certificate_pem"].encode(), ca_pem=ca_pem)
    _save_bundle_key(state_dir, reply.get("bundle_key_pem"))
    _save_bundle_key(state_dir, reply.get("content_key_pem"), CONTENT_KEY_FILE, "content manifests")
    record = {
        "kit_id": kit_id,
        "controller_url": base,
        "mqtt_host": reply.get("mqtt_host"),
        "mqtt_port": reply.get("mqtt_port"),
        "enrolled_at": datetime.now(UTC).isoformat(),
        "replaced_serial": format(previous.serial, "x") if previous else None,
    }
    write_atomic(state_dir / ENROLLMENT_FILE, json.dumps(record, indent=2).encode(), PUBLIC_MODE)
    _LOGGER.info("enrolled as kit %s", kit_id)
    return record


def _previous_identity(state_dir: Path, kit_id: str) -> Identity | None:
    """The identity enrolment replaces (a kit back from a long holiday); refuse another kit's."""
    try:
        previous = load_identity(state_dir)
    except IdentityError:
        return None  # unreadable: enrolling again is how it is repaired
    if previous is not None and previous.kit_id != kit_id:
        raise EnrollError(
            f"{state_dir} holds the identity and outbox of kit {previous.kit_id}, and this token "
            f"is for kit {kit_id}: use the token for {previous.kit_id} or another --state-dir"
        )
    return previous


def _save_bundle_key(
    state_dir: Path, pem: object, name: str = BUNDLE_KEY_FILE, what: str = "bundles"
) -> None:
    """Keep a signing key from the answer (`bundle-signing.pub`, `content-signing.pub`; 0644)."""
    if not isinstance(pem, str) or not pem:
        _LOGGER.warning("the controller sent no signing key for %s: they will be refused", what)
        return
    try:
        load_public_key(pem.encode())
    except BundleError as exc:  # the certificate is issued and the token spent: keep going
        _LOGGER.warning("ignoring the controller's signing key for %s: %s", what, exc)
        return
    write_atomic(state_dir / name, pem.encode(), PUBLIC_MODE)


def read_enrollment(state_dir: Path) -> dict[str, Any]:
    """What enrolment recorded (empty if the kit was never enrolled)."""
    path = state_dir / ENROLLMENT_FILE
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnrollError(f"cannot read {path}: {exc}") from exc
    return data
