from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime._util.yaml_document import Position, format_field_path
from workflow_plugin_runtime._util.yamlfile import YamlLimits, load_yaml_bytes, load_yaml_file
from workflow_plugin_runtime.errors import ConfigError, ManifestError, WorkflowFileError


def write(tmp_path: Path, content: str | bytes, name: str = "plugin.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def fail(tmp_path: Path, content: str | bytes, **options: object) -> ManifestError:
    path = write(tmp_path, content)
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path, error=ManifestError, **options)  # type: ignore[arg-type]
    return caught.value


def test_values_and_positions_of_values_and_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "namespace: acme\nactions:\n  get:\n    timeout: ten\n    examples:\n      - inputs: {url: x}\n",
    )
    document = load_yaml_file(path, error=ManifestError)
    assert document.data == {
        "namespace": "acme",
        "actions": {"get": {"timeout": "ten", "examples": [{"inputs": {"url": "x"}}]}},
    }
    assert document.position(("actions", "get", "timeout")) == Position(4, 14)
    assert document.position(("actions", "get", "timeout"), key=True) == Position(4, 5)
    assert document.position(("actions", "get", "examples", 0, "inputs", "url")) == Position(6, 23)
    location = document.location(("actions", "get", "timeout"))
    assert str(location) == f"{path}:4:14: actions.get.timeout"


def test_missing_path_falls_back_to_nearest_ancestor(tmp_path: Path) -> None:
    document = load_yaml_file(write(tmp_path, "runtime:\n  timeout: 3\n"), error=ManifestError)
    assert document.position(("runtime", "entrypoint"), key=True) == Position(1, 1)
    assert document.position(("runtime", "entrypoint")) == Position(2, 3)


def test_keys_stay_text_and_timestamps_stay_strings(tmp_path: Path) -> None:
    document = load_yaml_file(write(tmp_path, "on: yes\n1: 2024-01-02\nnull: ~\nx: 0x1F\n"), error=ManifestError)
    assert document.data == {"on": True, "1": "2024-01-02", "null": None, "x": 31}


def test_merge_keys_are_expanded_with_explicit_keys_winning(tmp_path: Path) -> None:
    document = load_yaml_file(
        write(tmp_path, "base: &b {size: 1, idle: 2}\npool:\n  <<: *b\n  size: 3\n"), error=ManifestError
    )
    assert document.data["pool"] == {"size": 3, "idle": 2}
    assert document.position(("pool", "size")) == Position(4, 9)


def test_format_field_path() -> None:
    assert format_field_path(("actions", "get", "examples", 0, "inputs")) == "actions.get.examples[0].inputs"
    assert format_field_path(("env", "my key", 2)) == 'env["my key"][2]'
    assert format_field_path(()) == ""
    assert format_field_path(("a", "", "b$-_9", "a.b", "é", "x\n")) == 'a[""].b$-_9["a.b"]["\\u00e9"]["x\\n"]'


@given(st.text())
def test_a_key_is_written_bare_exactly_when_it_is_ascii_letters_digits_and_underscore_dollar_hyphen(key: str) -> None:
    bare = re.fullmatch(r"[A-Za-z0-9_$-]+", key) is not None
    assert format_field_path(("first", key)) == (f"first.{key}" if bare else f"first[{json.dumps(key)}]")


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    error = fail(tmp_path, "namespace: acme\nactions: [get,\n")
    assert error.location is not None
    assert error.location.file == tmp_path / "plugin.yaml"
    assert (error.location.line, error.location.column) == (3, 1)
    assert "invalid YAML" in error.message


def test_bad_indentation_is_located(tmp_path: Path) -> None:
    error = fail(tmp_path, "runtime:\n  entrypoint: main.py\n timeout: 3\n")
    assert error.location is not None and error.location.line == 3


@pytest.mark.parametrize(
    ("content", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a integer"), ("~\n", "nothing (null)")],
)
def test_document_must_be_a_mapping(tmp_path: Path, content: str, found: str) -> None:
    error = fail(tmp_path, content)
    assert error.message == f"expected a mapping of keys at the top level, found {found}"
    assert error.location is not None and (error.location.line, error.location.column) == (1, 1)


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    error = fail(tmp_path, "actions:\n  get: {}\n  put: {}\n  get: {}\n")
    assert error.message == "duplicate key 'get' (first defined on line 2, again on line 4)"
    assert error.location is not None
    assert (error.location.line, error.location.column, error.location.field) == (4, 3, "actions.get")


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous, current = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{current}: &{current} [{', '.join(['*' + previous] * 10)}]")
    error = fail(tmp_path, "\n".join(lines) + "\n")
    assert "aliases expand to more than 10000 values" in error.message
    assert error.hint is not None and "alias bomb" in error.hint


def test_alias_budget_is_configurable(tmp_path: Path) -> None:
    content = "base: &b {a: 1, b: 2}\nx: *b\ny: *b\n"
    assert load_yaml_file(write(tmp_path, content), error=ManifestError).data["y"] == {"a": 1, "b": 2}
    error = fail(tmp_path, content, limits=YamlLimits(max_alias_nodes=4))
    assert "more than 4 values" in error.message


def test_recursive_alias_is_an_error(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: &a [1, *a]\n")
    assert "refers to itself" in error.message
    assert error.location is not None and error.location.field == "a[1]"


def test_deep_nesting_is_bounded(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: " + "[" * 150 + "]" * 150 + "\n")
    assert "nesting is deeper than 100 levels" in error.message


def test_too_large_file_is_refused_before_parsing(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: " + "x" * 5000 + "\n", limits=YamlLimits(max_bytes=1000))
    assert error.message == "the file is too large (5004 bytes; the limit is 1000)"


def test_default_size_cap_is_one_mebibyte(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: |\n" + ("  " + "x" * 1000 + "\n") * 1100)
    assert "limit is 1048576" in error.message


def test_special_file_is_read_with_a_cap(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not a regular file"):
        load_yaml_file(Path("/dev/zero"), error=ManifestError)


def test_binary_file_names_the_nul_offset(tmp_path: Path) -> None:
    error = fail(tmp_path, b"a: 1\nb: \x00\x01\x02\n")
    assert error.message == "the file looks binary: it contains a NUL byte at offset 8"
    assert error.location is not None and (error.location.line, error.location.column) == (2, 4)


def test_invalid_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    error = fail(tmp_path, "name: caf\u00e9\nversion: \xff\n".encode("latin-1"))
    assert error.message == "not valid UTF-8: byte 0xe9 at offset 9"
    assert error.location is not None and (error.location.line, error.location.column) == (1, 10)


def test_utf16_is_named(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: 1\n".encode("utf-16"))
    assert "UTF-16" in error.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    document = load_yaml_file(write(tmp_path, b"\xef\xbb\xbfa: 1\n"), error=ManifestError)
    assert document.data == {"a": 1}


def test_control_character_is_located(tmp_path: Path) -> None:
    error = fail(tmp_path, "name: caf\u00e9\nx: \x07\n")
    assert error.location is not None and (error.location.line, error.location.column) == (2, 4)
    assert "#x0007" in error.message


@pytest.mark.parametrize("content", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    assert fail(tmp_path, content).message == "the file is empty"
    document = load_yaml_file(write(tmp_path, content), error=ManifestError, allow_empty=True)
    assert document.data == {}


def test_several_documents_are_refused(tmp_path: Path) -> None:
    error = fail(tmp_path, "a: 1\n---\nb: 2\n")
    assert "more than one YAML document" in error.message
    assert error.location is not None and error.location.line == 2


@pytest.mark.parametrize("content", ["a: !!python/object:os.system x\n", "a: !!binary aGk=\n", "a: !!set {x}\n"])
def test_unsafe_or_non_json_tags_are_refused(tmp_path: Path, content: str) -> None:
    error = fail(tmp_path, content)
    assert error.message.startswith("unsupported YAML tag !!")
    assert error.location is not None and error.location.field == "a"


@pytest.mark.parametrize("number", ["9" * 4301, "-" + "1" * 5000, "0x" + "f" * 4000, "0" + "7" * 5000])
def test_an_integer_too_long_to_print_is_a_located_error(tmp_path: Path, number: str) -> None:
    """CPython refuses str() past 4300 digits: every later writer (JSON, messages) would fail on it."""
    error = fail(tmp_path, f"name: x\nruntime:\n  timeout: {number}\n")
    assert error.message == "the integer is longer than 4300 digits"
    assert error.location is not None
    assert (error.location.line, error.location.column, error.location.field) == (3, 12, "runtime.timeout")
    assert error.hint == "quote it to make it a string, or use a smaller number"


def test_long_but_printable_integers_load(tmp_path: Path) -> None:
    document = load_yaml_file(write(tmp_path, f"a: {'9' * 4300}\nb: 0x{'f' * 100}\nc: 1:20\n"), error=ManifestError)
    assert document.data == {"a": int("9" * 4300), "b": int("f" * 100, 16), "c": 80}


@pytest.mark.parametrize("number", [".nan", ".NaN", ".inf", "-.Inf", "+.inf", "1.0e+400", "-2.5e+999"])
def test_numbers_json_cannot_hold_are_located_errors(tmp_path: Path, number: str) -> None:
    error = fail(tmp_path, f"actions:\n  get:\n    timeout: {number}\n")
    assert error.message.startswith(f"{number} is not a finite number")
    assert error.location is not None
    assert (error.location.line, error.location.field) == (3, "actions.get.timeout")
    assert error.hint == "write a finite number, or quote the value to make it a string"


def test_complex_keys_are_refused(tmp_path: Path) -> None:
    assert "keys must be plain strings" in fail(tmp_path, "? [a, b]\n: 1\n").message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml_file(tmp_path / "nope.yaml", error=ConfigError)
    with pytest.raises(WorkflowFileError, match="is a directory"):
        load_yaml_file(tmp_path, error=WorkflowFileError)


def test_the_callers_error_class_is_raised() -> None:
    for error_class in (ManifestError, ConfigError, WorkflowFileError):
        with pytest.raises(error_class):
            load_yaml_bytes(b"a: [", error=error_class)


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#?,.<%@`~ \n\t0\x00\x07\u00e9\ufeff")), max_size=80)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
def test_yaml_like_text_never_raises_foreign_errors(text: str) -> None:
    try:
        document = load_yaml_bytes(text.encode("utf-8"), error=WorkflowFileError)
    except WorkflowFileError as exc:
        assert exc.location is not None
        return
    assert isinstance(document.data, dict)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_never_raise_foreign_errors(raw: bytes) -> None:
    with contextlib.suppress(ConfigError):
        load_yaml_bytes(raw, error=ConfigError)


# YAML forbids raw C0/C1 controls and reads U+2028/U+2029 as line breaks; JSON escapes neither for us.
YAML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"), max_size=8
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | YAML_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(YAML_TEXT.filter(bool), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_json_data_round_trips_through_yaml(value: object) -> None:
    text = json.dumps({"root": value}, ensure_ascii=False)
    document = load_yaml_bytes(text, error=ManifestError)
    assert document.data == {"root": value}
