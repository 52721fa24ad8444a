"""The bounded collectors on their own: line splitting and limits, byte by byte."""

from __future__ import annotations

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
