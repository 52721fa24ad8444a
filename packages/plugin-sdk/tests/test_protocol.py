"""Wire protocol v1: encoding round trips, every validation error, the log stream, another language."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow_plugin_sdk.protocol import (
    EXIT_ACTION_FAILED,
    EXIT_BAD_REQUEST,
    EXIT_OK,
    PROTOCOL_VERSION,
    ProtocolError,
    decode_ready,
    decode_request,
    decode_response,
    encode_message,
    error_response,
    make_request,
    parse_log_line,
    ready_message,
    success_response,
)
from workflow_plugin_sdk.testing import run_plugin, serve_plugin

SHELL_PLUGIN = Path(__file__).parents[3] / "examples" / "protocol" / "greeter-sh"  # the plugin docs/protocol.md shows
PROTOCOL_DOC = Path(__file__).parents[3] / "docs" / "protocol.md"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=5)
action_names = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
ids = st.none() | st.integers() | st.text()
contexts = st.fixed_dictionaries(
    {}, optional={key: st.text() for key in ("run_id", "workflow", "task", "workflow_dir")}
)


def _one_line(data: bytes) -> bool:
    return data.endswith(b"\n") and data.count(b"\n") == 1


@given(action_names, json_objects, st.lists(st.text(), max_size=3), contexts, ids)
def test_requests_round_trip(
    action: str, inputs: dict[str, Any], secrets: list[str], context: dict[str, str], request_id: int | str | None
) -> None:
    request = make_request(action, inputs, secret_inputs=secrets, context=context, id=request_id)  # type: ignore[arg-type]
    data = encode_message(request)
    assert _one_line(data)
    assert decode_request(data) == request
    assert decode_request(data.decode("utf-8")) == request


@given(json_objects, ids)
def test_success_responses_round_trip(outputs: dict[str, Any], response_id: int | str | None) -> None:
    response = success_response(outputs, id=response_id)
    data = encode_message(response)
    assert _one_line(data)
    assert decode_response(data) == response


@given(st.text(), st.text(), st.booleans(), ids)
def test_error_responses_round_trip(kind: str, message: str, retryable: bool, response_id: int | str | None) -> None:
    response = error_response(kind, message, retryable=retryable, id=response_id)
    data = encode_message(response)
    assert _one_line(data)
    assert decode_response(data) == response


@given(st.lists(action_names, unique=True))
def test_ready_lines_round_trip(actions: list[str]) -> None:
    data = encode_message(ready_message(actions))
    assert _one_line(data)
    assert decode_ready(data) == {"protocol": PROTOCOL_VERSION, "ready": True, "actions": sorted(actions)}


def test_text_utf8_cannot_carry_is_sent_as_json_escapes() -> None:
    """A lone surrogate (what the JSON escape \\ud800 decodes to) must not crash the encoder.

    A request may hold one when the operator's own input did (an environment
    variable with bytes that are not UTF-8): it reaches the plugin unchanged.
    """
    data = encode_message(make_request("go", {"text": "a\udcffb", "plain": "é"}))
    assert b"\\udcff" in data
    assert decode_request(data)["inputs"] == {"text": "a\udcffb", "plain": "é"}


DEEP_OK = "[" * 98 + "]" * 98  # outputs.a's innermost list sits at depth 99 of the response
DEEP_REFUSED = "[" * 99 + "]" * 99


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (r'{"ok": true, "outputs": {"a": "x\ud800y"}}', r"field 'outputs.a': holds a lone surrogate (\ud800)"),
        (r'{"ok": true, "outputs": {"f": ["ok", "\udcff"]}}', r"field 'outputs.f[1]': holds a lone surrogate (\udcff)"),
        (r'{"ok": true, "outputs": {"k\udc00": 1}}', r"""field 'outputs["k\udc00"]': the key holds a lone surrogate"""),
        (
            r'{"ok": false, "error": {"type": "E", "message": "\ud800"}}',
            "field 'error.message': holds a lone surrogate",
        ),
        (r'{"ok": false, "error": {"type": "\udfff", "message": "m"}}', "field 'error.type': holds a lone surrogate"),
        ('{"ok": true, "outputs": {"n": 1e400}}', "not valid JSON: 1e400 is out of range for a JSON number"),
        ('{"ok": true, "outputs": {"n": -1e400}}', "not valid JSON: -1e400 is out of range for a JSON number"),
        ('{"ok": true, "outputs": {"n": 1' + "0" * 309 + ".5}}", "out of range for a JSON number"),
        ('{"ok": true, "outputs": {"n": ' + "7" * 4301 + "}}", "holds an integer longer than 4300 digits"),
        ('{"ok": true, "outputs": {"a": ' + DEEP_REFUSED + "}}", "nests more than 100 levels deep"),
    ],
)
def test_responses_no_reader_could_carry_are_protocol_errors_naming_the_field(raw: str, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_response(raw.encode())
    assert words in str(caught.value)
    assert str(caught.value).startswith("response ")


PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # the keys a field path shows unquoted


@given(
    st.one_of(
        st.sampled_from(["a", "_", "_x9", "a-b", "-a", "9a", "", "a b", "é", "a.b", "x" * 41]),
        st.text(st.characters(blacklist_categories=["Cs"])),
    )
)
def test_a_field_path_shows_a_name_plainly_and_quotes_any_other_key(key: str) -> None:
    raw = json.dumps({"ok": True, "outputs": {key: "\ud800"}})  # ASCII: the lone surrogate as its escape
    with pytest.raises(ProtocolError) as caught:
        decode_response(raw.encode())
    plain = PLAIN_KEY.fullmatch(key) is not None and len(key) <= 40
    shown = key if len(key) <= 40 else key[:40] + "..."
    path = f"outputs.{key}" if plain else f"outputs[{json.dumps(shown)}]"
    if len(path) > 120:
        path = path[:120] + "..."
    assert f"field '{path}': holds a lone surrogate" in str(caught.value)


def test_valid_pairs_non_ascii_text_and_nesting_within_the_limit_are_accepted() -> None:
    raw = r'{"ok": true, "outputs": {"emoji": "\ud83d\ude00", "é": "ü", "a": ' + DEEP_OK + "}}"
    assert decode_response(raw.encode())["outputs"]["emoji"] == "😀"  # type: ignore[typeddict-item]


def test_many_brackets_without_depth_are_accepted_and_raw_surrogates_in_str_input_are_refused() -> None:
    wide = json.dumps({"ok": True, "outputs": {"rows": [[i, {"k": [i]}] for i in range(300)], "t": "[[[[{{{{"}})
    assert len(decode_response(wide)["outputs"]["rows"]) == 300  # type: ignore[typeddict-item]
    with pytest.raises(ProtocolError, match=r"field 'outputs.a': holds a lone surrogate \(\\ud800\)"):
        decode_response('{"ok": true, "outputs": {"a": "x\ud800"}}')  # a str, not bytes: the surrogate is raw


def test_ready_lines_no_reader_could_carry_are_refused() -> None:
    with pytest.raises(ProtocolError, match=r"ready line field 'actions\[0\]': holds a lone surrogate"):
        decode_ready(rb'{"protocol": 1, "ready": true, "actions": ["\ud800"]}')


# st.text() never yields lone surrogates (what the escape \\ud800 decodes to); this does, often.
_any_text = st.lists(st.characters() | st.integers(0xD800, 0xDFFF).map(chr), max_size=6).map("".join)
_wild_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_any_text, children, max_size=3),
    max_leaves=10,
)


@given(_wild_values)
def test_whatever_a_response_decodes_to_can_be_written_as_utf8_json(value: Any) -> None:
    """Anything a plugin can send either fails as protocol or survives a strict UTF-8 JSON writer."""
    raw = json.dumps({"ok": True, "outputs": {"v": value}})  # ASCII: every surrogate as its escape
    try:
        response = decode_response(raw.encode())
    except ProtocolError:
        return
    json.dumps(response, ensure_ascii=False, allow_nan=False).encode("utf-8")


def test_unserialisable_messages_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not JSON-serialisable"):
        encode_message(success_response({"handle": object()}))
    with pytest.raises(ProtocolError, match="not JSON-serialisable"):
        encode_message(success_response({"ratio": float("nan")}))


def test_missing_optional_request_fields_get_defaults_and_unknown_fields_pass() -> None:
    request = decode_request(b'{"protocol": 1, "action": "go", "inputs": {}, "future_field": true}')
    assert request["secret_inputs"] == []
    assert request["context"] == {}
    assert "id" not in request
    assert decode_response(b'{"ok": false, "error": {"type": "E", "message": "m"}}')["error"] == {  # type: ignore[typeddict-item]
        "type": "E",
        "message": "m",
        "retryable": False,
    }
    assert decode_ready(b'{"protocol": 1, "ready": true}')["actions"] == []


VALID = {"protocol": 1, "action": "go", "inputs": {}, "secret_inputs": [], "context": {}}


def _with(**changes: Any) -> bytes:
    message = {**VALID, **changes}
    return json.dumps({key: value for key, value in message.items() if value is not ...}).encode()


BAD_REQUESTS = {
    "empty": (b"", "request is empty; expected one JSON object"),
    "blank": (b" \n\t", "request is empty"),
    "not utf-8": (b'{"action": "\xff"}', "request is not valid UTF-8: invalid start byte at byte 12"),
    "bad json": (b'{"protocol": 1,', "request is not valid JSON: Expecting property name enclosed in double quotes"),
    "two documents": (_with() + _with(), "request is not valid JSON: Extra data at line 1"),
    "nan": (b'{"protocol": 1, "action": "go", "inputs": {"x": NaN}}', "request is not valid JSON: NaN is not"),
    "too deep": (b"[" * 100_000 + b"]" * 100_000, "request nests too deeply"),
    "array": (b"[1, 2]", "request must be a JSON object, got array"),
    "string": (b'"go"', "request must be a JSON object, got string"),
    "no version": (_with(protocol=...), "request has no 'protocol' field; this side speaks protocol version 1"),
    "version 2": (_with(protocol=2), "request uses unsupported protocol version 2; this side speaks version 1 only"),
    "version 0": (_with(protocol=0), "unsupported protocol version 0"),
    "version string": (_with(protocol="1"), 'unsupported protocol version "1"'),
    "version float": (_with(protocol=1.0), "unsupported protocol version 1.0"),
    "version true": (_with(protocol=True), "unsupported protocol version true"),
    "no action": (_with(action=...), "request field 'action': expected string, got missing"),
    "action number": (_with(action=3), "request field 'action': expected string, got integer"),
    "action empty": (_with(action=""), "request field 'action': expected a non-empty string"),
    "no inputs": (_with(inputs=...), "request field 'inputs': expected object, got missing"),
    "inputs array": (_with(inputs=[]), "request field 'inputs': expected object, got array"),
    "secret_inputs string": (
        _with(secret_inputs="token"),
        "request field 'secret_inputs': expected array, got string",
    ),
    "secret_inputs numbers": (_with(secret_inputs=["a", 1]), "request field 'secret_inputs'[1]: expected string"),
    "context array": (_with(context=[]), "request field 'context': expected object, got array"),
    "context run_id": (_with(context={"run_id": 7}), "request context field 'run_id': expected string, got integer"),
    "id array": (_with(id=[1]), "request field 'id': expected string or integer, got array"),
    "id boolean": (_with(id=True), "request field 'id': expected string or integer, got boolean"),
    "id float": (_with(id=1.5), "request field 'id': expected string or integer, got number"),
}


@pytest.mark.parametrize(("data", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_requests_raise_protocol_error_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    assert message in str(caught.value)


def test_the_version_message_says_what_to_do() -> None:
    with pytest.raises(ProtocolError, match="Upgrade the older of the SDK and the runtime"):
        decode_request(_with(protocol=2))


def test_make_request_checks_what_it_builds() -> None:
    with pytest.raises(ProtocolError, match="non-empty string"):
        make_request("", {})
    context = {"run_id": "r1"}
    request = make_request("go", {}, context=context)  # type: ignore[arg-type]
    request["context"]["task"] = "t"
    assert context == {"run_id": "r1"}, "make_request must not share the caller's context"


BAD_RESPONSES = {
    "no ok": (b'{"outputs": {}}', "response field 'ok': expected boolean, got missing"),
    "ok string": (b'{"ok": "yes", "outputs": {}}', "response field 'ok': expected boolean, got string"),
    "no outputs": (b'{"ok": true}', "response field 'outputs': expected object, got missing"),
    "outputs array": (b'{"ok": true, "outputs": [1]}', "response field 'outputs': expected object, got array"),
    "no error": (b'{"ok": false}', "response field 'error': expected object, got missing"),
    "no error type": (b'{"ok": false, "error": {"message": "m"}}', "response error field 'type': expected string"),
    "message number": (
        b'{"ok": false, "error": {"type": "E", "message": 1}}',
        "response error field 'message': expected string, got integer",
    ),
    "retryable string": (
        b'{"ok": false, "error": {"type": "E", "message": "m", "retryable": "no"}}',
        "response error field 'retryable': expected boolean, got string",
    ),
    "id object": (b'{"ok": true, "outputs": {}, "id": {}}', "response field 'id': expected string or integer"),
    "not json": (b"Traceback (most recent call last):", "response is not valid JSON"),
    "empty": (b"", "response is empty"),
}


@pytest.mark.parametrize(("data", "message"), BAD_RESPONSES.values(), ids=BAD_RESPONSES.keys())
def test_bad_responses_raise_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_response(data)
    assert message in str(caught.value)


BAD_READY_LINES = {
    "version": (b'{"protocol": 2, "ready": true}', "ready line uses unsupported protocol version 2"),
    "not ready": (b'{"protocol": 1, "ready": false}', "ready line field 'ready': expected true"),
    "a response": (b'{"ok": true, "outputs": {}}', "ready line has no 'protocol' field"),
    "actions string": (b'{"protocol": 1, "ready": true, "actions": "go"}', "field 'actions': expected array"),
    "actions numbers": (b'{"protocol": 1, "ready": true, "actions": [1]}', "field 'actions'[0]: expected string"),
}


@pytest.mark.parametrize(("data", "message"), BAD_READY_LINES.values(), ids=BAD_READY_LINES.keys())
def test_bad_ready_lines_raise_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_ready(data)
    assert message in str(caught.value)


def test_exit_codes_are_the_documented_ones() -> None:
    assert (EXIT_OK, EXIT_ACTION_FAILED, EXIT_BAD_REQUEST) == (0, 1, 2)
    table = PROTOCOL_DOC.read_text(encoding="utf-8")
    for code, meaning in ((EXIT_OK, "success"), (EXIT_ACTION_FAILED, "failed"), (EXIT_BAD_REQUEST, "ProtocolError")):
        assert re.search(rf"^\| `{code}` \|.*{meaning}", table, re.MULTILINE), f"exit code {code} is not documented"


LOG_LINES = {
    "structured": ('{"level": "warning", "message": "disk low", "data": {"free": 3}}\n', "warning", "disk low", True),
    "unknown level": ('{"level": "loud", "message": "m"}', "info", "m", True),
    "level not a string": ('{"level": ["error"], "message": "m"}', "info", "m", True),
    "no level": ('{"message": "m"}', "info", "m", True),
    "message not a string": ('{"level": "error", "message": 5}', "info", '{"level": "error", "message": 5}', False),
    "plain text": ("plain text\r\n", "info", "plain text", False),
    "broken json": ('{"level": "error", "mess', "info", '{"level": "error", "mess', False),
    "json array": ('["m"]', "info", '["m"]', False),
    "indented record": ('  {"level": "debug", "message": "m"}', "debug", "m", True),
}


@pytest.mark.parametrize(("line", "level", "message", "structured"), LOG_LINES.values(), ids=LOG_LINES.keys())
def test_parse_log_line(line: str, level: str, message: str, structured: bool) -> None:
    record = parse_log_line(line)
    assert record is not None
    assert (record["level"], record["message"], record["structured"]) == (level, message, structured)


def test_parse_log_line_keeps_object_data_only() -> None:
    assert parse_log_line('{"message": "m", "data": {"k": [1]}}') == {
        "level": "info",
        "message": "m",
        "structured": True,
        "data": {"k": [1]},
    }
    assert "data" not in (parse_log_line('{"message": "m", "data": [1]}') or {})


@pytest.mark.parametrize(
    "line",
    [
        r'{"level": "error", "message": "x\ud800y"}',
        r'{"message": "m", "data": {"k": "\udcff"}}',
        r'{"message": "m", "data": {"n": 1e400}}',
        '{"message": "m", "data": {"a": ' + DEEP_REFUSED + "}}",
    ],
)
def test_a_structured_log_line_no_reader_could_carry_is_shown_as_its_plain_text(line: str) -> None:
    assert parse_log_line(line) == {"level": "info", "message": line, "structured": False}


@pytest.mark.parametrize("line", ["", "\n", "   \r\n"])
def test_blank_log_lines_are_skipped(line: str) -> None:
    assert parse_log_line(line) is None


@given(st.text())
def test_parse_log_line_never_raises(line: str) -> None:
    record = parse_log_line(line)
    assert record is None or record["level"] in ("debug", "info", "warning", "error")


@given(st.sampled_from(["debug", "info", "warning", "error"]), st.text(min_size=1), json_objects)
def test_structured_records_round_trip(level: str, message: str, data: dict[str, Any]) -> None:
    line = json.dumps({"level": level, "message": message, "data": data}, ensure_ascii=False)
    assert parse_log_line(line) == {"level": level, "message": message, "data": data, "structured": True}


# A plugin in another language: the POSIX sh example of docs/protocol.md.


def test_the_protocol_doc_shows_the_tested_sh_plugin() -> None:
    doc = PROTOCOL_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(#!/bin/sh\n.*?)```", doc, re.DOTALL)
    assert blocks, "docs/protocol.md has no ```sh block starting with #!/bin/sh"
    assert blocks[0] == (SHELL_PLUGIN / "main.sh").read_text(encoding="utf-8")


def test_sh_plugin_answers_one_shot() -> None:
    result = run_plugin(["sh", "main.sh"], "greet", {"name": "ada"}, cwd=SHELL_PLUGIN)
    assert result.returncode == EXIT_OK
    assert result.outputs == {"greeting": "hello, ada"}
    assert result.logs == [{"level": "info", "message": "greeting ada", "structured": True}]


def test_sh_plugin_fails_unknown_actions_in_protocol() -> None:
    result = run_plugin(["sh", "main.sh"], "wave", cwd=SHELL_PLUGIN)
    assert result.returncode == EXIT_ACTION_FAILED
    assert result.error == {
        "type": "UnknownAction",
        "message": "unknown action 'wave'; this plugin defines: greet",
        "retryable": False,
    }


def test_sh_plugin_rejects_another_protocol_version() -> None:
    done = subprocess.run(
        ["sh", "main.sh"], input=_with(protocol=2), capture_output=True, cwd=SHELL_PLUGIN, check=False, timeout=30
    )
    assert done.returncode == EXIT_BAD_REQUEST
    assert decode_response(done.stdout)["error"]["type"] == "ProtocolError"  # type: ignore[typeddict-item]


def test_sh_plugin_speaks_the_serve_loop() -> None:
    with serve_plugin(["sh", "main.sh"], cwd=SHELL_PLUGIN) as worker:
        assert worker.actions == ["greet"]
        first = worker.call("greet", {"name": "bo"})
        second = worker.call("greet")
        assert first.outputs == {"greeting": "hello, bo"}
        assert (first.response.get("id"), second.response.get("id")) == (1, 2)
        assert second.logs[0]["message"] == "greeting world"
    assert worker.returncode == 0
