"""The OpenAPI schema is the truth: every endpoint says what a successful answer looks like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.api.app import create_app
from controller.config import ControllerSettings

JSON = "application/json"


def _typed(schema: Any) -> bool:
    """Whether a JSON schema gives a shape: a reference, a scalar, or containers of typed ones."""
    if not isinstance(schema, dict) or not schema:
        return False
    if "$ref" in schema:
        return True
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return all(_typed(s) for s in schema[combinator])
    kind = schema.get("type")
    if kind == "array":
        return _typed(schema.get("items"))
    if kind == "object":
        extra = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(extra, dict) and _typed(extra))
    return kind in ("string", "integer", "number", "boolean", "null")


def _why_not_declared(responses: dict[str, Any]) -> str | None:
    """Why an operation's success response declares no content shape; None when it does."""
    success = sorted(code for code in responses if code.startswith("2"))
    if not success:
        return "no success response"
    code = success[0]
    content = responses[code].get("content") or {}
    if code == "204" and not content:
        return None
    if not content:
        return f"{code} declares no content"
    if any(media != JSON for media in content):
        return None  # a file, a PDF, a CSV, a PEM, Prometheus text...
    schema = content[JSON].get("schema")
    if not _typed(schema):
        return f"{code} {JSON} schema has no shape: {schema}"
    return None


def test_every_operation_declares_the_shape_of_its_success(tmp_path: Path) -> None:
    settings = ControllerSettings(db=f"sqlite:///{tmp_path}/k.db", pki_dir=tmp_path / "no-pki")
    spec = create_app(settings, with_ingest=False).openapi()
    offenders = [
        f"{method.upper()} {path}: {why}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if (why := _why_not_declared(operation["responses"])) is not None
    ]
    assert offenders == [], "\n".join(offenders)


def test_the_check_tells_a_shape_from_none() -> None:
    """The check itself: what counts as declared and what does not."""
    ref = {"$ref": "#/components/schemas/KitList"}
    declared = [
        {"200": {"content": {JSON: {"schema": ref}}}},
        {"200": {"content": {JSON: {"schema": {"type": "array", "items": ref}}}}},
        {"201": {"content": {JSON: {"schema": {"type": "object", "properties": {"a": ref}}}}}},
        {"200": {"content": {"application/pdf": {}}}},
        {"200": {"content": {"text/csv": {}}}},
        {"204": {"description": "done"}},
    ]
    undeclared = [
        {"200": {"description": "Successful Response"}},
        {"200": {"content": {JSON: {"schema": {}}}}},
        {"200": {"content": {JSON: {"schema": {"type": "object", "additionalProperties": True}}}}},
        {"200": {"content": {JSON: {"schema": {"type": "array", "items": {"type": "object"}}}}}},
        {"404": {"description": "not found"}},
    ]
    assert [_why_not_declared(r) for r in declared] == [None] * len(declared)
    assert all(_why_not_declared(r) is not None for r in undeclared)


def _spec(tmp_path: Path) -> dict[str, Any]:
    settings = ControllerSettings(db=f"sqlite:///{tmp_path}/k.db", pki_dir=tmp_path / "no-pki")
    spec: dict[str, Any] = create_app(settings, with_ingest=False).openapi()
    return spec


def _enum(spec: dict[str, Any], schema: str, field: str) -> list[str]:
    """The values a field of a schema takes (through its $ref, anyOf with null, ...)."""
    node = spec["components"]["schemas"][schema]["properties"][field]
    for option in node.get("anyOf", [node]):
        named = option
        if "$ref" in option:
            named = spec["components"]["schemas"][option["$ref"].rsplit("/", 1)[1]]
        if "enum" in named:
            return list(named["enum"])
    return []


def test_uploads_show_their_request_bodies(tmp_path: Path) -> None:
    """The CSV and .ics imports: the raw body or a form's part `file` (issue 13)."""
    paths = _spec(tmp_path)["paths"]
    uploads = {
        "/api/v1/import/{kind}": {"text/csv", "multipart/form-data"},
        "/api/v1/pupils/{ref}/schedule/import": {
            "text/csv",
            "text/calendar",
            "multipart/form-data",
        },
    }
    for path, media in uploads.items():
        body = paths[path]["post"]["requestBody"]
        assert set(body["content"]) == media, path
        form = body["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["file"]
        assert form["properties"]["file"]["format"] == "binary"
    for template in ("/api/v1/import/{kind}/template.csv", "/api/v1/schedules/template.csv"):
        assert "text/csv" in paths[template]["get"]["responses"]["200"]["content"]


def test_choices_are_enumerations(tmp_path: Path) -> None:
    """Kinds, conditions, programs, bases and relations are listed, not guessed (issue 13)."""
    spec = _spec(tmp_path)
    assert "headset" in _enum(spec, "ComponentCreate", "kind")
    assert "damaged" in _enum(spec, "ComponentCreate", "condition")
    assert "damaged" in _enum(spec, "ComponentUpdate", "condition")
    assert _enum(spec, "PupilCreate", "program") == [
        "general",
        "delayed_development",
        "correctional_1",
        "correctional_2",
    ]
    assert _enum(spec, "PupilCreate", "basis") == ["disability", "temporary"]
    assert "legal_representative" in _enum(spec, "GuardianCreate", "relation")
    program = spec["components"]["schemas"]["Program"]["description"]
    assert "DOMAIN.md" not in program, "the values in words, no pointer to a file elsewhere"
    assert "delayed mental development" in program
    action = spec["components"]["schemas"]["ContractAction"]
    assert "controller.loans.lifecycle" not in action["description"], "the fields of sign in words"
    assert all("description" in field for field in action["properties"].values())
    error = spec["components"]["schemas"]["ImportRowError"]["properties"]
    assert error["row"]["type"] == "integer", "a row error always has its line"
    assert "messages" in error
