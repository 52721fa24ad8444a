from __future__ import annotations

from pathlib import Path

import pytest

from workflow_plugin_runtime._util.suggestions import closest
from workflow_plugin_runtime._util.yamlfile import load_yaml_bytes
from workflow_plugin_runtime.errors import ConfigError
from workflow_plugin_runtime.schemas import compile_schema
from workflow_plugin_runtime.schemas.explanations import describe_value
from workflow_plugin_runtime.schemas.violations import raise_first_violation, schema_violations, violation_problems


def test_paths_with_dotted_keys_are_decoded_against_the_data() -> None:
    validator = compile_schema(
        {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}}
    )
    (violation,) = schema_violations(validator, {"a.b": {"c": "x"}, "a": {"b": 1}})
    assert violation.path == ("a.b", "c")


def test_list_indices_are_integers() -> None:
    validator = compile_schema({"type": "array", "items": {"type": "array", "items": {"type": "string"}}})
    (violation,) = schema_violations(validator, [["a"], ["b", 3]])
    assert violation.path == (1, 1)


def test_oneof_is_dropped_when_an_unknown_key_explains_it() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "oneOf": [{"required": ["entrypoint"]}, {"required": ["command"]}],
        "properties": {"entrypoint": {"type": "string"}, "command": {"type": "array"}},
    }
    violations = schema_violations(compile_schema(schema), {"entrypont": "main.py"})
    assert [(v.path, v.message, v.hint) for v in violations] == [
        (("entrypont",), "unknown key 'entrypont'", "did you mean 'entrypoint'?")
    ]


def test_bounds_and_sizes_say_expected_and_found() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1},
            "t": {"type": "number", "exclusiveMinimum": 0},
            "s": {"type": "string", "maxLength": 3},
            "l": {"type": "array", "minItems": 2},
            "u": {"type": "array", "uniqueItems": True},
            "c": {"const": "x"},
        },
    }
    data = {"n": 0, "t": 0, "s": "long", "l": [1], "u": [1, 1], "c": "y"}
    messages = {v.path: v.message for v in schema_violations(compile_schema(schema), data)}
    assert messages == {
        ("n",): "expected a number >= 1, got integer 0",
        ("t",): "expected a number > 0, got integer 0",
        ("s",): "expected at most 3 characters, got 4",
        ("l",): "expected at least 2 items, got 1",
        ("u",): "integer 1 is listed more than once",
        ("c",): 'expected "x", got string "y"',
    }


def test_problems_are_located_in_file_order_and_the_first_is_raised() -> None:
    document = load_yaml_bytes(b"b: x\na: y\n", file=Path("c.yaml"), error=ConfigError)
    validator = compile_schema({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})
    problems = violation_problems(schema_violations(validator, document.data), document)
    assert [str(p.location) for p in problems] == ["c.yaml:1:4: b", "c.yaml:2:4: a"]
    with pytest.raises(ConfigError) as caught:
        raise_first_violation(validator, document.data, document=document, error=ConfigError)
    assert caught.value.message == 'expected integer, got string "x"'
    assert caught.value.hint == "1 more problem in this file"


def test_helpers() -> None:
    assert closest("entrypont", ["entrypoint", "command"]) == "entrypoint"
    assert closest("zzz", ["entrypoint"]) is None
    assert describe_value("ten") == 'string "ten"'
    assert describe_value([1]) == "a list"
    assert describe_value({}) == "a mapping"
    assert describe_value(None) == "null (no value)"
    assert describe_value("x" * 100).endswith('..."') is False and describe_value("x" * 100).endswith("...")
