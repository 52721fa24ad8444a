"""Each JSON Schema rule's finding worded for people: ``unknown key 'entrypont'``, ``did you mean 'entrypoint'?``.

fastjsonschema reports one rule at a time, naming the value's place as
``data.a.b[0]`` and quoting the rule's definition; :func:`explain_error`
turns one such report into :class:`SchemaViolation` records (a path in the
data, a message, a hint), one per rule in :data:`_EXPLAINERS`. Placing them
in a file, and choosing among several, is :mod:`.violations`'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from .._frozen import FrozenRecord
from .._util.suggestions import closest
from .._util.yaml_document import FieldPath, json_type_name

__all__ = ["FoundError", "SchemaViolation", "describe_value", "explain_error"]

_TYPE_WORDS = {"object": "mapping", "array": "list"}


class FoundError(Protocol):
    """What fastjsonschema's JsonSchemaValueException carries (duck-typed to keep imports lazy)."""

    message: str
    value: Any
    name: str | None
    definition: Any
    rule: str | None


class SchemaViolation(FrozenRecord):
    """One schema finding, relative to the validated data.

    ``at_key`` points the location at the key itself (unknown or badly named
    keys) rather than at its value.
    """

    __slots__ = ("at_key", "hint", "message", "path", "rule")
    path: FieldPath
    message: str
    hint: str | None
    at_key: bool
    rule: str | None

    def __init__(
        self, path: FieldPath, message: str, hint: str | None = None, at_key: bool = False, rule: str | None = None
    ) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "hint", hint)
        object.__setattr__(self, "at_key", at_key)
        object.__setattr__(self, "rule", rule)


def describe_value(value: object) -> str:
    """``string "ten"``, ``integer 5``, ``a list``: what a message says it found."""
    kind = json_type_name(value)
    if kind in ("object", "array"):
        return f"a {_TYPE_WORDS[kind]}"
    if kind == "null":
        return "null (no value)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


class _Explainer(Protocol):
    """Words one rule's finding: the value at ``path`` and the rule's ``expected`` value in its ``definition``."""

    def __call__(
        self, path: FieldPath, value: Any, /, *, expected: Any, definition: Mapping[str, Any]
    ) -> SchemaViolation: ...


def _decode_path(name: str | None, data: Any) -> FieldPath:
    """fastjsonschema names paths ``data.a.b[0]``; keys may hold dots, so walk the data to split it."""
    text = name or "data"
    text = text[4:] if text.startswith("data") else text

    def walk(rest: str, node: Any) -> list[str | int] | None:
        if not rest:
            return []
        if rest[0] == "[" and isinstance(node, list):
            match = re.match(r"\[(\d+)\]", rest)
            if match:
                index = int(match.group(1))
                child = node[index] if index < len(node) else None
                tail = walk(rest[match.end() :], child)
                return None if tail is None else [index, *tail]
        if rest[0] == "." and isinstance(node, dict):
            for key in sorted((k for k in node if rest[1:].startswith(k)), key=len, reverse=True):
                after = rest[1 + len(key) :]
                if after[:1] in ("", ".", "["):
                    tail = walk(after, node[key])
                    if tail is not None:
                        return [key, *tail]
        return None

    decoded = walk(text, data)
    if decoded is not None:
        return tuple(decoded)
    return tuple(part for part in re.split(r"[.\[\]]+", text) if part)


def _expected_types(rule_definition: Any) -> str:
    names = rule_definition if isinstance(rule_definition, list) else [rule_definition]
    return " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)


def explain_error(error: FoundError, data: Any) -> list[SchemaViolation]:
    """Usually one violation; every badly named key when ``propertyNames`` fails (reported once per object)."""
    definition: Mapping[str, Any] = error.definition if isinstance(error.definition, Mapping) else {}
    names = definition.get("propertyNames")
    pattern = names.get("pattern") if isinstance(names, Mapping) else None
    if error.rule == "additionalProperties" and isinstance(error.value, dict):
        path = _decode_path(error.name, data)
        return [
            _unknown_key(path, key, value=error.value, definition=definition)
            for key in _unknown(error.value, definition)
        ] or [_explain(error, data)]
    if error.rule == "required" and isinstance(error.value, dict):
        path = _decode_path(error.name, data)
        return _required_keys(path, error.value, definition=definition)
    if error.rule == "propertyNames" and isinstance(error.value, dict) and isinstance(pattern, str):
        path = _decode_path(error.name, data)
        hint = names.get("x-hint") if isinstance(names, Mapping) else None
        bad = [key for key in error.value if not re.search(pattern, key)]
        return [
            SchemaViolation((*path, key), f"the name {key!r} does not match the pattern {pattern}", hint, True, "names")
            for key in bad
        ] or [_explain(error, data)]
    return [_explain(error, data)]


def _explain(error: FoundError, data: Any) -> SchemaViolation:
    path = _decode_path(error.name, data)
    rule = error.rule or ""
    definition: Mapping[str, Any] = error.definition if isinstance(error.definition, Mapping) else {}
    expected = definition.get(rule)
    value = error.value
    extra_hint = definition.get("x-hint")
    explain = _EXPLAINERS.get(rule)
    if explain is not None:
        violation = explain(path, value, expected=expected, definition=definition)
    else:
        fallback = (error.message or "is invalid").removeprefix(error.name or "data").strip()
        violation = SchemaViolation(path, fallback or "is invalid", rule=rule)
    if extra_hint and not violation.hint:
        violation = SchemaViolation(violation.path, violation.message, extra_hint, violation.at_key, violation.rule)
    return violation


def _type(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    hint = None
    if "string" in (expected if isinstance(expected, list) else [expected]) and isinstance(value, int | float):
        hint = "quote the value to make it a string"
    return SchemaViolation(
        path, f"expected {_expected_types(expected)}, got {describe_value(value)}", hint, rule="type"
    )


def _unknown(value: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    """The keys of ``value`` that ``definition`` (an object schema with ``additionalProperties: false``) refuses."""
    allowed = definition.get("properties", {})
    patterns = [re.compile(p) for p in definition.get("patternProperties", {})]
    return [k for k in value if k not in allowed and not any(p.search(k) for p in patterns)]


def _typo_of(key: str, *, value: Mapping[str, Any], definition: Mapping[str, Any]) -> str | None:
    """The missing required key an unknown ``key`` is most likely a misspelling of."""
    missing = [k for k in definition.get("required", ()) if k not in value]
    return closest(key, missing)


def _unknown_key(
    path: FieldPath, key: str, *, value: Mapping[str, Any], definition: Mapping[str, Any]
) -> SchemaViolation:
    """One unknown key, located at the key itself; a misspelt required key is said to be missing here."""
    allowed = list(definition.get("properties", {}))
    required = _typo_of(key, value=value, definition=definition)
    suggestion = required or closest(key, allowed)
    if required:
        hint = f"did you mean {required!r}? (a required key, missing from this mapping)"
    elif suggestion:
        hint = f"did you mean {suggestion!r}?"
    elif allowed:
        hint = f"valid keys here: {', '.join(allowed)}"
    else:
        hint = None
    return SchemaViolation((*path, key), f"unknown key {key!r}", hint, at_key=True, rule="additionalProperties")


def _unknown_keys(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    """Only when the value is not a mapping (``explain_error`` names each unknown key otherwise)."""
    return SchemaViolation(path, "has unknown keys", rule="additionalProperties")


def _required_keys(
    path: FieldPath, value: Mapping[str, Any], *, definition: Mapping[str, Any]
) -> list[SchemaViolation]:
    """Missing required keys, except those misspelt: the unknown key's report, at its own line, says so."""
    refused = _unknown(value, definition) if definition.get("additionalProperties") is False else []
    typos = {typo for key in refused if (typo := _typo_of(key, value=value, definition=definition))}
    missing = [k for k in definition.get("required", ()) if k not in value and k not in typos]
    if not missing:
        return []
    present = [k for k in value if k not in definition.get("required", ())]
    hints = [f"found {typo!r}: did you mean {key!r}?" for key in missing if (typo := closest(key, present))]
    names = ", ".join(repr(k) for k in missing)
    what = f"missing required key {names}" if len(missing) == 1 else f"missing required keys {names}"
    if not path:
        what += " at the top level"
    return [SchemaViolation(path, what, "; ".join(hints) or None, at_key=bool(path), rule="required")]


def _required(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    """Only when the value is not a mapping (``explain_error`` handles mappings)."""
    names = ", ".join(repr(k) for k in expected)
    return SchemaViolation(path, f"missing required keys {names}", rule="required")


def _enum(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    choices = [str(c) for c in expected]
    suggestion = closest(str(value), choices) if isinstance(value, str) else None
    hint = f"did you mean {suggestion!r}?" if suggestion else None
    return SchemaViolation(
        path, f"expected one of {', '.join(choices)}; got {describe_value(value)}", hint, rule="enum"
    )


def _pattern(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    return SchemaViolation(path, f"{describe_value(value)} does not match the pattern {expected}", rule="pattern")


def _bound(word: str) -> _Explainer:
    def explain(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
        return SchemaViolation(path, f"expected a number {word} {expected}, got {describe_value(value)}", rule=word)

    return explain


def _size(unit: str, at_least: bool) -> _Explainer:
    def explain(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
        if at_least and expected == 1 and not value:
            return SchemaViolation(path, "must not be empty", rule="min")
        bound = "at least" if at_least else "at most"
        return SchemaViolation(path, f"expected {bound} {expected} {unit}, got {len(value)}", rule="size")

    return explain


def _unique(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    seen: list[Any] = []
    for item in value:
        if item in seen:
            return SchemaViolation(path, f"{describe_value(item)} is listed more than once", rule="uniqueItems")
        seen.append(item)
    return SchemaViolation(path, "items must be unique", rule="uniqueItems")


def _property_names(path: FieldPath, _value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    """Only when the names' rule is not a plain pattern (``explain_error`` names each key otherwise)."""
    return SchemaViolation(path, "has a key with an invalid name", rule="propertyNames")


def _one_of(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    branches = expected if isinstance(expected, list) else []
    keys = [b["required"][0] for b in branches if isinstance(b, Mapping) and list(b) == ["required"]]
    if keys and len(keys) == len(branches) and isinstance(value, dict):
        names = " or ".join(repr(k) for k in keys)
        given = [k for k in keys if k in value]
        if len(given) > 1:
            return SchemaViolation(path, f"give only one of {names}, not both", rule="oneOf")
        typo = next((f"found {k!r}: did you mean {c!r}?" for k in value if (c := closest(k, keys))), None)
        return SchemaViolation(path, f"needs one of {names}", typo, at_key=bool(path), rule="oneOf")
    if path and path[-1] == "type" and isinstance(value, str | list):
        return _schema_type_keyword(path, value)
    return SchemaViolation(path, f"{describe_value(value)} does not match any of the allowed forms", rule="oneOf")


_SIMPLE_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _schema_type_keyword(path: FieldPath, value: str | list[Any]) -> SchemaViolation:
    """A JSON Schema's own ``type`` keyword is wrong (the draft-07 metaschema's ``anyOf``)."""
    names = [value] if isinstance(value, str) else value
    bad = next((n for n in names if n not in _SIMPLE_TYPES), None)
    if bad is None:
        return SchemaViolation(path, "list each type only once", rule="oneOf")
    suggestion = closest(str(bad), _SIMPLE_TYPES)
    hint = f"did you mean {suggestion!r}?" if suggestion else None
    return SchemaViolation(
        path, f"unknown type {describe_value(bad)}; expected one of {', '.join(_SIMPLE_TYPES)}", hint, rule="type"
    )


def _const(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    return SchemaViolation(path, f"expected {json.dumps(expected)}, got {describe_value(value)}", rule="const")


def _format(path: FieldPath, value: Any, *, expected: Any, definition: Mapping[str, Any]) -> SchemaViolation:
    return SchemaViolation(path, f"expected a valid {expected}, got {describe_value(value)}", rule="format")


_EXPLAINERS: dict[str, _Explainer] = {
    "type": _type,
    "additionalProperties": _unknown_keys,
    "required": _required,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "format": _format,
    "minimum": _bound(">="),
    "maximum": _bound("<="),
    "exclusiveMinimum": _bound(">"),
    "exclusiveMaximum": _bound("<"),
    "minLength": _size("characters", at_least=True),
    "maxLength": _size("characters", at_least=False),
    "minItems": _size("items", at_least=True),
    "maxItems": _size("items", at_least=False),
    "minProperties": _size("entries", at_least=True),
    "maxProperties": _size("entries", at_least=False),
    "uniqueItems": _unique,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "anyOf": _one_of,
}
