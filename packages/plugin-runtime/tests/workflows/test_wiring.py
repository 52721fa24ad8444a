from __future__ import annotations

import pytest

from workflow_plugin_runtime.workflows.wiring import SchemaWalk, schema_types, types_fit, walk_schema

OUTPUTS = {
    "type": "object",
    "definitions": {"item": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/definitions/item"}},
        "pair": {"type": "array", "items": [{"type": "string"}, {"type": "number"}]},
        "labels": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
        "open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
        "level": {"enum": ["low", "high"]},
        "fixed": {"const": 3},
        "free": {},
    },
}


def walk(*keys: str | int, strict: bool = True) -> SchemaWalk:
    return walk_schema(OUTPUTS, keys, strict_keys=strict, owner="acme/x.y", side="output")


class TestWalk:
    @pytest.mark.parametrize(
        ("keys", "types"),
        [
            (("items", "0", "id"), {"integer"}),
            (("pair", "1"), {"number"}),
            (("pair", "0"), {"string"}),
            (("labels", "x-trace"), {"string"}),
            (("level",), {"string"}),
            (("fixed",), {"integer"}),
            ((), {"object"}),
        ],
    )
    def test_follows_refs_items_and_patterns(self, keys: tuple[str, ...], types: set[str]) -> None:
        result = walk(*keys)
        assert result.error is None
        assert schema_types(result.schema) == types

    @pytest.mark.parametrize("keys", [("free", "anything"), ("open", "b"), ("labels", "other", "deeper")])
    def test_open_schemas_are_anything(self, keys: tuple[str, ...]) -> None:
        assert walk(*keys) == SchemaWalk()

    def test_undeclared_key_with_suggestion(self) -> None:
        result = walk("itemz")
        assert (
            result.error
            == "acme/x.y declares no output 'itemz' (it declares: items, pair, labels, open, level, fixed, free)"
        )
        assert result.hint == "did you mean 'items'?"

    def test_nested_undeclared_key(self) -> None:
        assert walk("items", "3", "name").error == "acme/x.y output 'items.3' declares no key 'name' (it declares: id)"

    def test_key_under_a_scalar(self) -> None:
        assert walk("level", "x").error == "acme/x.y output 'level' is declared as string: it has no key 'x'"

    def test_inputs_are_closed_only_by_additional_properties_false(self) -> None:
        schema = {"type": "object", "properties": {"a": {"type": "string"}}}
        assert walk_schema(schema, ["b"], strict_keys=False, owner="p", side="input") == SchemaWalk()
        closed = {**schema, "additionalProperties": False}
        result = walk_schema(closed, ["b"], strict_keys=False, owner="p", side="input")
        assert result.error == "p declares no input 'b' (it declares: a)"

    def test_no_schema_and_broken_refs(self) -> None:
        assert walk_schema(None, ["a"], strict_keys=True, owner="p", side="output") == SchemaWalk()
        assert walk_schema({"$ref": "#/nope"}, ["a"], strict_keys=True, owner="p", side="output") == SchemaWalk()
        looping = {"$ref": "#"}
        assert walk_schema(looping, ["a"], strict_keys=True, owner="p", side="output") == SchemaWalk()


class TestTypes:
    @pytest.mark.parametrize(
        ("produced", "accepted", "fits"),
        [
            ({"integer"}, {"integer"}, True),
            ({"integer"}, {"number"}, True),
            ({"number"}, {"integer"}, True),
            ({"string"}, {"integer"}, False),
            ({"string", "null"}, {"null"}, True),
            ({"array"}, {"object"}, False),
            (None, {"integer"}, True),
            ({"string"}, None, True),
        ],
    )
    def test_types_fit(self, produced: set[str] | None, accepted: set[str] | None, fits: bool) -> None:
        as_set = None if produced is None else frozenset(produced)
        assert types_fit(as_set, None if accepted is None else frozenset(accepted)) is fits

    def test_schema_types(self) -> None:
        assert schema_types({"type": ["string", "null"]}) == {"string", "null"}
        assert schema_types({"properties": {}}) is None
        assert schema_types(True) is None
        assert schema_types({"enum": [1, "a", None]}) == {"integer", "string", "null"}
