"""Control characters made visible, and JSON documents with none left raw."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from workflow_plugin_runtime._util.control_chars import escape_controls_in_json, neutralise_controls

CONTROLS = [chr(code) for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in "\n\t"]


def is_raw_control(char: str) -> bool:
    return char in CONTROLS


def test_every_c0_c1_and_del_becomes_a_visible_escape_but_newline_and_tab() -> None:
    for char in CONTROLS:
        assert neutralise_controls(f"a{char}b") == f"a\\x{ord(char):02x}b"
    assert neutralise_controls("line\n\tindented") == "line\n\tindented"
    assert neutralise_controls("\x1b]52;c;cHduZWQ=\x07") == "\\x1b]52;c;cHduZWQ=\\x07"
    assert neutralise_controls("plain, é, 中文, \u00a0, \u2028") == "plain, é, 中文, \u00a0, \u2028"


@given(st.text())
def test_neutralised_text_has_no_control_left_and_is_stable(text: str) -> None:
    shown = neutralise_controls(text)
    assert not any(is_raw_control(char) for char in shown)
    assert neutralise_controls(shown) == shown


JSON_VALUES = st.recursive(
    st.text() | st.integers() | st.none(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
)


@given(JSON_VALUES)
def test_json_documents_read_back_the_same_with_no_raw_control(value: object) -> None:
    document = escape_controls_in_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(document) == value
    assert not any(is_raw_control(char) for char in document)


BIDI = [chr(code) for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def test_exactly_the_controls_and_bidi_characters_change_whichever_way_a_text_is_settled() -> None:
    """Every code point alone (most settled without the pattern: a printable text has none), then all in one text."""
    everything = [chr(code) for code in range(0x110000)]
    changed = {char: neutralise_controls(char) for char in everything if neutralise_controls(char) != char}
    assert changed == {
        **{char: f"\\x{ord(char):02x}" for char in CONTROLS},
        **{char: f"\\u{ord(char):04x}" for char in BIDI},
    }
    assert neutralise_controls("".join(everything)) == "".join(changed.get(char, char) for char in everything)
    in_json = {char: escape_controls_in_json(char) for char in everything if escape_controls_in_json(char) != char}
    assert in_json == {char: f"\\u{ord(char):04x}" for char in [*CONTROLS, *BIDI] if ord(char) >= 0x7F}
    assert escape_controls_in_json("".join(everything)) == "".join(in_json.get(char, char) for char in everything)
