"""Certificates and private keys read from PEM: the one loader of the agent and the controller.

Every error is a `PemError` whose message names the file (or what the bytes were), so a person
knows which file to look at; callers turn it into their own domain's error. Private keys are
read unencrypted (they are protected by their file's mode, 0600); which kind of key a caller
needs (EC P-256, Ed25519) is its own check.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class PemError(Exception):
    """A PEM file that cannot be read, or bytes that are not the certificate or key expected."""


def read_file(path: Path, what: str) -> bytes:
    """The bytes of `path`; `what` names it in the error ("the kit key")."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PemError(f"cannot read {what} {path}: {exc}") from exc


def parse_certificate(data: bytes, what: str) -> x509.Certificate:
    """The certificate in PEM `data`; `what` names the bytes in the error."""
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PemError(f"{what} is not a readable PEM certificate") from exc


def parse_private_key(data: bytes, what: str) -> PrivateKeyTypes:
    """The unencrypted private key in PEM `data`; `what` names the bytes in the error."""
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PemError(f"{what} is not a readable unencrypted private key") from exc


def load_certificate(path: Path, what: str = "the certificate") -> x509.Certificate:
    """The certificate in the PEM file `path`."""
    return parse_certificate(read_file(path, what), str(path))


def load_private_key(path: Path, what: str = "the private key") -> PrivateKeyTypes:
    """The unencrypted private key in the PEM file `path`."""
    return parse_private_key(read_file(path, what), str(path))
