"""What an action sees of its call: inputs, where it comes from, and a logger.

The logger writes structured JSON lines on stderr (the protocol's log stream)
and masks the values of secret inputs *after* formatting, so no format string
(``%s``, ``%r``, an f-string built beforehand, ``str.format``, ``json.dumps``)
lets a secret through: the masker knows each secret in every spelling those
produce (plain, ``repr``, ``ascii``, JSON-escaped) and each of its lines.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping

from ._protocol import LOG_LEVELS as LEVELS
from ._values import escape_surrogates

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, TextIO

    from ._messages import InvocationContext

    LogSink = Callable[[dict[str, Any]], None]

MASK = "***"


def _secret_strings(value: object) -> Iterator[str]:
    """Every string a secret input could show up as in a log line."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secret_strings(item)
        yield from _json_forms(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_strings(item)
        yield from _json_forms(value)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _json_forms(value: object) -> Iterator[str]:
    yield json.dumps(value, ensure_ascii=False, default=str)
    yield json.dumps(value, default=str)


def _spellings(text: str) -> Iterator[str]:
    """The forms ``text`` takes once formatted: as is, and quoted by repr, ascii and json."""
    yield text
    yield repr(text)[1:-1]
    yield ascii(text)[1:-1]
    yield json.dumps(text, ensure_ascii=False)[1:-1]
    yield json.dumps(text)[1:-1]
    yield from (line for line in text.splitlines() if len(line) >= 4 and not line.isspace())


class Masker:
    """Replaces each secret, in any of its spellings, with ``***``.

    Occurrences that overlap or touch (two secrets sharing characters, or
    ``cdcd`` in ``cdcdcd``) are masked as their union, one ``***`` per run:
    masking them one after the other would leave the part of the second
    that the first does not cover in plain sight. Masking repeats until
    nothing matches, because a secret containing ``*`` could otherwise be
    re-formed by the mask and the text around it. A whitespace-only line of
    a multi-line secret is not masked on its own: it would blank every run
    of spaces in the log and hide nothing.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[object]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            for text in _secret_strings(secret):
                if text:
                    variants.update(_spellings(text))
        ordered = sorted(variants, key=len, reverse=True)
        # A lookahead finds every start, the overlapping ones too; the longest spelling wins at each.
        self._pattern = re.compile("(?=(" + "|".join(map(re.escape, ordered)) + "))") if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        for _ in range(len(text) + 1):
            masked = self._mask_once(self._pattern, text)
            if masked == text:
                break
            text = masked
        return text

    @staticmethod
    def _mask_once(pattern: re.Pattern[str], text: str) -> str:
        pieces: list[str] = []
        run_end = 0  # where the current masked run ends (the text before the first match: 0)
        for found in pattern.finditer(text):
            start, end = found.start(), found.end(1)
            if pieces and start <= run_end:  # overlaps or touches the current run: extend it
                run_end = max(run_end, end)
                continue
            pieces += (text[run_end:start], MASK)
            run_end = end
        if not pieces:
            return text
        pieces.append(text[run_end:])
        return "".join(pieces)

    @classmethod
    def for_inputs(cls, inputs: Mapping[str, Any], secret_inputs: Iterable[str]) -> Masker:
        secrets = [inputs[name] for name in secret_inputs if name in inputs]
        # A masker never changes: every call without a secret input (most of them) shares one.
        return cls(secrets) if secrets else _NO_SECRETS


_NO_SECRETS = Masker(())


def mask_value(mask: Callable[[str], str], value: object) -> object:
    """A JSON-ready copy of ``value`` with every key, string and number masked.

    Masking the values one by one (not the JSON text) keeps the structure
    intact whatever characters a secret holds.
    """
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {mask(str(key)): mask_value(mask, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(mask, item) for item in value]
    text = str(value)
    masked = mask(text)
    if isinstance(value, (int, float)) and masked == text:
        return value
    return masked


def stderr_sink(stream: TextIO | None = None) -> LogSink:
    """A sink writing each record as one JSON line, resolved at call time."""

    def write(record: dict[str, Any]) -> None:
        out = stream if stream is not None else sys.stderr
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        out.flush()

    return write


class ActionLogger:
    """``logging``-style methods producing protocol log records, masked.

    ``message % args`` is formatted as the ``logging`` module does; keyword
    arguments become the record's ``data`` object.
    """

    __slots__ = ("_mask", "_sink")

    def __init__(self, mask: Callable[[str], str], sink: LogSink) -> None:
        self._mask = mask
        self._sink = sink

    def log(self, level: str, message: object, *args: object, **data: object) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
        text = str(message)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *map(str, args)])
        record: dict[str, Any] = {"level": level, "message": self._readable(text)}
        if data:
            record["data"] = mask_value(self._readable, data)
        self._sink(record)

    def _readable(self, text: str) -> str:
        """Masked, with lone surrogates as escapes: a record the runtime reads as structured (docs/protocol.md)."""
        return escape_surrogates(self._mask(text))

    def debug(self, message: object, *args: object, **data: object) -> None:
        self.log("debug", message, *args, **data)

    def info(self, message: object, *args: object, **data: object) -> None:
        self.log("info", message, *args, **data)

    def warning(self, message: object, *args: object, **data: object) -> None:
        self.log("warning", message, *args, **data)

    def error(self, message: object, *args: object, **data: object) -> None:
        self.log("error", message, *args, **data)


class PluginContext:
    """One action call: its inputs, its origin (run, workflow, task) and a logger.

    ``mask(text)`` hides this call's secret inputs in any text the action
    wants to show elsewhere (an error message, an output it builds).
    """

    __slots__ = ("action", "context", "inputs", "log", "mask", "secret_inputs")

    def __init__(
        self,
        action: str,
        inputs: dict[str, Any],
        *,
        secret_inputs: Iterable[str] = (),
        context: InvocationContext | None = None,
        sink: LogSink | None = None,
    ) -> None:
        self.action = action
        self.inputs = inputs
        self.secret_inputs = frozenset(secret_inputs)
        self.context: InvocationContext = context if context is not None else {}
        self.mask: Callable[[str], str] = Masker.for_inputs(inputs, self.secret_inputs)
        self.log = ActionLogger(self.mask, sink if sink is not None else stderr_sink())

    @property
    def run_id(self) -> str | None:
        return self.context.get("run_id")

    @property
    def workflow(self) -> str | None:
        return self.context.get("workflow")

    @property
    def task(self) -> str | None:
        return self.context.get("task")

    @property
    def workflow_dir(self) -> str | None:
        """The workflow file's folder, for plugins that work on project files."""
        return self.context.get("workflow_dir")

    def __repr__(self) -> str:
        return f"PluginContext(action={self.action!r}, task={self.task!r}, run_id={self.run_id!r})"
