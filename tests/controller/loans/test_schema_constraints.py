"""Bad input is a 422 with a reason, never a 500; the OpenAPI schema declares what is enforced."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from controller.api.app import create_app
from controller.config import ControllerSettings
from controller.loans.schemas import IIN_PATTERN, GuardianCreate, PupilCreate
from controller.loans.schemas import REF as REF_PATTERN
from protocol.limits import KIT_ID_PATTERN
from tests.controller.records import GUARDIAN, PUPIL, add_kits
from tests.support import Controller, call

BAD_KIT_IDS = ["", "kit/1", "kit 1", "+", "#", "-kit", "k" * 65, "kit\n", "kit\x00", "ķ\ud800"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The controller's OpenAPI schema, built without starting it."""
    tmp = tmp_path_factory.mktemp("openapi")
    settings = ControllerSettings(db=f"sqlite:///{tmp}/k.db", pki_dir=tmp / "no-pki")
    return create_app(settings, with_ingest=False).openapi()


def _body_properties(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    properties: dict[str, Any] = spec["components"]["schemas"][name]["properties"]
    return properties


def _patterns(field: dict[str, Any]) -> set[str]:
    """The patterns a field's schema declares for its string (of `T | None` too)."""
    return {s["pattern"] for s in [field, *field.get("anyOf", [])] if "pattern" in s}


@pytest.mark.parametrize(
    ("method", "path", "field", "pattern"),
    [
        ("post", "/api/v1/components", "kit_id", KIT_ID_PATTERN),
        ("patch", "/api/v1/components/{serial}", "kit_id", KIT_ID_PATTERN),
        ("post", "/api/v1/contracts", "kit_id", KIT_ID_PATTERN),
        ("post", "/api/v1/contracts", "pupil_ref", REF_PATTERN),
        ("post", "/api/v1/pupils", "iin", IIN_PATTERN),
        ("post", "/api/v1/pupils", "ref", REF_PATTERN),
        ("post", "/api/v1/guardians", "iin", IIN_PATTERN),
        ("post", "/api/v1/guardians", "pupil_ref", REF_PATTERN),
    ],
)
def test_the_schema_declares_the_patterns_the_api_enforces(
    spec: dict[str, Any], method: str, path: str, field: str, pattern: str
) -> None:
    properties = _body_properties(spec, method, path)
    assert pattern in _patterns(properties[field]), properties[field]
    if field in ("kit_id", "iin"):
        assert properties[field].get("description"), "the format is said in words too"


def test_the_schedule_path_declares_the_pupil_reference(spec: dict[str, Any]) -> None:
    parameters = spec["paths"]["/api/v1/pupils/{ref}/schedule"]["put"]["parameters"]
    (ref,) = [p for p in parameters if p["name"] == "ref"]
    assert ref["schema"]["pattern"] == REF_PATTERN


@pytest.mark.parametrize(
    "iin",
    ["080215500016", "0802 1550 0016", " 080215500016 ", "08 02 15 50 00 16", "0802\t15500016"],
)
def test_every_iin_accepted_matches_the_declared_pattern(iin: str) -> None:
    assert PupilCreate.model_validate(PUPIL | {"iin": iin}).iin == "080215500016"
    assert re.fullmatch(IIN_PATTERN, iin), "the schema admits what the API accepts"


@pytest.mark.parametrize(
    ("iin", "reason"),
    [("90010140002", "has 12 digits"), ("9001014000x3", "only digits"), ("900101400024", "check")],
)
def test_a_bad_iin_keeps_its_reason(iin: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        GuardianCreate.model_validate(GUARDIAN | {"iin": iin})


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_an_invalid_kit_id_for_a_component_is_a_422_naming_the_field(
    controller: Controller,
) -> None:
    part = {"serial": "SN-1", "kind": "laptop", "model": "HP ProBook 450"}
    assert call(controller, "POST", "/api/v1/components", _json(part))[0] == 201
    for bad in BAD_KIT_IDS:
        added = part | {"serial": "SN-2", "kit_id": bad}
        status, body = call(controller, "POST", "/api/v1/components", _json(added))
        assert status == 422, (bad, status, body)
        assert body["detail"][0]["loc"] == ["body", "kit_id"], body
        status, body = call(controller, "PATCH", "/api/v1/components/SN-1", _json({"kit_id": bad}))
        assert status == 422, (bad, status, body)
        assert body["detail"][0]["loc"] == ["body", "kit_id"], body
    assert call(controller, "GET", "/api/v1/components?kit_id=kit-1")[1] == []
    add_kits(controller, "kit-1")  # a component never creates its kit (issue 13)
    status, body = call(controller, "PATCH", "/api/v1/components/SN-1", _json({"kit_id": "kit-1"}))
    assert (status, body["kit_id"]) == (200, "kit-1"), "a valid kit id is still taken"
    status, body = call(controller, "PATCH", "/api/v1/components/SN-1", _json({"kit_id": None}))
    assert (status, body["kit_id"]) == (200, None), "null still moves it to stock"
