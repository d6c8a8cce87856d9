"""Encryption at rest of personal data: round trips, key rotation, wrong keys, blind indexes."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable

import pytest

from controller.errors import ControllerError, CryptoError
from controller.platform.crypto import FieldCipher, generate_key

KEY_A = generate_key()
KEY_B = generate_key()
INDEX_KEY = generate_key()
DECRYPT_FAILED = "cannot decrypt: wrong key or damaged data"

KAZAKH_NAME = "Әлия Қасымқызы Нұрғалиева"
RUSSIAN_NAME = "Алия Касымовна Нургалиева"
PLAINTEXTS = [
    KAZAKH_NAME,
    RUSSIAN_NAME,
    "900101300017",
    "+7 701 123 45 67",
    "Астана қ., Абай даңғылы, 10, 5-пәтер",
    "",
    "x" * 10_000,
]


def cipher(*keys: str, index_key: str = INDEX_KEY) -> FieldCipher:
    return FieldCipher(list(keys), index_key=index_key)


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_round_trip(plaintext: str) -> None:
    fields = cipher(KEY_A)
    assert fields.decrypt(fields.encrypt(plaintext)) == plaintext


@pytest.mark.parametrize("plaintext", [p for p in PLAINTEXTS if p])
def test_token_reveals_neither_the_plaintext_nor_its_base64(plaintext: str) -> None:
    token = cipher(KEY_A).encrypt(plaintext)
    data = plaintext.encode("utf-8")
    assert plaintext not in token
    assert base64.b64encode(data).decode().rstrip("=") not in token
    assert base64.urlsafe_b64encode(data).decode().rstrip("=") not in token
    assert set(token) <= set(string.ascii_letters + string.digits + "-_=")


def test_two_encryptions_of_the_same_value_differ() -> None:
    fields = cipher(KEY_A)
    assert fields.encrypt(KAZAKH_NAME) != fields.encrypt(KAZAKH_NAME)


def test_rotation_moves_data_to_the_new_key() -> None:
    token = cipher(KEY_A).encrypt(KAZAKH_NAME)
    during = cipher(KEY_B, KEY_A)
    assert during.decrypt(token) == KAZAKH_NAME
    with pytest.raises(CryptoError, match=DECRYPT_FAILED):
        cipher(KEY_B).decrypt(token)

    rotated = during.rotate(token)
    assert cipher(KEY_B).decrypt(rotated) == KAZAKH_NAME
    with pytest.raises(CryptoError, match=DECRYPT_FAILED):
        cipher(KEY_A).decrypt(rotated)


def test_new_data_during_rotation_is_encrypted_under_the_first_key() -> None:
    token = cipher(KEY_B, KEY_A).encrypt(RUSSIAN_NAME)
    assert cipher(KEY_B).decrypt(token) == RUSSIAN_NAME


def test_wrong_key_is_a_crypto_error_with_a_clear_message() -> None:
    token = cipher(KEY_A).encrypt(RUSSIAN_NAME)
    with pytest.raises(CryptoError) as caught:
        cipher(KEY_B).decrypt(token)
    assert str(caught.value) == DECRYPT_FAILED
    assert isinstance(caught.value, ControllerError)
    with pytest.raises(CryptoError, match=DECRYPT_FAILED):
        cipher(KEY_B).rotate(token)


@pytest.mark.parametrize(
    "damage",
    [
        lambda token: token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:],
        lambda token: token[:40],
        lambda token: "",
        lambda token: "not a token",
        lambda token: token + "Қ",
    ],
)
def test_damaged_tokens_are_refused(damage: Callable[[str], str]) -> None:
    fields = cipher(KEY_A)
    token = fields.encrypt(KAZAKH_NAME)
    damaged = damage(token)
    with pytest.raises(CryptoError, match=DECRYPT_FAILED):
        fields.decrypt(damaged)
    with pytest.raises(CryptoError, match=DECRYPT_FAILED):
        fields.rotate(damaged)


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        "not a key",
        base64.urlsafe_b64encode(b"sixteen bytes!!!").decode(),
        base64.urlsafe_b64encode(b"x" * 33).decode(),
        "ключ",
        KEY_A[:-2],
    ],
    ids=["empty", "not-base64", "16-bytes", "33-bytes", "cyrillic", "truncated"],
)
def test_malformed_keys_are_refused(bad_key: str) -> None:
    with pytest.raises(CryptoError, match="encryption key 2 is malformed") as caught:
        cipher(KEY_A, bad_key)
    if bad_key:
        assert bad_key not in str(caught.value)
    with pytest.raises(CryptoError, match="the index key is malformed"):
        cipher(KEY_A, index_key=bad_key)


def test_no_key_is_refused() -> None:
    with pytest.raises(CryptoError, match="at least one encryption key"):
        FieldCipher([], index_key=INDEX_KEY)


def test_the_index_key_must_not_be_an_encryption_key() -> None:
    with pytest.raises(CryptoError, match="index key must differ"):
        cipher(KEY_A, KEY_B, index_key=KEY_B)


def test_repr_hides_the_keys() -> None:
    text = repr(cipher(KEY_A))
    assert KEY_A not in text
    assert INDEX_KEY not in text


def test_generated_keys_are_distinct_text() -> None:
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(base64.urlsafe_b64decode(key)) == 32 for key in keys)


def test_blind_index_is_stable_across_rotations_of_the_encryption_keys() -> None:
    before = cipher(KEY_A).blind_index("900101300017")
    assert cipher(KEY_B, KEY_A).blind_index("900101300017") == before
    assert cipher(KEY_B).blind_index("900101300017") == before


def test_blind_index_differs_for_different_values_and_index_keys() -> None:
    fields = cipher(KEY_A)
    index = fields.blind_index("900101300017")
    assert len(index) == 64
    assert set(index) <= set(string.hexdigits.lower())
    assert fields.blind_index("050315601237") != index
    assert cipher(KEY_A, index_key=generate_key()).blind_index("900101300017") != index


@pytest.mark.parametrize(
    "typed", ["900101 300017", " 900101300017 ", "9001 0130 0017", "900101\u00a0300017\n"]
)
def test_blind_index_ignores_spaces_in_an_iin(typed: str) -> None:
    fields = cipher(KEY_A)
    assert fields.blind_index(typed) == fields.blind_index("900101300017")


def test_blind_index_ignores_case_and_unicode_form() -> None:
    fields = cipher(KEY_A)
    assert fields.blind_index("ӘЛИЯ") == fields.blind_index("әлия")
    assert fields.blind_index("９００１０１３０００１７") == fields.blind_index("900101300017")


def test_blind_index_of_nothing_is_refused() -> None:
    with pytest.raises(CryptoError, match="empty"):
        cipher(KEY_A).blind_index("  ")
