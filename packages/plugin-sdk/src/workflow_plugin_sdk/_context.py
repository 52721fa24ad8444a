"""What an action sees of its call: inputs, where it comes from, and a logger.

The logger writes structured JSON lines on stderr (the protocol's log stream)
and masks the values of secret inputs *after* formatting, so no format string
(``%s``, ``%r``, an f-string built beforehand) lets a secret through.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Callable, TextIO

from ._protocol import LOG_LEVELS as LEVELS
from ._protocol import InvocationContext

MASK = "***"

LogSink = Callable[[dict[str, Any]], None]


def _secret_strings(value: object) -> Iterator[str]:
    """Every string a secret input could show up as in a log line."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secret_strings(item)
        yield json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_strings(item)
        yield json.dumps(value, ensure_ascii=False)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


class Masker:
    """Replaces each secret, and its JSON- and repr-escaped forms, with ``***``."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[object]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            for text in _secret_strings(secret):
                if not text:
                    continue
                variants.update((text, json.dumps(text, ensure_ascii=False)[1:-1], repr(text)[1:-1]))
                variants.update(line for line in text.splitlines() if len(line) >= 4)
        ordered = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    @classmethod
    def for_inputs(cls, inputs: Mapping[str, Any], secret_inputs: Iterable[str]) -> Masker:
        return cls(inputs[name] for name in secret_inputs if name in inputs)


def stderr_sink(stream: TextIO | None = None) -> LogSink:
    """A sink writing each record as one JSON line, resolved at call time."""

    def write(record: dict[str, Any]) -> None:
        out = stream if stream is not None else sys.stderr
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        out.flush()

    return write


class ActionLogger:
    """``logging``-style methods producing protocol log records, masked."""

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
        record: dict[str, Any] = {"level": level, "message": self._mask(text)}
        if data:
            record["data"] = json.loads(self._mask(json.dumps(data, ensure_ascii=False, default=str)))
        self._sink(record)

    def debug(self, message: object, *args: object, **data: object) -> None:
        self.log("debug", message, *args, **data)

    def info(self, message: object, *args: object, **data: object) -> None:
        self.log("info", message, *args, **data)

    def warning(self, message: object, *args: object, **data: object) -> None:
        self.log("warning", message, *args, **data)

    def error(self, message: object, *args: object, **data: object) -> None:
        self.log("error", message, *args, **data)


class PluginContext:
    """One action call: its inputs, its origin (run, workflow, task) and a logger."""

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
