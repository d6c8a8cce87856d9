"""What the loans domain refuses outside a contract's step is said in kk, ru and en (issue 13):
the English as before (clients read `detail`), a contract's state and a kit's lifecycle in the
reader's language, and the API's `detail` in the language asked. Pure: fake sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from common.i18n import LANGS
from controller.loans import annexes, contracts, papers
from controller.loans.errors import ContractsError
from controller.loans.schemas import ReplacementCreate

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class _Session:
    """Answers `scalar` and `get` with the values given, in turn."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def scalar(self, statement: Any) -> Any:
        return self.answers.pop(0)

    def get(self, *args: Any) -> Any:
        return self.answers.pop(0)


def _refused(call: Any, *args: Any, **kwargs: Any) -> ContractsError:
    with pytest.raises(ContractsError) as caught:
        call(*args, **kwargs)
    return caught.value


def _latin(text: str, *sent: str) -> set[str]:
    """The Latin-script words of `text`, but for the ids and serials the test sent."""
    for value in sent:
        text = text.replace(value, "")
    return set(re.findall(r"[A-Za-z][A-Za-z_]+", text))


def test_refusals_keep_their_english_and_say_it_in_kazakh_and_russian() -> None:
    missing = _refused(contracts.get_contract, _Session(None), "C-9")  # type: ignore[arg-type]
    assert (missing.status, str(missing)) == (404, "no contract 'C-9'")
    assert missing.messages() == {
        "kk": "«C-9» шарты жоқ",
        "ru": "договора «C-9» нет",
        "en": "no contract 'C-9'",
    }
    assert missing.body_in("ru")["detail"] == "договора «C-9» нет", "the reader's language"
    assert missing.body_in("en")["detail"] == "no contract 'C-9'"

    change = ReplacementCreate(old_serial="SN-1", new_serial="SN-2", reason="broken screen")
    draft = SimpleNamespace(number="C-1", state="draft", components=[])
    early = _refused(
        contracts.replace_component,
        _Session(draft),
        number="C-1",
        data=change,
        actor="admin",
        now=NOW,
    )
    assert str(early) == (
        "contract C-1 is draft: only a kit promised or on loan (signed, active, return_due) "
        "has parts replaced"
    )
    said = early.messages()
    assert said is not None
    assert "договор-черновик" in said["ru"], "the state in the reader's language"
    assert "шарт жобасы" in said["kk"]
    for lang in ("kk", "ru"):
        assert _latin(said[lang], "C-1") == set(), said[lang]

    no_annex = _refused(annexes.find, SimpleNamespace(number="C-1", annexes=[]), 2)  # type: ignore[arg-type]
    assert no_annex.status == 404
    assert str(no_annex) == (
        "contract C-1 has no annex 2; ask for one of its annexes (?annex=N): none"
    )
    said = no_annex.messages()
    assert said is not None
    assert said["ru"].endswith(": их нет")
    assert said["kk"].endswith(": олар жоқ")

    no_act = SimpleNamespace(return_act=None)
    unreturned = _refused(papers._return_act, None, no_act, None, "ru", None)  # type: ignore[arg-type]
    assert str(unreturned) == "no return act yet: the kit has not been returned"
    assert unreturned.messages() is not None
    assert set(unreturned.messages() or {}) == set(LANGS)


def test_a_kit_not_in_service_is_named_in_the_readers_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        contracts.fleet, "get_kit", lambda session, kit_id: SimpleNamespace(lifecycle="in_repair")
    )
    refused = _refused(
        contracts.replace_kit,
        _Session(),
        old_kit_id="kit-1",
        new_kit_id="kit-2",
        reason="broken",
        actor="admin",
        now=NOW,
    )
    assert str(refused) == (
        "kit kit-2 is in_repair: only an active kit can go out "
        "(a returned kit is enrolled again first)"
    )
    said = refused.messages()
    assert said is not None
    assert "в ремонте" in said["ru"]
    assert "жөндеуде" in said["kk"]
    assert "in_repair" not in said["ru"] + said["kk"]


def test_an_english_only_refusal_still_answers_as_before() -> None:
    plain = ContractsError("something refused", 422)
    assert (plain.status, plain.messages(), plain.body()) == (
        422,
        None,
        {"detail": "something refused"},
    )
