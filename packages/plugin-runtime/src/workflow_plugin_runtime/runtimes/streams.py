"""Bounded collectors for a plugin's two output streams.

A plugin may write without end; these keep memory bounded by the
invocation's limits and report when a limit is crossed, so the runtime can
stop the plugin instead of buffering or deadlocking.
"""

from __future__ import annotations

from workflow_plugin_sdk.protocol import parse_log_line

from .base import LogCallback
from .outcome import STDERR_WINDOW_BYTES, tail_text

TYPE_CHECKING = False
if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import LogRecord

__all__ = [
    "BoundedStdout",
    "LogStream",
]


class BoundedStdout:
    """The response channel: kept whole up to ``limit`` bytes, then refused."""

    __slots__ = ("_data", "limit", "overflowed")

    def __init__(self, limit: int) -> None:
        self._data = bytearray()
        self.limit = limit
        self.overflowed = False

    def feed(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False once the total is over the limit (later chunks are dropped)."""
        if self.overflowed:
            return False
        if len(self._data) + len(chunk) > self.limit:
            self.overflowed = True
            self._data.clear()
            return False
        self._data += chunk
        return True

    def value(self) -> bytes:
        return bytes(self._data)


class LogStream:
    """stderr split into lines, each parsed into a log record and handed on at once.

    Records go to ``on_log`` as soon as their line is complete, so an
    operator sees progress of a slow plugin; the last few KiB are kept raw
    (``STDERR_WINDOW_BYTES``), for the executor to mask and then cut into
    the tail a failure shows.
    """

    __slots__ = ("_on_log", "_partial", "_records", "_tail", "_tail_cut", "_total", "limit", "overflowed")

    def __init__(self, limit: int, on_log: LogCallback | None = None) -> None:
        self.limit = limit
        self.overflowed = False
        self._on_log = on_log
        self._partial = bytearray()
        self._records: list[LogRecord] = []
        self._tail = b""
        self._tail_cut = False
        self._total = 0

    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes; False once the total is over the limit (later bytes are dropped)."""
        if self.overflowed:
            return False
        self._total += len(chunk)
        if self._total > self.limit:
            self.overflowed = True
            self._partial.clear()
            return False
        window = self._tail + chunk
        if len(window) > STDERR_WINDOW_BYTES:
            window = window[-STDERR_WINDOW_BYTES:]
            self._tail_cut = True
        self._tail = window
        newline = chunk.rfind(b"\n")
        if newline < 0:
            self._partial += chunk
            return True
        complete = bytes(self._partial) + chunk[:newline]
        self._partial = bytearray(chunk[newline + 1 :])
        for line in complete.split(b"\n"):
            self._emit(line)
        return True

    def finish(self) -> None:
        """The stream ended: a last line without a newline is still a line."""
        if self._partial:
            self._emit(bytes(self._partial))
            self._partial.clear()

    def _emit(self, line: bytes) -> None:
        record = parse_log_line(line.decode("utf-8", "replace"))
        if record is None:
            return
        self._records.append(record)
        if self._on_log is not None:
            self._on_log(record)

    @property
    def records(self) -> tuple[LogRecord, ...]:
        return tuple(self._records)

    def tail(self) -> str:
        """The end of stderr, marked where it was cut: before the window, and after it when the limit stopped it."""
        return tail_text(self._tail, cut_start=self._tail_cut, cut_end=self.overflowed)
