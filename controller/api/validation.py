"""A request the API cannot read (422), in plain words in the reader's language.

Pydantic's message for each error is replaced by the `api` catalogue's text for its type
(`validation.<type>`) in the request's language (`controller.api.language`); `loc` and `type`
stay for programs. What a pattern accepts is said in words (`pattern.*`), never as the regex;
accepted values are listed; pydantic's documentation link and the submitted value are dropped.
A validator's own refusal (`controller.errors.InvalidValue`) is given in the language asked;
any other `ValueError` keeps its English reason behind a translated "Not accepted".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from common.i18n import Lang, catalogue
from controller.errors import InvalidValue
from protocol.commands import PLAYBOOK_ID_PATTERN
from protocol.limits import KIT_ID_PATTERN

DOMAIN: Final = "api"

_SCALARS = (str, int, float, bool)
_HIDDEN_CTX: Final = frozenset({"pattern", "error", "expected"})
"""Context pydantic gives that a reader does not get as is (a regex, an exception object)."""

_PATTERNS: Final = {KIT_ID_PATTERN: "pattern.kit_id", PLAYBOOK_ID_PATTERN: "pattern.playbook"}


def _pattern_key(pattern: object, loc: tuple[Any, ...]) -> str:
    """The `pattern.*` text for a field's pattern: by the pattern, else by the field's name."""
    key = _PATTERNS.get(str(pattern))
    if key is not None:
        return key
    name = str(loc[-1]) if loc else ""
    if name.endswith("kit_id"):
        return "pattern.kit_id"
    if name == "ref" or name.endswith("_ref") or name == "number":
        return "pattern.ref"
    return "pattern.other"


def _expected(ctx: Mapping[str, Any], lang: Lang) -> str:
    """The accepted values pydantic lists ("'a', 'b' or 'c'") as a list in `lang`."""
    raw = str(ctx.get("expected", ""))
    values = re.findall(r"'([^']*)'", raw) or [raw]
    if len(values) == 1:
        return str(values[0])
    return f"{', '.join(values[:-1])} {catalogue(DOMAIN).text('or', lang)} {values[-1]}"


def message(error: Mapping[str, Any], lang: Lang) -> str:
    """One validation error in plain words in `lang`."""
    texts = catalogue(DOMAIN)
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    loc = tuple(error.get("loc", ()))
    reason = ctx.get("error")
    if isinstance(reason, InvalidValue):
        return reason.text(lang)
    key = f"validation.{kind}"
    if key not in texts.keys(lang):
        return texts.text("validation.invalid", lang)
    params: dict[str, object] = {k: v for k, v in ctx.items() if isinstance(v, _SCALARS)}
    if kind in ("enum", "literal_error"):
        params["expected"] = _expected(ctx, lang)
    elif kind == "string_pattern_mismatch":
        params["accepted"] = texts.text(_pattern_key(ctx.get("pattern"), loc), lang)
    elif kind == "value_error":
        params["error"] = str(reason) if reason is not None else ""
    try:
        return texts.text(key, lang, **params)
    except (KeyError, IndexError):  # a context pydantic did not give this time
        return texts.text("validation.invalid", lang)


def reported(error: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """One error as the API reports it: `type`, `loc`, `msg` in `lang`, and safe context.

    Never the submitted value (a password, an IIN), nor a context value that contains it, nor
    the regex a value failed; `ctx.expected` stays when it lists the accepted values.
    """
    kept: dict[str, Any] = {key: error[key] for key in ("type", "loc") if key in error}
    kept["msg"] = message(error, lang)
    submitted = error.get("input")
    ctx: dict[str, Any] = {
        key: value
        for key, value in (error.get("ctx") or {}).items()
        if isinstance(value, _SCALARS)
        and key not in _HIDDEN_CTX
        and value != submitted
        and not (isinstance(submitted, str) and submitted and submitted in str(value))
    }
    if error.get("type") in ("enum", "literal_error") and "expected" in (error.get("ctx") or {}):
        ctx["expected"] = re.findall(r"'([^']*)'", str(error["ctx"]["expected"]))
    if ctx:
        kept["ctx"] = ctx
    return kept
