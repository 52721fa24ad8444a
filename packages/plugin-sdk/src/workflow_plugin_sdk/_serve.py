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

from ._action import ActionRegistry, answer, default_registry
from ._context import Masker
from ._errors import ProtocolError
from ._protocol import (
    EXIT_BAD_REQUEST,
    EXIT_OK,
    FORK_SERVE_VALUE,
    SERVE_ENV_VAR,
    decode_request,
    encode_message,
    error_response,
    ready_message,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, NoReturn, TextIO

    from ._messages import MessageId


class _MaskedText(io.TextIOBase):
    """Stands in for ``sys.stdout``: text goes to stderr through the call's masker.

    ``buffer`` and ``fileno()`` lead to the same place (descriptor 1 now is
    stderr), so code writing bytes to "stdout" cannot reach the channel either.
    """

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self.mask: Callable[[str], str] = _unmasked

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write(self.mask(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def fileno(self) -> int:
        return 1

    def isatty(self) -> bool:
        return self._target.isatty()

    @property
    def buffer(self) -> IO[bytes]:
        return self._target.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only here, as on sys.stdout
        return getattr(self._target, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]  # read-only here, as on sys.stdout
        return getattr(self._target, "errors", None)


def _unmasked(text: str) -> str:
    return text


def _claim_stdout() -> tuple[IO[bytes], _MaskedText]:
    """Keep the protocol channel for ourselves; send everything else to stderr.

    Descriptor 1 is re-pointed *before* flushing ``sys.stdout``, so whatever
    the plugin printed while it was imported goes to the log stream too.
    """
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout.flush()
    redirect = _MaskedText(sys.stderr)
    sys.stdout = redirect
    return channel, redirect


def respond(request_bytes: bytes, registry: ActionRegistry, redirect: _MaskedText | None = None) -> tuple[bytes, int]:
    """One request in, one encoded response and its one-shot exit code out; never raises."""
    try:
        request = decode_request(request_bytes)
    except ProtocolError as exc:
        response = error_response("ProtocolError", str(exc), id=_guess_id(request_bytes))
        return encode_message(response), EXIT_BAD_REQUEST
    if redirect is not None:
        redirect.mask = Masker.for_inputs(request["inputs"], request["secret_inputs"])
    try:
        return answer(request, registry)
    finally:
        sys.stdout.flush()


def _guess_id(data: bytes) -> MessageId | None:
    """The id of a request too broken to decode, so the reply still pairs up."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, (str, int)) and not isinstance(found, bool) else None


def run_once(stdin: IO[bytes], channel: IO[bytes], registry: ActionRegistry, redirect: _MaskedText) -> int:
    """Answer the one request stdin holds; the exit code tells success, failure or a bad request."""
    data, code = respond(stdin.read(), registry, redirect)
    channel.write(data)
    channel.flush()
    return code


def serve(stdin: IO[bytes], channel: IO[bytes], registry: ActionRegistry, redirect: _MaskedText) -> int:
    """Answer request lines until stdin closes: the pooled worker's loop."""
    channel.write(encode_message(ready_message(registry.names())))
    channel.flush()
    for line in stdin:
        if not line.strip():
            continue
        data, _ = respond(line, registry, redirect)
        channel.write(data)
        channel.flush()
    return EXIT_OK


def run(registry: ActionRegistry | None = None) -> NoReturn:
    """The plugin's entry point: answer in protocol on stdin/stdout, then exit.

    Started with ``WORKFLOW_PLUGIN_SERVE=1`` it becomes a pooled worker;
    with ``fork``, a fork server's template, which comes back here only in
    each forked child, to answer that child's one request as a one-shot
    process does; otherwise it answers exactly one request.
    """
    actions = registry if registry is not None else default_registry
    forked = os.environ.get(SERVE_ENV_VAR) == FORK_SERVE_VALUE
    if forked:
        from ._fork_server import end_call, serve_forks  # only a template pays for sockets and selectors

        serve_forks()
    channel, redirect = _claim_stdout()
    loop = serve if os.environ.get(SERVE_ENV_VAR) == "1" else run_once
    code = loop(sys.stdin.buffer, channel, actions, redirect)
    sys.stderr.flush()
    if forked:
        end_call(code)
    sys.exit(code)
