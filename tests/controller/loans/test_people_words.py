"""The refusals of a person's IIN, phone and home-schooling basis, and of a contract's term, are
said in Kazakh and Russian too (they were English only), and never repeat the value given."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from controller.errors import InvalidValue
from controller.loans.schemas import ContractCreate, GuardianCreate, PupilCreate

PUPIL: dict[str, Any] = {
    "ref": "p-1",
    "name": "Нұрлан Жұмабаев",
    "iin": "080215500016",
    "grade": 5,
    "program": "general",
    "basis": "disability",
    "school": "№42 мектеп",
}
GUARDIAN = {
    "ref": "g-1",
    "pupil_ref": "p-1",
    "relation": "mother",
    "name": "Әлия Нұрғалиева",
    "phone": "8 (701) 234-56-78",
    "address": "Алматы қ., Абай даңғылы 150",
    "iin": "900101400023",
}
CONTRACT = {
    "number": "2026-1",
    "school": "№42 мектеп",
    "city": "Алматы",
    "guardian_ref": "g-1",
    "pupil_ref": "p-1",
    "kit_id": "kit-1",
    "start": "2026-09-01",
    "end": "2026-08-01",
}


def refusal(model: type[BaseModel], data: dict[str, Any]) -> InvalidValue:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    (error,) = caught.value.errors()
    reason = error["ctx"]["error"]
    assert isinstance(reason, InvalidValue), error
    return reason


@pytest.mark.parametrize(
    ("model", "data", "en", "ru", "kk"),
    [
        (PupilCreate, PUPIL | {"iin": "080215500017"}, "check digit", "ИИН", "ЖСН"),
        (PupilCreate, PUPIL | {"iin": "12345"}, "12 digits", "12 цифр", "12 цифр"),
        (GuardianCreate, GUARDIAN | {"phone": "12-34"}, "+7", "телефон", "телефон"),
        (
            PupilCreate,
            PUPIL | {"basis": "temporary"},
            "end date",
            "дата его окончания",
            "аяқталу күні",
        ),
        (
            PupilCreate,
            PUPIL
            | {"basis": "temporary", "program": "correctional_1", "temporary_until": "2027-01-31"},
            "general program",
            "общей программе",
            "жалпы бағдарлама",
        ),
        (ContractCreate, CONTRACT, "must end after it starts", "после начала", "басталғаннан"),
    ],
)
def test_a_refusal_is_said_in_every_language(
    model: type[BaseModel], data: dict[str, Any], en: str, ru: str, kk: str
) -> None:
    reason = refusal(model, data)
    assert en in reason.text("en")
    assert ru in reason.text("ru")
    assert kk in reason.text("kk")
    for lang in ("en", "ru", "kk"):
        assert "080215500017" not in reason.text(lang), "the value given is never repeated"
