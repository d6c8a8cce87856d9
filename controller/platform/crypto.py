"""Encryption at rest of personal data (names, IINs, phones, addresses, health), with key rotation.

Each field is encrypted on its own with Fernet (AES-128-CBC and HMAC-SHA256, random IV), through
`MultiFernet`: the first key encrypts, every key decrypts, so a new key is rolled out by putting it
first, re-encrypting the rows with `FieldCipher.rotate`, then dropping the old key. A token is
url-safe base64 text that fits a TEXT column. Fernet tokens carry their creation time in clear
(rotation keeps it): a reader of the database learns when a field was written, never what it says.

A value from a small set (a pupil's program, why they learn at home, a date) would give itself
away by its token's length (Fernet pads to 16 bytes: "general" and "delayed_development" differ),
so `encrypt_padded` pads such values to one width first; `decrypt_padded` takes the padding off.

To find a row by an exact value (a guardian by IIN) without decrypting every row, store
`FieldCipher.blind_index` of the value next to its token: an HMAC-SHA256 keyed by a separate index
key, so it stays stable while the encryption keys rotate. Rotating the index key itself means
recomputing every stored index (decrypt, then index again). The index key is as secret as the
encryption keys: with it, an IIN's index can be found by trying every possible IIN.

Keys are text from `generate_key` (32 random bytes, url-safe base64). Pure: no I/O, no clock reads
besides the timestamp Fernet writes into each token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controller.errors import CryptoError

_KEY_BYTES = 32
PADDED_WIDTH: Final = 32
"""What `FieldCipher.encrypt_padded` pads to: longer than any program, basis or ISO date."""
_INDEX_KEY_INFO = b"kitkeeper blind index v1"
"""HKDF context: the HMAC key is derived from the index key, never the index key itself."""


def generate_key() -> str:
    """Return a new random key as url-safe base64 text, for the configuration."""
    return Fernet.generate_key().decode("ascii")


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text)
    except ValueError as exc:  # binascii.Error and non-ASCII text are both ValueErrors
        raise CryptoError(f"{what} is malformed: expected the text of generate_key()") from exc
    if len(raw) != _KEY_BYTES:
        raise CryptoError(f"{what} is malformed: expected the text of generate_key()")
    return raw


def _normalise(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


class FieldCipher:
    """Encrypts and decrypts single text fields, and computes their blind indexes."""

    __slots__ = ("_fernet", "_index_hmac_key")

    def __init__(self, keys: list[str], *, index_key: str) -> None:
        """Use keys[0] to encrypt and every key to decrypt; index_key only for blind indexes."""
        if not keys:
            raise CryptoError("at least one encryption key is needed")
        raw_keys = [_decode_key(key, f"encryption key {n}") for n, key in enumerate(keys, 1)]
        raw_index_key = _decode_key(index_key, "the index key")
        if raw_index_key in raw_keys:
            raise CryptoError("the index key must differ from every encryption key")
        self._fernet = MultiFernet(
            Fernet(base64.urlsafe_b64encode(raw_key)) for raw_key in raw_keys
        )
        self._index_hmac_key = HKDF(
            algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=_INDEX_KEY_INFO
        ).derive(raw_index_key)

    def __repr__(self) -> str:
        """Show nothing of the keys."""
        return "FieldCipher(<keys hidden>)"

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a text under the first key; a new random token every time."""
        try:
            data = plaintext.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CryptoError("cannot encrypt: the text is not valid Unicode") from exc
        return self._fernet.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made with any of the keys."""
        try:
            return self._fernet.decrypt(_token_bytes(token)).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise CryptoError("cannot decrypt: wrong key or damaged data") from exc

    def encrypt_padded(self, plaintext: str, width: int = PADDED_WIDTH) -> str:
        """Encrypt a short value padded to `width` bytes with spaces: its tokens are one size."""
        size = len(plaintext.encode("utf-8", errors="replace"))
        if size > width or plaintext != plaintext.rstrip(" "):
            raise CryptoError(f"cannot pad: the value must fit {width} bytes without end spaces")
        return self.encrypt(plaintext + " " * (width - size))

    def decrypt_padded(self, token: str) -> str:
        """Decrypt a token of `encrypt_padded` and take the padding off."""
        return self.decrypt(token).rstrip(" ")

    def rotate(self, token: str) -> str:
        """Re-encrypt a token made with any of the keys under the first key."""
        try:
            return self._fernet.rotate(_token_bytes(token)).decode("ascii")
        except (InvalidToken, ValueError) as exc:
            raise CryptoError("cannot decrypt: wrong key or damaged data") from exc

    def blind_index(self, value: str) -> str:
        """Return the hex HMAC-SHA256 of the value (NFKC, no spaces, case-folded), for lookups."""
        normalised = _normalise(value)
        if not normalised:
            raise CryptoError("cannot index an empty value")
        return hmac.new(
            self._index_hmac_key, normalised.encode("utf-8"), hashlib.sha256
        ).hexdigest()


def _token_bytes(token: str) -> bytes:
    # A non-ASCII token would make base64 raise a plain ValueError deep inside Fernet.
    return token.encode("ascii")
