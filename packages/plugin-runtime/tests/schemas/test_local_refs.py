"""Local ``$ref`` pointers, read as RFC 6901 reads them (the manifest checks and typed wiring share this)."""

from __future__ import annotations

import pytest

from workflow_plugin_runtime.schemas.local_refs import local_ref_target

SCHEMA = {
    "definitions": {"url": {"type": "string"}, "a/b": 1, "m~n": 2, "": {"x": 3}},
    "items": [{"type": "integer"}, {"type": "boolean"}],
}


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        ("#", SCHEMA),
        ("#/definitions/url", {"type": "string"}),
        ("#/definitions/a~1b", 1),
        ("#/definitions/m~0n", 2),
        ("#/definitions//x", 3),
        ("#/items/1", {"type": "boolean"}),
    ],
)
def test_a_pointer_leads_to_its_target(ref: str, target: object) -> None:
    assert local_ref_target(SCHEMA, ref) == target


@pytest.mark.parametrize(
    "ref",
    ["#definitions/url", "#/definitions/nope", "#/items/2", "#/items/x", "#/items/\u00b2", "other.json#/a", "#/a/b/c"],
)
def test_a_pointer_to_nowhere_is_a_lookup_error(ref: str) -> None:
    with pytest.raises(LookupError):
        local_ref_target(SCHEMA, ref)
