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
