from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.schemas import (
    SCHEMA_NAMES,
    InvalidSchema,
    compile_schema,
    load_schema,
    schema_path,
    schema_text,
    shipped_validator,
)
from workflow_plugin_runtime.schemas.violations import schema_violations

PROBE = """
import json, sys
from workflow_plugin_runtime.schemas import compile_schema
from workflow_plugin_runtime.schemas.violations import schema_violations
validator = compile_schema(json.loads(sys.argv[1]))
print(json.dumps({
    "violations": [v.message for v in schema_violations(validator, json.loads(sys.argv[2]))],
    "fastjsonschema_imported": "fastjsonschema" in sys.modules,
    "decimal_imported": "decimal" in sys.modules,
}))
"""
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n", "m"]}


def probe(cache: str, schema: object = SCHEMA, data: object = {"n": "x"}) -> dict[str, object]:
    env = {**os.environ, "WORKFLOW_CACHE_DIR": cache}
    argv = [sys.executable, "-c", PROBE, json.dumps(schema), json.dumps(data)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_shipped_schemas_are_valid_draft07_and_described() -> None:
    metaschema = shipped_validator("draft-07")
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        assert schema_violations(metaschema, dict(schema)) == []
        assert json.loads(schema_text(name)) == schema
        assert schema_path(name).is_file()


def test_every_property_of_the_plugin_schema_has_a_description() -> None:
    def walk(node: object, where: str) -> list[str]:
        missing = []
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    missing.append(f"{where}.{key}")
            for key, sub in node.items():
                missing += walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                missing += walk(sub, f"{where}[{index}]")
        return missing

    for name in ("plugin", "config"):
        assert walk(dict(load_schema(name)), name) == []


def test_validators_report_every_violation_and_never_write_defaults() -> None:
    validator = compile_schema({"type": "object", "properties": {"a": {"type": "integer", "default": 1}, "b": {}}})
    data: dict[str, object] = {"b": None}
    assert schema_violations(validator, data) == []
    assert data == {"b": None}
    messages = [v.message for v in schema_violations(compile_schema(SCHEMA), {"n": "x"})]
    assert messages == ["missing required key 'm' at the top level", 'expected integer, got string "x"']


def test_remote_refs_are_refused_without_fetching() -> None:
    with pytest.raises(InvalidSchema, match="points outside the schema"):
        compile_schema({"$ref": "http://127.0.0.1:9/schema.json"})
    with pytest.raises(InvalidSchema):
        compile_schema({"$ref": "other.json"})


def test_generated_code_is_cached_across_processes(tmp_path: Path) -> None:
    first = probe(str(tmp_path))
    assert first["fastjsonschema_imported"] is True
    files = list((tmp_path / "validators").glob("*.bin"))
    assert len(files) == 1
    second = probe(str(tmp_path))
    assert second == {**first, "fastjsonschema_imported": False, "decimal_imported": False}


def test_a_cached_validator_checks_numbers_importing_decimal_only_for_multiple_of(tmp_path: Path) -> None:
    bounded = {"type": "object", "properties": {"n": {"type": "number", "minimum": 1}}}
    fresh = probe(str(tmp_path), bounded, {"n": 0.5})
    assert fresh["violations"] and fresh["decimal_imported"] is True  # fastjsonschema imports it to generate
    assert probe(str(tmp_path), bounded, {"n": 0.5}) == {
        **fresh,
        "fastjsonschema_imported": False,
        "decimal_imported": False,
    }
    assert probe(str(tmp_path), bounded, {"n": "x"})["violations"] == ['expected number, got string "x"']
    multiple = {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 0.5}}}
    probe(str(tmp_path), multiple, {"n": 1})
    cached = probe(str(tmp_path), multiple, {"n": 0.7})
    assert cached["violations"] and cached["decimal_imported"] is True
    assert probe(str(tmp_path), multiple, {"n": 1.5})["violations"] == []


def test_corrupt_cache_entries_are_regenerated(tmp_path: Path) -> None:
    first = probe(str(tmp_path))
    (entry,) = (tmp_path / "validators").glob("*.bin")
    entry.write_bytes(b"\x00garbage")
    assert probe(str(tmp_path))["violations"] == first["violations"]


def test_empty_cache_dir_setting_disables_the_cache(tmp_path: Path) -> None:
    result = probe("")
    assert result["fastjsonschema_imported"] is True
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("cache", ["fresh", "cached"])
def test_patterns_check_alike_and_compile_only_once_used(
    tmp_path: Path, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z]+$"},
            "size": {"type": "string", "pattern": "^[0-9]+k$"},
        },
        "patternProperties": {"^x-": {"type": "integer"}},
    }
    if cache == "cached":
        probe(str(tmp_path), schema, {})  # another process generates and caches it; this one reads the cache
    data = {"id": "ABC", "x-n": "1", "other": 1}
    assert probe(str(tmp_path), schema, data)["violations"] == [
        'string "ABC" does not match the pattern ^[a-z]+$',
        'expected integer, got string "1"',
    ]
    assert probe(str(tmp_path), schema, {"id": "abc", "size": "12k", "x-n": 1})["violations"] == []
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path))
    validator = compile_schema({**schema, "title": f"{cache} {tmp_path}"})  # not one this process compiled before
    patterns = validator.__globals__["REGEX_PATTERNS"]  # type: ignore[attr-defined]
    assert not any(isinstance(pattern, re.Pattern) for pattern in patterns.values())
    assert schema_violations(validator, {"id": "abc"}) == []
    assert patterns["^[a-z]+$"].search.__self__ == re.compile("^[a-z]+\\Z")  # compiled by its first use
    assert not isinstance(patterns["^[0-9]+k$"].search.__self__, re.Pattern)  # never used: never compiled


def test_the_metaschema_still_compiles_each_regex_it_checks() -> None:
    messages = [v.message for v in schema_violations(shipped_validator("draft-07"), {"pattern": "("})]
    assert len(messages) == 1
    assert "regex" in messages[0]


def _named_errors(validate: Callable[[Any], Any], data: object) -> list[tuple[str, str]]:
    try:
        validate(data)
    except ValueError as exc:
        return [(error.name, error.message) for error in getattr(exc, "errors", [exc])]
    return []


BRACED = {  # property names that look like format fields: fastjsonschema's own text for them is kept
    "type": "object",
    "properties": {
        "{data}": {"type": "array", "items": {"type": "integer"}},
        "a{b}": {"type": "object", "additionalProperties": {"type": "string"}},
        "c{0}": {"type": "array", "items": {"type": "string"}},
    },
}


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (
            dict(load_schema("workflow")),
            {
                "name": "w",
                "tasks": {"a": {"uses": 1, "needs": [1, "b", "b"]}, "b": {"uses": "x/y.z", "env": {"1x": []}}},
                "requires": {"x/y": 2},
                "permissions": {"mounts": [{"source": 1, "target": "rel"}, "m"], "env": [3]},
            },
        ),
        (BRACED, {"{data}": ["x", 1, "y"], "a{b}": {"k": 1}}),
    ],
    ids=["workflow", "braced-names"],
)
def test_violations_name_their_place_as_fastjsonschema_does(
    tmp_path: Path, schema: dict[str, Any], data: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastjsonschema

    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path))
    ours = compile_schema({**schema, "title": f"named {tmp_path}"})  # generated here, not taken from a cache
    theirs = fastjsonschema.compile({**schema, "title": "theirs"}, use_default=False, fast_fail=False)
    expected = _named_errors(theirs, data)
    assert len(expected) >= 3
    assert sorted(_named_errors(ours, data)) == sorted(expected)  # ours checks properties in sorted order


def test_the_workflow_validator_names_each_task_without_copying_its_variables() -> None:
    validator = shipped_validator("workflow")
    functions = [value for value in validator.__globals__.values() if callable(value) and hasattr(value, "__code__")]  # type: ignore[attr-defined]
    assert validator in functions
    assert not [function.__name__ for function in functions if "locals" in function.__code__.co_names]
