"""Turn pydantic's validation errors into diagnostics an admin can act on.

Pydantic reports every branch of a union (a rule's `when` may be one condition or a list, so a
typo inside it yields three errors, with internal type names in the location). We keep the
branch that matches the shape the admin actually wrote, drop internal names from the path, and
say what was expected in plain words, with a "did you mean" for misspelt keys and values.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from rules.diagnostics import Diagnostic, did_you_mean
from rules.yamlsource import Document, KeyPath, rule_id_at

_SHAPE_ERRORS = {
    "list_type",
    "dict_type",
    "model_type",
    "model_attributes_type",
    "string_type",
    "int_type",
    "float_type",
    "bool_type",
    "enum",
    "literal_error",
    "is_instance_of",
}
_SHAPE_WORDS = {
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "string_type": "text",
    "int_type": "a number",
    "float_type": "a number",
    "bool_type": "true or false",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
    "too_short": ("at least", "min_length"),
}
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO"}


def translate(error: ValidationError, doc: Document, root: type[BaseModel]) -> list[Diagnostic]:
    """Diagnostics for one failed validation of `doc.data` against `root`."""
    raw = error.errors(include_url=False)
    located = [(_data_path(e["loc"], doc.data), e) for e in raw]
    kept = [
        (path, e)
        for path, e in located
        if not (e["type"] in _SHAPE_ERRORS and _deeper_exists(path, located))
    ]
    by_path: dict[KeyPath, list[dict[str, Any]]] = {}
    for path, e in kept:
        by_path.setdefault(path, []).append(dict(e))
    diagnostics = []
    for path, errors in by_path.items():
        value = _value_at(doc.data, path)
        errors = _matching_shape(errors, value)
        diagnostics.append(_diagnostic(doc, root, path, errors, value))
    diagnostics.sort(key=lambda d: (d.line, d.col))
    return diagnostics


def _diagnostic(
    doc: Document, root: type[BaseModel], path: KeyPath, errors: list[dict[str, Any]], value: Any
) -> Diagnostic:
    first = errors[0]
    kind = first["type"]
    rule_id = rule_id_at(doc.data, path)
    hint = ""
    on_key = False
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(root, doc.data, path[:-1])
        message = f"unknown key '{key}'"
        hint = did_you_mean(key, allowed)
        if not hint and allowed:
            hint = "expected one of: " + ", ".join(sorted(allowed))
        on_key = True
    elif kind == "missing":
        message = f"missing required key '{path[-1]}'"
        on_key = True
        path_for_position = path[:-1]
        return doc.diagnostic(path_for_position, message, rule_id=rule_id, key_path=_fmt(path))
    elif kind in ("enum", "literal_error"):
        expected = first.get("ctx", {}).get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        if path == ("version",):
            message = (
                f"this Steward reads rule files of version {', '.join(options)}, not {_show(value)}"
            )
            hint = "check the release notes of the Steward that wrote this file"
        else:
            message = f"'{value}' is not one of: {', '.join(options)}"
            hint = did_you_mean(str(value), options)
    else:
        message = _expected(errors, value)
        kinds = {e["type"] for e in errors}
        if kind == "bool_type" and isinstance(value, str) and value in _YAML11_BOOLEANS:
            hint = f"write true or false; YAML 1.1 spellings like '{value}' are text here"
        elif kinds & {"int_type", "float_type"} and isinstance(value, str) and _numeric(value):
            hint = "remove the quotes; quoted values are text"
        elif (
            "list_type" in kinds
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            hint = f"write a single item as a list: [{value}]"
    return doc.diagnostic(
        path, message, key=on_key, rule_id=rule_id, hint=hint, key_path=_fmt(path)
    )


def _fmt(path: KeyPath) -> str:
    from rules.diagnostics import format_key_path

    return format_key_path(path)


def _expected(errors: list[dict[str, Any]], value: Any) -> str:
    kinds = {e["type"] for e in errors}
    shown = _show(value)
    if kinds <= {"int_type", "float_type"}:
        what = "a whole number" if kinds == {"int_type"} else "a number"
        return f"expected {what}, got {shown}"
    if kinds == {"bool_type"}:
        return f"expected true or false, got {shown}"
    if kinds == {"string_type"}:
        return f"expected text, got {shown}"
    if kinds <= {"list_type"}:
        return f"expected a list, got {shown}"
    if kinds <= {"dict_type", "model_type", "model_attributes_type"}:
        return f"expected a mapping (key: value), got {shown}"
    if kinds <= _SHAPE_ERRORS:
        wanted = []
        for e in errors:
            word = _SHAPE_WORDS.get(e["type"], "")
            if word and word not in wanted:
                wanted.append(word)
        return f"expected {' or '.join(wanted)}, got {shown}"
    messages = []
    for e in errors:
        msg = str(e["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        msg = msg.replace("Input should be", "should be").replace("String should", "should")
        if e["type"] == "string_pattern_mismatch":
            msg = "ids and names use letters, digits, '-', '_' and '.' (rule ids are lowercase)"
        elif e["type"] in _BOUNDS:
            limit = e.get("ctx", {}).get(_BOUNDS[e["type"]][1])
            msg = f"must be {_BOUNDS[e['type']][0]} {limit}, got {shown}"
        if msg not in messages:
            messages.append(msg)
    return "; ".join(messages)


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _matching_shape(errors: list[dict[str, Any]], value: Any) -> list[dict[str, Any]]:
    """Keep the errors of the union branch whose shape matches what was written."""
    if len(errors) == 1:
        return errors
    irrelevant: set[str] = set()
    if isinstance(value, dict | list):
        irrelevant |= {"enum", "literal_error"}
    if not isinstance(value, list):
        irrelevant.add("list_type")
    if not isinstance(value, dict):
        irrelevant |= {"dict_type", "model_type", "model_attributes_type"}
    if not isinstance(value, str):
        irrelevant.add("string_type")
    kept = [e for e in errors if e["type"] not in irrelevant]
    return kept or errors


def _deeper_exists(path: KeyPath, located: list[tuple[KeyPath, Any]]) -> bool:
    return any(len(other) > len(path) and other[: len(path)] == path for other, _ in located)


def _data_path(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """Drop pydantic's union-branch labels, keeping only keys and indexes present in the data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            path.append(part)
            node = _step(node, part)
        elif isinstance(node, dict) and isinstance(part, str) and not _looks_internal(part):
            path.append(part)  # a missing or unknown key: keep it, then stop descending
            node = None
    return tuple(path)


def _looks_internal(part: str) -> bool:
    return any(ch in part for ch in "[](),") or part.startswith(
        ("function-", "str-enum", "literal")
    )


def _value_at(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        if not _has(node, part):
            return None
        node = _step(node, part)
    return node


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    if isinstance(node, list):
        return isinstance(part, int) and 0 <= part < len(node)
    return False


def _step(node: Any, part: str | int) -> Any:
    return node[part] if _has(node, part) else None


def _allowed_keys(root: type[BaseModel], data: Any, path: KeyPath) -> list[str]:
    """The keys the model at `path` accepts, for "did you mean"."""
    candidates: list[Any] = [root]
    node = data
    for part in path:
        following: list[Any] = []
        for annotation in candidates:
            for option in _options(annotation):
                if isinstance(part, str) and _is_model(option) and isinstance(node, dict):
                    for name, info in option.model_fields.items():
                        if part in (name, info.alias):
                            following.append(info.annotation)
                elif isinstance(part, str) and typing.get_origin(option) is dict:
                    following.append(typing.get_args(option)[1])
                elif isinstance(part, int) and typing.get_origin(option) is list:
                    following.append(typing.get_args(option)[0])
        candidates = following
        node = _step(node, part)
    keys: list[str] = []
    for annotation in candidates:
        for option in _options(annotation):
            if _is_model(option):
                keys.extend(info.alias or name for name, info in option.model_fields.items())
    return keys


def _options(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _options(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _options(arg)
    else:
        yield annotation


def _is_model(option: Any) -> bool:
    return isinstance(option, type) and issubclass(option, BaseModel)
