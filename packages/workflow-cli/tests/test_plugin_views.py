"""commands/plugin_views.py: the ``--json`` documents are exactly what json writes, escaped for terminals."""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.commands.plugin_views import json_ready
from workflow_plugin_runtime import escape_controls_in_json


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def json_text(document: Any) -> str:
    return escape_controls_in_json(json.dumps(document, indent=2, ensure_ascii=False))


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # nan and infinities included: json writes them its own way
    st.text(),
    st.sampled_from([Colour.RED, Level.HIGH, "\x1b[31m", "\u202e", "\x7f", "\x9b", '"\\/', "\ud800"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from([Colour.RED, "\x1b"])), inner, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS)
def test_every_document_is_written_as_json_writes_it(document):
    assert json_ready(document) == json_text(document)


@pytest.mark.parametrize(
    "document",
    [
        {7: "int key", None: "none key", 2.5: "float key", False: "bool key"},  # json turns them into strings
        {"nested": [{"x": math.inf}, {"y": -math.inf}, {"z": math.nan}]},
        [[], {}, [[]], [{}], ""],
    ],
)
def test_keys_and_numbers_only_json_spells_are_left_to_json(document):
    assert json_ready(document) == json_text(document)


def test_what_json_refuses_is_still_refused():
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_ready({"when": object()})
