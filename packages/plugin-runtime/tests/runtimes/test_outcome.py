"""How an ending maps to a response or a failure kind, message by message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.runtimes.outcome import (
    Ending,
    Termination,
    classify,
    describe_exit,
    format_bytes,
    masked_tail,
    tail_text,
)

OK = json.dumps({"ok": True, "outputs": {"n": 1}}).encode()
ERROR = json.dumps({"ok": False, "error": {"type": "Busy", "message": "later", "retryable": True}}).encode()


def ending(**fields: Any) -> Ending:
    base: dict[str, Any] = {
        "plugin_ref": "acme/http",
        "stdout": OK,
        "termination": Termination.COMPLETED,
        "exit_code": 0,
        "signal": None,
        "stderr_tail": "",
        "timeout_s": 30.0,
        "killed": "its process group",
        "stdout_limit": 16 << 20,
        "stderr_limit": 1 << 20,
    }
    base.update(fields)
    return Ending(**base)


def test_exit_zero_with_a_success_response_is_success() -> None:
    response, failure = classify(ending())
    assert failure is None and response == {"ok": True, "outputs": {"n": 1}}


@pytest.mark.parametrize(
    ("fields", "kind", "words"),
    [
        ({"termination": Termination.CANCELLED}, FailureKind.CANCELLED, "cancelled; its process group was killed"),
        ({"termination": Termination.TIMED_OUT, "timeout_s": 2.5}, FailureKind.TIMEOUT, "timeout of 2.5 s"),
        ({"oom_limit_bytes": 64 << 20, "exit_code": 137}, FailureKind.CRASHED, "memory limit of 64 MiB"),
        ({"termination": Termination.STDOUT_TOO_LARGE}, FailureKind.PROTOCOL, "more than 16 MiB on stdout"),
        ({"termination": Termination.STDERR_TOO_LARGE}, FailureKind.PROTOCOL, "more than 1 MiB of logs"),
        ({"exit_code": 3, "stdout": b""}, FailureKind.CRASHED, "exited with code 3 without writing a response"),
        ({"exit_code": None, "signal": 11, "stdout": b""}, FailureKind.CRASHED, "killed by SIGSEGV"),
        ({"exit_code": 2, "stdout": b"oops"}, FailureKind.CRASHED, "stdout was not a valid response"),
        ({"exit_code": 3}, FailureKind.CRASHED, "wrote a response but then exited with code 3"),
        ({"stdout": b""}, FailureKind.PROTOCOL, "without writing a response on stdout"),
        ({"stdout": b"[1]"}, FailureKind.PROTOCOL, "must be a JSON object"),
        ({"stdout": OK + b"\n" + OK}, FailureKind.PROTOCOL, "not valid JSON"),
        ({"stdout": b'{"ok": true}'}, FailureKind.PROTOCOL, "'outputs'"),
    ],
)
def test_failures_map_to_their_kind(fields: dict[str, Any], kind: FailureKind, words: str) -> None:
    _, failure = classify(ending(**fields))
    assert failure is not None
    assert failure.kind is kind
    assert words in failure.message


def test_an_error_document_is_an_action_failure_whatever_the_exit_code() -> None:
    for code in (0, 1):
        response, failure = classify(ending(stdout=ERROR, exit_code=code, stderr_tail="trace"))
        assert response is not None and response["ok"] is False
        assert failure is not None and failure.kind is FailureKind.ACTION
        assert (failure.message, failure.error_type, failure.retryable) == ("later", "Busy", True)
        assert failure.stderr_tail == "trace" and failure.exit_code == code


@pytest.mark.parametrize(
    ("tail", "named"),
    [
        ("[FATAL tini (7)] exec node failed: No such file or directory\n", "node was not found"),
        ("/usr/bin/env: 'deno': No such file or directory\n", "deno was not found"),
        ("sh: 1: jq: not found\n", "a program it starts was not found (its stderr says which)"),
    ],
)
def test_exit_127_is_runtime_unavailable_where_the_runtime_says_it_means_not_found(tail: str, named: str) -> None:
    _, failure = classify(ending(exit_code=127, stdout=b"", stderr_tail=tail, not_found_fix="rebuild the image"))

    assert failure is not None and failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert failure.message == f"acme/http could not start: {named} (exit code 127); rebuild the image"
    assert failure.exit_code == 127 and failure.stderr_tail == tail


def test_exit_127_stays_a_crash_without_the_runtimes_word_or_after_a_response() -> None:
    plain = ending(exit_code=127, stdout=b"", stderr_tail="[FATAL tini (7)] exec node failed")
    answered = ending(exit_code=127, stdout=ERROR, not_found_fix="rebuild the image")

    assert classify(plain)[1].kind is FailureKind.CRASHED  # type: ignore[union-attr]
    assert classify(answered)[1].kind is FailureKind.ACTION  # type: ignore[union-attr]


def test_exit_descriptions_name_signals() -> None:
    assert describe_exit(None, 9) == "was killed by SIGKILL (signal 9)"
    assert "SIGKILL" in describe_exit(137, None)
    assert describe_exit(1, None) == "exited with code 1"


def test_sizes_and_tails_read_well() -> None:
    assert format_bytes(64 << 20) == "64 MiB"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(12) == "12 bytes"
    text = "".join(f"line {n}\n" for n in range(2000))
    tail = masked_tail(text, Masker({}), 100)
    assert tail.startswith("…\nline ") and tail.endswith("line 1999\n")
    assert len(tail) <= 101


def test_a_kept_tail_says_where_its_stream_was_cut() -> None:
    assert tail_text(b"whole", cut_start=False) == "whole"
    assert tail_text("é-rest".encode()[1:], cut_start=True) == "…-rest"  # half a character is dropped, not replaced
    assert tail_text(b"stopped", cut_start=False, cut_end=True) == "stopped…"
