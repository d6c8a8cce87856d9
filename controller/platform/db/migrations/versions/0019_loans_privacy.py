"""Loans: personal data encrypted at rest (issue 12).

A pupil's program and basis are health data (why the child learns at home), and so is the end of
temporary home-schooling (it tells the basis); who signed a contract and its hand-over and return
acts are people's names. All were stored in clear. The upgrade encrypts the stored rows in place
with the personal-data keys of the environment (`KITKEEPER_PII_KEYS`, `KITKEEPER_PII_INDEX_KEY`,
needed only when there is something to encrypt), the way `controller.loans.people` and
`controller.loans.signatures` write them from now on, and takes the program out of the audit log's
`pupil_created` entries. Each step reads clear values and writes encrypted ones only where the
encrypted one is missing, so a step run twice changes nothing more.

SQLite keeps the new pupils' columns nullable: making them NOT NULL means rebuilding the table,
which the guardians' foreign key forbids inside the migration's transaction.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from pydantic import ValidationError

from controller.config import ControllerSettings
from controller.errors import ConfigError
from controller.platform.crypto import FieldCipher

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

HIDDEN = "<encrypted>"
_PUPIL = {"program": "program_enc", "basis": "basis_enc", "temporary_until": "temporary_until_enc"}
_CONTRACT = {
    "signed_by_guardian": "signed_by_guardian_enc",
    "signed_by_school": "signed_by_school_enc",
}
_ACTS = ("handover", "return_act")


def _cipher_once() -> Callable[[], FieldCipher]:
    """The cipher of personal data from the environment, made when first needed."""
    made: list[FieldCipher] = []

    def get() -> FieldCipher:
        if not made:
            try:
                settings = ControllerSettings()
            except ValidationError as exc:
                raise ConfigError(f"migration 0019: the settings are invalid: {exc}") from exc
            if not settings.pii_keys or settings.pii_index_key is None:
                raise ConfigError(
                    "migration 0019 encrypts the pupils' programs and the contracts' signatories "
                    "already stored: set KITKEEPER_PII_KEYS and KITKEEPER_PII_INDEX_KEY (the keys "
                    "the controller uses) and migrate again"
                )
            made.append(
                FieldCipher(
                    [k.get_secret_value() for k in settings.pii_keys],
                    index_key=settings.pii_index_key.get_secret_value(),
                )
            )
        return made[0]

    return get


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _add_missing(table: str, names: list[str], column: Callable[[str], sa.Column[Any]]) -> None:
    present = _columns(table)
    for name in names:
        if name not in present:
            op.add_column(table, column(name))


def _drop_present(table: str, names: list[str]) -> None:
    present = _columns(table)
    for name in names:
        if name in present:
            op.drop_column(table, name)


def _has_rows(table: str) -> bool:
    return (
        op.get_bind().execute(sa.select(sa.literal(1)).select_from(sa.table(table))).first()
        is not None
    )


def _padded(value: Any) -> str:
    """A clear program, basis or date as the app pads it (a date in ISO form, none as empty)."""
    return "" if value is None else str(value)


def _encrypt_pupils(cipher: Callable[[], FieldCipher]) -> None:
    if "program" not in _columns("pupils"):
        return
    _add_missing("pupils", list(_PUPIL.values()), lambda n: sa.Column(n, sa.Text(), nullable=True))
    pupils = sa.table("pupils", sa.column("id"), *map(sa.column, [*_PUPIL, *_PUPIL.values()]))
    bind = op.get_bind()
    for row in bind.execute(sa.select(pupils).where(pupils.c.program_enc.is_(None))).mappings():
        tokens = {
            enc: cipher().encrypt_padded(_padded(row[clear])) for clear, enc in _PUPIL.items()
        }
        bind.execute(pupils.update().where(pupils.c.id == row["id"]).values(**tokens))
    _drop_present("pupils", list(_PUPIL))
    if bind.dialect.name != "sqlite":
        for name in _PUPIL.values():
            op.alter_column("pupils", name, existing_type=sa.Text(), nullable=False)


def _rewrite_contracts(cipher: Callable[[], FieldCipher], *, encrypt: bool) -> None:
    """Who signed each contract and act: clear into tokens (`encrypt`) or tokens into clear."""
    source, target = (list(_CONTRACT), list(_CONTRACT.values()))
    key_from, key_to = "signed_by", "signed_by_enc"
    if not encrypt:
        source, target, key_from, key_to = target, source, key_to, key_from

    def convert(value: str) -> str:
        return cipher().encrypt(value) if encrypt else cipher().decrypt(value)

    signers = source[0] in _columns("contracts")
    if signers:
        column_type = sa.Text() if encrypt else sa.String(200)
        _add_missing("contracts", target, lambda n: sa.Column(n, column_type, nullable=True))
    contracts = _contracts_table(with_signers=signers)
    bind = op.get_bind()
    for row in bind.execute(sa.select(contracts)).mappings():
        change: dict[str, Any] = {}
        for act in _ACTS:
            data = row[act]
            if isinstance(data, dict) and key_from in data:
                rest = {k: v for k, v in data.items() if k != key_from}
                change[act] = rest | {key_to: convert(str(data[key_from]))}
        for old, new in zip(source, target, strict=True) if signers else ():
            if row[old] is not None and row[new] is None:
                change[new] = convert(row[old])
        if change:
            bind.execute(contracts.update().where(contracts.c.id == row["id"]).values(**change))
    _drop_present("contracts", source)


def _contracts_table(*, with_signers: bool) -> sa.TableClause:
    signers = [*_CONTRACT, *_CONTRACT.values()] if with_signers else []
    return sa.table(
        "contracts",
        sa.column("id"),
        *map(sa.column, signers),
        *(sa.column(act, sa.JSON()) for act in _ACTS),
    )


def _hide_programs_in_the_audit_log() -> None:
    log = sa.table("audit_log", sa.column("id"), sa.column("action"), sa.column("after", sa.JSON()))
    bind = op.get_bind()
    for row in bind.execute(sa.select(log).where(log.c.action == "pupil_created")).mappings():
        after = row["after"]
        if isinstance(after, dict) and after.get("program", HIDDEN) != HIDDEN:
            bind.execute(
                log.update().where(log.c.id == row["id"]).values(after=after | {"program": HIDDEN})
            )


def upgrade() -> None:
    """Encrypt the pupils' program, basis and end date and the contracts' signatories in place."""
    cipher = _cipher_once()
    if _has_rows("pupils") or _has_rows("contracts"):
        cipher()  # refuse without the keys before changing anything
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")  # the clear values' old cells are zeroed
    _encrypt_pupils(cipher)
    _rewrite_contracts(cipher, encrypt=True)
    _hide_programs_in_the_audit_log()


def downgrade() -> None:
    """Decrypt them back into clear columns (the audit log keeps the program hidden)."""
    cipher = _cipher_once()
    _decrypt_pupils(cipher)
    _rewrite_contracts(cipher, encrypt=False)


_CLEAR_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "program": sa.String(32),
    "basis": sa.String(16),
    "temporary_until": sa.Date(),
}


def _decrypt_pupils(cipher: Callable[[], FieldCipher]) -> None:
    if "program_enc" not in _columns("pupils"):
        return
    _add_missing("pupils", list(_PUPIL), lambda n: sa.Column(n, _CLEAR_TYPES[n], nullable=True))
    pupils = sa.table(
        "pupils",
        sa.column("id"),
        *(sa.column(name, type_) for name, type_ in _CLEAR_TYPES.items()),
        *map(sa.column, _PUPIL.values()),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(pupils).where(pupils.c.program.is_(None))).mappings():
        clear: dict[str, Any] = {c: cipher().decrypt_padded(row[enc]) for c, enc in _PUPIL.items()}
        until = clear["temporary_until"]
        clear["temporary_until"] = dt.date.fromisoformat(until) if until else None
        bind.execute(pupils.update().where(pupils.c.id == row["id"]).values(**clear))
    _drop_present("pupils", list(_PUPIL.values()))
    if bind.dialect.name != "sqlite":
        for name in ("program", "basis"):
            op.alter_column("pupils", name, existing_type=_CLEAR_TYPES[name], nullable=False)
