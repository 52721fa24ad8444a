"""The bounded collectors on their own: line splitting and limits, byte by byte."""

from __future__ import annotations

import base64
import json

import pytest

from workflow_plugin_runtime.masking.forms import MIN_SECRET_LENGTH
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.runtimes.outcome import STDERR_WINDOW_BYTES, TAIL_CUT_MARK, masked_tail
from workflow_plugin_runtime.runtimes.streams import BoundedStdout, LogStream
from workflow_plugin_sdk.protocol import LogRecord


def test_log_lines_split_across_chunks_are_joined() -> None:
    seen: list[LogRecord] = []
    stream = LogStream(1 << 20, seen.append)
    for chunk in (b'{"level": "warn', b'ing", "message": "a"}\npla', b"in\n\n", b"last without newline"):
        assert stream.feed(chunk)
    assert [r["message"] for r in seen] == ["a", "plain"]
    stream.finish()
    assert [(r["message"], r["level"], r["structured"]) for r in stream.records] == [
        ("a", "warning", True),
        ("plain", "info", False),
        ("last without newline", "info", False),
    ]


def test_invalid_utf8_in_logs_is_replaced_not_fatal() -> None:
    stream = LogStream(1 << 20)
    stream.feed(b"caf\xe9\n")
    assert stream.records[0]["message"] == "caf\ufffd"


def test_log_limit_stops_collecting() -> None:
    stream = LogStream(10)
    assert stream.feed(b"12345\n")
    assert not stream.feed(b"678901\n")
    assert stream.overflowed and not stream.feed(b"x\n")
    assert [r["message"] for r in stream.records] == ["12345"]


def test_stdout_is_kept_whole_up_to_its_limit() -> None:
    out = BoundedStdout(8)
    assert out.feed(b"1234") and out.feed(b"5678")
    assert out.value() == b"12345678"
    assert not out.feed(b"9")
    assert out.overflowed and out.value() == b""


# --- the tail a failure shows: kept raw here, masked and only then cut (runtimes.outcome.masked_tail) ---------------

TAIL_SECRET = "é-QXZ#tok3n&VVY!fragment~JJK"
TAIL_FORMS = {
    "plain": TAIL_SECRET,
    "base64": base64.b64encode(TAIL_SECRET.encode()).decode(),
    "json": json.dumps(TAIL_SECRET)[1:-1],
}


def pieces(form: str) -> list[str]:
    """Every head and end of ``form`` (and of the secret) long enough to matter."""
    return [text[:size] for text in (form, TAIL_SECRET) for size in range(1, len(text))] + [
        text[-size:] for text in (form, TAIL_SECRET) for size in range(MIN_SECRET_LENGTH, len(text))
    ]


@pytest.mark.parametrize("form", sorted(TAIL_FORMS))
def test_a_secret_cut_by_the_start_of_the_kept_window_leaves_no_piece(form: str) -> None:
    masker = Masker({"S": TAIL_SECRET})
    data = TAIL_FORMS[form].encode()
    for inside in range(1, len(data)):  # the window starts this many bytes into the secret, even mid-character
        stream = LogStream(1 << 20)
        assert stream.feed(b"x" * 100 + data + b"." * (STDERR_WINDOW_BYTES - (len(data) - inside)))
        tail = masked_tail(stream.tail(), masker, limit=2 * STDERR_WINDOW_BYTES)  # the window's own cut only
        assert tail.startswith(TAIL_CUT_MARK + "."), (inside, tail[:40])
        assert not [piece for piece in pieces(TAIL_FORMS[form]) if piece in tail and len(piece) >= 4], inside


@pytest.mark.parametrize("form", sorted(TAIL_FORMS))
def test_a_secret_cut_by_the_log_limit_leaves_no_piece(form: str) -> None:
    masker = Masker({"S": TAIL_SECRET})
    data = TAIL_FORMS[form].encode()
    for inside in range(1, len(data)):  # the limit stops the stream this many bytes into the secret
        stream = LogStream(100 + inside)
        assert stream.feed(b"." * 100 + data[:inside])
        assert not stream.feed(data[inside:] + b"\n")
        tail = masked_tail(stream.tail(), masker)
        assert tail == "." * 100 + TAIL_CUT_MARK, (inside, tail)


def test_a_tail_is_neutralised_and_masked_before_it_is_cut_to_its_length() -> None:
    masker = Masker({"S": "ab\x1bcdefgh"})
    stream = LogStream(1 << 20)
    stream.feed(b"head ab\x1bcdefgh \x1b]0;title\x07 " + b"." * 5000 + b"\n")
    tail = masked_tail(stream.tail(), masker, limit=6000)
    assert tail == "head *** \\x1b]0;title\\x07 " + "." * 5000 + "\n"
    short = masked_tail(stream.tail(), masker, limit=100)
    assert short == TAIL_CUT_MARK + "." * 99 + "\n"
