"""The shapes of wire protocol v1's messages, as ``TypedDict`` classes.

Kept apart from ``_protocol`` because building these classes needs ``typing``
at runtime, which costs a plugin several milliseconds per start; the code a
plugin runs only names them in annotations, so only the public
``workflow_plugin_sdk.protocol`` module loads this, when a class is first
asked for (the engine, too, names them in annotations only).

The annotations here are evaluated, not postponed (no ``from __future__
import annotations``): given strings, ``TypedDict`` compiles each into a
``ForwardRef`` at every import, which cost the engine's start-up about
1.5 ms more than the classes themselves.
"""

from typing import Any, Literal, TypedDict

MessageId = str | int


class InvocationContext(TypedDict, total=False):
    """Where a call comes from; every key is optional for a plugin."""

    run_id: str
    workflow: str
    task: str
    workflow_dir: str


class _RequestBase(TypedDict):
    protocol: int
    action: str
    inputs: dict[str, Any]
    secret_inputs: list[str]
    context: InvocationContext


class Request(_RequestBase, total=False):
    """What the runtime sends: one action call."""

    id: MessageId


class ErrorInfo(TypedDict):
    """Why a call failed, as the plugin tells it."""

    type: str
    message: str
    retryable: bool


class _SuccessBase(TypedDict):
    ok: Literal[True]
    outputs: dict[str, Any]


class SuccessResponse(_SuccessBase, total=False):
    id: MessageId


class _ErrorBase(TypedDict):
    ok: Literal[False]
    error: ErrorInfo


class ErrorResponse(_ErrorBase, total=False):
    id: MessageId


Response = SuccessResponse | ErrorResponse


class ReadyMessage(TypedDict):
    """The first line a pooled worker writes: it speaks the serve loop."""

    protocol: int
    ready: Literal[True]
    actions: list[str]


class LogRecord(TypedDict, total=False):
    """One line of a plugin's stderr: structured when it was a JSON record."""

    level: str
    message: str
    data: dict[str, Any]
    structured: bool
