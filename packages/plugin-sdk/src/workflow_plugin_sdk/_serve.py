"""The plugin's main loop: one-shot ``run()`` and the pooled serve loop.

Before any action runs, the real stdout is moved to a private descriptor and
descriptor 1 is pointed at stderr, so ``print()``, a C extension or a child
process writing to "stdout" lands in the log stream and can never corrupt the
protocol channel.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import IO, Any, Callable, NoReturn

from ._action import ActionRegistry, default_registry, dispatch
from ._context import Masker
from ._errors import ProtocolError
from ._protocol import (
    SERVE_ENV_VAR,
    Response,
    decode_request,
    encode_message,
    error_response,
    ready_message,
)

EXIT_OK = 0
EXIT_ACTION_FAILED = 1
EXIT_BAD_REQUEST = 2


class _MaskedText(io.TextIOBase):
    """Stands in for ``sys.stdout``: text goes to stderr through the call's masker."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self.mask: Callable[[str], str] = lambda text: text

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write(self.mask(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def _claim_stdout() -> tuple[IO[bytes], _MaskedText]:
    """Keep the protocol channel for ourselves; send everything else to stderr."""
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    redirect = _MaskedText(sys.stderr)
    sys.stdout = redirect
    return channel, redirect


def _encode_response(response: Response) -> bytes:
    try:
        return encode_message(response)
    except ProtocolError as exc:
        fallback = error_response(
            "InvalidOutputs", f"the action's outputs cannot be sent: {exc}", id=response.get("id")
        )
        return encode_message(fallback)


def _respond(request_bytes: bytes, registry: ActionRegistry, redirect: _MaskedText) -> tuple[Response, bytes]:
    try:
        request = decode_request(request_bytes)
    except ProtocolError as exc:
        response: Response = error_response("ProtocolError", str(exc), id=_guess_id(request_bytes))
        return response, encode_message(response)
    redirect.mask = Masker.for_inputs(request["inputs"], request["secret_inputs"])
    try:
        response = dispatch(request, registry)
    finally:
        sys.stdout.flush()
    return response, _encode_response(response)


def _guess_id(data: bytes) -> Any:
    """The id of a request too broken to decode, so the reply still pairs up."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, (str, int)) and not isinstance(found, bool) else None


def run_once(stdin: IO[bytes], channel: IO[bytes], registry: ActionRegistry, redirect: _MaskedText) -> int:
    response, data = _respond(stdin.read(), registry, redirect)
    channel.write(data)
    channel.flush()
    if response["ok"]:
        return EXIT_OK
    return EXIT_BAD_REQUEST if response["error"]["type"] == "ProtocolError" else EXIT_ACTION_FAILED


def serve(stdin: IO[bytes], channel: IO[bytes], registry: ActionRegistry, redirect: _MaskedText) -> int:
    """Answer request lines until stdin closes: the pooled worker's loop."""
    channel.write(encode_message(ready_message(registry.names())))
    channel.flush()
    for line in stdin:
        if not line.strip():
            continue
        _, data = _respond(line, registry, redirect)
        channel.write(data)
        channel.flush()
    return EXIT_OK


def run(registry: ActionRegistry | None = None) -> NoReturn:
    """The plugin's entry point: answer in protocol on stdin/stdout, then exit.

    Started with ``WORKFLOW_PLUGIN_SERVE=1`` it becomes a pooled worker;
    otherwise it answers exactly one request.
    """
    actions = registry if registry is not None else default_registry
    channel, redirect = _claim_stdout()
    loop = serve if os.environ.get(SERVE_ENV_VAR) == "1" else run_once
    code = loop(sys.stdin.buffer, channel, actions, redirect)
    sys.stderr.flush()
    sys.exit(code)
