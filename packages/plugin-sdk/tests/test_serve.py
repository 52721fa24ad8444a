"""``run()`` as a real process: ``python main.py`` with a request on stdin, one-shot and serve loop.

Every test starts the fixture plugin exactly as the runtime does (see the
``run_raw`` fixture) and checks the raw bytes on stdout: exactly the protocol
lines, whatever the action printed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workflow_plugin_sdk.protocol import (
    EXIT_ACTION_FAILED,
    EXIT_BAD_REQUEST,
    EXIT_OK,
    decode_ready,
    decode_response,
    encode_message,
    make_request,
    parse_log_line,
)
from workflow_plugin_sdk.testing import PluginWorker, serve_plugin

Entrypoint = Callable[[str], Path]
RawRun = Callable[..., subprocess.CompletedProcess[bytes]]


def _request(action: str, inputs: dict[str, Any] | None = None, **options: Any) -> bytes:
    return encode_message(make_request(action, inputs or {}, **options))


def _only_response(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """The one response on stdout; fails if stdout holds anything else."""
    assert done.stdout.count(b"\n") == 1 and done.stdout.endswith(b"\n"), done.stdout
    return dict(decode_response(done.stdout))


def _log_messages(stderr: bytes) -> list[str]:
    records = (parse_log_line(line) for line in stderr.decode().split("\n"))
    return [record["message"] for record in records if record is not None]


def test_one_response_on_stdout_whatever_the_action_writes(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    done = run_raw(fixture_plugin("noisy"), _request("shout", {"text": "hey"}))
    assert _only_response(done) == {"ok": True, "outputs": {"text": "HEY"}}
    assert done.returncode == EXIT_OK
    assert _log_messages(done.stderr) == [
        "printed while the plugin was imported",
        "printed by print()",
        "written to sys.stdout",
        "written to sys.stdout.buffer",
        "written to sys.__stdout__",
        "written to descriptor 1",
        "written by os.system",
        "written by a child process",
        "shouting",
    ]
    assert b'{"level": "info", "message": "shouting", "data": {"length": 3}}' in done.stderr


def test_printed_secrets_are_masked(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    done = run_raw(
        fixture_plugin("noisy"), _request("print-secret", {"token": "hunter22-secret"}, secret_inputs=["token"])
    )
    assert _only_response(done)["ok"] is True
    assert b"hunter22" not in done.stderr
    assert _log_messages(done.stderr)[-2:] == ["the token is ***", "the token is '***'"]


def test_unknown_action_is_a_structured_error(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    done = run_raw(fixture_plugin("noisy"), _request("nope", id=3))
    response = _only_response(done)
    assert response["error"]["type"] == "UnknownAction"
    assert response["id"] == 3
    assert done.returncode == EXIT_ACTION_FAILED


@pytest.mark.parametrize(
    ("action", "error_type"),
    [
        ("crash", "ValueError"),
        ("chained", "RuntimeError"),
        ("refuse", "Busy"),
        ("exit", "SystemExit"),
        ("list", "InvalidOutputs"),
        ("nan", "InvalidOutputs"),
        ("unsendable", "InvalidOutputs"),
        ("broken-message", "UnprintableError"),
    ],
)
def test_failing_actions_answer_in_protocol_with_exit_code_1(
    fixture_plugin: Entrypoint, run_raw: RawRun, action: str, error_type: str
) -> None:
    done = run_raw(fixture_plugin("failing"), _request(action))
    assert b"Traceback" not in done.stdout
    assert _only_response(done)["error"]["type"] == error_type
    assert done.returncode == EXIT_ACTION_FAILED


def test_the_traceback_goes_to_the_log_stream_as_one_record(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    done = run_raw(fixture_plugin("failing"), _request("crash"))
    records = [parse_log_line(line) for line in done.stderr.decode().splitlines()]
    assert len(records) == 1 and records[0] is not None
    assert records[0]["level"] == "error" and records[0]["structured"]
    assert records[0]["message"].startswith("Traceback (most recent call last):")
    assert records[0]["message"].endswith("ValueError: the value 42 is wrong")


MALFORMED = {
    "bad json": (b'{"protocol": 1, "action": ', "request is not valid JSON"),
    "empty stdin": (b"", "request is empty"),
    "not utf-8": (b"\xfe\xff", "request is not valid UTF-8"),
    "array": (b"[]", "request must be a JSON object, got array"),
    "version 2": (
        b'{"protocol": 2, "action": "shout", "inputs": {}}',
        "request uses unsupported protocol version 2; this side speaks version 1 only",
    ),
    "no version": (b'{"action": "shout", "inputs": {}}', "request has no 'protocol' field"),
    "no action": (b'{"protocol": 1, "inputs": {}}', "request field 'action': expected string, got missing"),
    "no inputs": (b'{"protocol": 1, "action": "shout"}', "request field 'inputs': expected object, got missing"),
    "bad secret_inputs": (
        b'{"protocol": 1, "action": "shout", "inputs": {}, "secret_inputs": "token"}',
        "request field 'secret_inputs': expected array, got string",
    ),
}


@pytest.mark.parametrize(("stdin", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_get_a_protocol_error_and_exit_code_2(
    fixture_plugin: Entrypoint, run_raw: RawRun, stdin: bytes, message: str
) -> None:
    done = run_raw(fixture_plugin("noisy"), stdin)
    error = _only_response(done)["error"]
    assert error["type"] == "ProtocolError"
    assert message in error["message"]
    assert done.returncode == EXIT_BAD_REQUEST
    assert b"Traceback" not in done.stdout + done.stderr


def test_serve_loop_answers_in_order_and_survives_bad_lines(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    lines = [
        _request("shout", {"text": "one"}, id=1),
        b"this is not json\n",
        b"\n",
        b'{"protocol": 2, "action": "shout", "inputs": {}, "id": "v2"}\n',
        _request("nope", id=4),
        b'{"protocol": 1, "action": "shout", "inputs": [], "id": 5}\n',
        _request("shout", {"text": "two"}, id="six"),
    ]
    done = run_raw(fixture_plugin("noisy"), b"".join(lines), serve=True)
    assert done.returncode == EXIT_OK
    ready, *answers = done.stdout.decode().splitlines()
    assert decode_ready(ready)["actions"] == ["print-secret", "shout"]
    responses: list[dict[str, Any]] = [dict(decode_response(line)) for line in answers]
    assert [response.get("id") for response in responses] == [1, None, "v2", 4, 5, "six"]
    assert [response["ok"] for response in responses] == [True, False, False, False, False, True]
    assert [response["error"]["type"] for response in responses if not response["ok"]] == [
        "ProtocolError",
        "ProtocolError",
        "UnknownAction",
        "ProtocolError",
    ]
    assert "version 2" in responses[2]["error"]["message"]
    assert responses[5]["outputs"] == {"text": "TWO"}


def test_serve_loop_exits_0_on_eof_without_requests(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    done = run_raw(fixture_plugin("failing"), b"", serve=True)
    assert done.returncode == EXIT_OK
    assert done.stdout.count(b"\n") == 1
    assert decode_ready(done.stdout)["actions"] == sorted(decode_ready(done.stdout)["actions"])


def test_serve_loop_keeps_going_after_failing_actions(fixture_plugin: Entrypoint, run_raw: RawRun) -> None:
    actions = ["crash", "exit", "nan", "nothing"]
    stdin = b"".join(_request(action, id=index) for index, action in enumerate(actions))
    done = run_raw(fixture_plugin("failing"), stdin, serve=True)
    responses = [dict(decode_response(line)) for line in done.stdout.splitlines()[1:]]
    assert [(response["id"], response["ok"]) for response in responses] == [
        (0, False),
        (1, False),
        (2, False),
        (3, True),
    ]
    assert done.returncode == EXIT_OK


# Secrets through a real process: every style, in one warm worker, with hypothesis.

_characters = st.characters(exclude_categories=["Cs"])
secret_values = st.text(st.one_of(_characters, st.sampled_from(["'", '"', "\\", "\n", "*", "é"])), min_size=4)


def _spellings(secret: str) -> set[str]:
    quoted = (repr(secret), ascii(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False))
    return {secret, *(text[1:-1] for text in quoted)}


def _shown(worker: PluginWorker, style: str, secret: str) -> list[str]:
    """What one call lets anyone read: the raw response line, the raw log text and its decoded records."""
    result = worker.call("leak", {"style": style, "token": secret}, secret_inputs=["token"])
    texts = [json.dumps(result.response, ensure_ascii=False), result.stderr, json.dumps(result.response)]
    if result.error is not None:
        texts += [result.error["message"], result.error["type"]]
    for record in result.logs:
        texts += [record["message"], json.dumps(record.get("data"), ensure_ascii=False)]
    return texts


def test_secrets_never_leave_a_real_plugin_process(fixture_plugin: Entrypoint) -> None:
    with serve_plugin(fixture_plugin("secrets")) as worker:
        styles = worker.call("styles").outputs
        all_styles = styles["logging"] + styles["printing"]
        for style in all_styles:
            shown = _shown(worker, style, "hunter22-secret")
            assert any("***" in text for text in shown), f"style {style} showed nothing"
            assert not any("hunter22" in text for text in shown), style

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(secret=secret_values, style=st.sampled_from(all_styles))
        def no_spelling_of_the_secret_is_shown(secret: str, style: str) -> None:
            spellings = _spellings(secret)
            baseline = _shown(worker, style, "QQQQ-placeholder")
            assume(not any(spelling in text for text in baseline for spelling in spellings))
            shown = _shown(worker, style, secret)
            assert not [text for text in shown if any(spelling in text for spelling in spellings)]

        no_spelling_of_the_secret_is_shown()
    assert worker.returncode == EXIT_OK
