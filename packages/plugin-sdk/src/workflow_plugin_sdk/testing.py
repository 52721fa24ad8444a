"""Test helpers for plugin authors: no runtime, no workflow file needed.

Two ways to call an action, both returning the parsed protocol response:

* in-process, :func:`call_action` (fast; logs captured as records)::

      registry = load_plugin("main.py")
      result = call_action("get", {"url": "http://127.0.0.1:8080"}, registry=registry)
      assert result.outputs == {"status": 200}

* as a real subprocess speaking the wire protocol, :func:`run_plugin`::

      result = run_plugin("main.py", "get", {"url": "http://127.0.0.1:8080"})
      assert result.ok, result.error

:func:`serve_plugin` starts the plugin as a pooled worker for several calls.
With pytest installed, the ``plugin_harness`` fixture offers all of them.

Subprocesses get a minimal environment, as under the runtime (``PATH``,
``LANG`` and what ``env`` adds), run in the plugin's folder, in a session of
their own so that a timeout kills the plugin's whole process group.
"""

from __future__ import annotations

import io
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._action import ActionRegistry, answer, default_registry
from ._context import stderr_sink
from ._errors import DefinitionError, ProtocolError
from ._messages import ErrorInfo, InvocationContext, LogRecord, Response
from ._protocol import (
    SERVE_ENV_VAR,
    decode_ready,
    decode_request,
    decode_response,
    encode_message,
    make_request,
    parse_log_line,
)

__all__ = [
    "ActionResult",
    "PluginWorker",
    "call_action",
    "load_plugin",
    "run_plugin",
    "serve_plugin",
]

Entrypoint = str | os.PathLike[str] | Sequence[str]

_TEST_CONTEXT: InvocationContext = {"run_id": "test-run", "workflow": "test", "task": "test"}


@dataclass(frozen=True)
class ActionResult:
    """One call's response, with the log records it produced.

    ``returncode`` is the plugin's exit code for a one-shot subprocess and
    ``None`` otherwise; ``stderr`` is the raw log stream of the call.
    """

    response: Response
    logs: list[LogRecord] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.response["ok"]

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs; fails loudly (with the plugin's message) if the call failed."""
        if not self.response["ok"]:
            error = self.response["error"]
            raise AssertionError(f"action failed with {error['type']}: {error['message']}")
        return self.response["outputs"]

    @property
    def error(self) -> ErrorInfo | None:
        return None if self.response["ok"] else self.response["error"]


def load_plugin(entrypoint: str | os.PathLike[str]) -> ActionRegistry:
    """Import a plugin's entrypoint file and return the actions it defines.

    Each call gets a fresh registry, so loading the same file in many tests
    never trips the "defined twice" check. The plugin's folder is on
    ``sys.path`` while it loads, as under ``python main.py``. A plugin that
    keeps its own :class:`ActionRegistry` (and passes it to ``run()``) is
    found too.
    """
    path = Path(entrypoint).resolve()
    folder = str(path.parent)
    saved = default_registry.swap_handlers({})
    sys.path.insert(0, folder)
    try:
        namespace = runpy.run_path(str(path), run_name="__workflow_plugin__")
    finally:
        with suppress(ValueError):
            sys.path.remove(folder)
        loaded = default_registry.swap_handlers(saved)
    registry = ActionRegistry()
    registry.swap_handlers(loaded)
    if not loaded:
        own = [value for value in namespace.values() if isinstance(value, ActionRegistry)]
        if len(own) == 1:
            return own[0]
        raise DefinitionError(f"{path} defines no actions: decorate a function with @define_action('name')")
    return registry


def _request_bytes(
    action: str,
    inputs: dict[str, Any] | None,
    secret_inputs: Iterable[str],
    context: InvocationContext | None,
    request_id: int | None = None,
) -> bytes:
    context = context if context is not None else _TEST_CONTEXT
    return encode_message(
        make_request(action, inputs or {}, secret_inputs=secret_inputs, context=context, id=request_id)
    )


def _log_records(text: str) -> list[LogRecord]:
    """The records of a log stream; lines end at ``\\n`` only, as the protocol says."""
    return [record for record in map(parse_log_line, text.split("\n")) if record is not None]


def call_action(
    action: str,
    inputs: dict[str, Any] | None = None,
    *,
    registry: ActionRegistry | None = None,
    secret_inputs: Sequence[str] = (),
    context: InvocationContext | None = None,
) -> ActionResult:
    """Run an action in this process, as the SDK's ``run()`` would.

    The request and the response travel through their JSON encoding, so
    inputs or outputs that the wire cannot carry fail here as they would in
    a real call; log records are the ones the plugin would write on stderr.
    """
    request = decode_request(_request_bytes(action, inputs, secret_inputs, context))
    stream = io.StringIO()
    data, _ = answer(request, registry if registry is not None else default_registry, sink=stderr_sink(stream))
    stderr = stream.getvalue()
    return ActionResult(response=decode_response(data), logs=_log_records(stderr), stderr=stderr)


def _command(entrypoint: Entrypoint, python: str | None, cwd: str | os.PathLike[str] | None) -> tuple[list[str], Path]:
    """A ``.py`` file runs under ``python``, another path as an executable, a sequence as the argv."""
    if isinstance(entrypoint, (str, os.PathLike)):
        path = Path(entrypoint).resolve()
        argv = [python or sys.executable, str(path)] if path.suffix == ".py" else [str(path)]
        return argv, Path(cwd) if cwd is not None else path.parent
    return list(entrypoint), Path(cwd) if cwd is not None else Path.cwd()


def _plugin_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the plugin and everything it started (it leads its own session)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _with_stderr(exc: ProtocolError, stderr: str, returncode: int | None) -> ProtocolError:
    status = "still running" if returncode is None else f"exit code {returncode}"
    return ProtocolError(f"{exc} ({status})\n--- plugin stderr ---\n{stderr}")


def run_plugin(
    entrypoint: Entrypoint,
    action: str,
    inputs: dict[str, Any] | None = None,
    *,
    secret_inputs: Sequence[str] = (),
    context: InvocationContext | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    python: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ActionResult:
    """Start the plugin as a subprocess, send one request, parse its response.

    ``entrypoint`` is a ``.py`` file (run with this interpreter, in its own
    folder), an executable, or a full argv (run in ``cwd``, by default the
    current folder). A reply that is not valid protocol raises
    :class:`~workflow_plugin_sdk.ProtocolError` with the plugin's stderr; a
    plugin still running after ``timeout`` seconds is killed with its process
    group and :class:`subprocess.TimeoutExpired` is raised.
    """
    argv, workdir = _command(entrypoint, python, cwd)
    request = _request_bytes(action, inputs, secret_inputs, context)
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=_plugin_env(env),
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr_bytes = process.communicate(request, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise
    stderr = stderr_bytes.decode("utf-8", "replace")
    try:
        response = decode_response(stdout)
    except ProtocolError as exc:
        raise _with_stderr(exc, stderr, process.returncode) from exc
    return ActionResult(response=response, logs=_log_records(stderr), returncode=process.returncode, stderr=stderr)


class PluginWorker:
    """A plugin started as a pooled worker; :meth:`call` sends one request line.

    The worker's stderr goes to a temporary file (a pipe nobody drains could
    fill up and block the worker); each call's records are on its
    :class:`ActionResult`, all of them on :attr:`logs`.
    """

    def __init__(self, process: subprocess.Popen[bytes], *, stderr: IO[bytes], timeout: float) -> None:
        self.process = process
        self.actions: list[str] = []
        self._stderr_file = stderr
        self._timeout = timeout
        self._stdout_pending = bytearray()
        self._stderr_offset = 0
        self._stderr_partial = b""
        self._stderr_text: list[str] = []
        self._logs: list[LogRecord] = []
        self._next_id = 0

    @property
    def logs(self) -> list[LogRecord]:
        """Every log record the worker wrote so far."""
        self._drain_stderr()
        return list(self._logs)

    @property
    def stderr(self) -> str:
        self._drain_stderr()
        return "".join(self._stderr_text)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def call(
        self,
        action: str,
        inputs: dict[str, Any] | None = None,
        *,
        secret_inputs: Sequence[str] = (),
        context: InvocationContext | None = None,
    ) -> ActionResult:
        self._next_id += 1
        result = self.call_raw(_request_bytes(action, inputs, secret_inputs, context, self._next_id))
        if result.response.get("id") != self._next_id:
            found = result.response.get("id")
            raise ProtocolError(f"response id {found!r} does not answer request id {self._next_id}")
        return result

    def call_raw(self, line: bytes) -> ActionResult:
        """Send ``line`` as it is (a newline is added if missing) and read one response line."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line if line.endswith(b"\n") else line + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError as exc:
            raise self._failure(ProtocolError("the worker closed its stdin")) from exc
        reply = self._read_line("response")
        text, records = self._drain_stderr()
        try:
            response = decode_response(reply)
        except ProtocolError as exc:
            raise self._failure(exc) from exc
        return ActionResult(response=response, logs=records, stderr=text)

    def _start(self) -> None:
        try:
            self.actions = decode_ready(self._read_line("ready line"))["actions"]
        except ProtocolError as exc:
            raise self._failure(ProtocolError(f"the plugin did not start the serve loop: {exc}")) from exc

    def _failure(self, error: ProtocolError) -> ProtocolError:
        """``error`` with the worker's exit status and stderr; a worker on its way out gets a moment to exit."""
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=0.5)
        return _with_stderr(error, self.stderr, self.process.poll())

    def _read_line(self, what: str) -> bytes:
        """One stdout line, waiting at most the worker's timeout; ``b""`` at end of file."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + self._timeout
        while b"\n" not in self._stdout_pending:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([descriptor], [], [], max(remaining, 0))
            if not ready:
                _kill_group(self.process)
                raise TimeoutError(f"no {what} from the worker within {self._timeout} s; it was killed")
            chunk = os.read(descriptor, 65536)
            if not chunk:
                data = bytes(self._stdout_pending)
                self._stdout_pending.clear()
                return data
            self._stdout_pending += chunk
        line, _, rest = bytes(self._stdout_pending).partition(b"\n")
        self._stdout_pending[:] = rest
        return line + b"\n"

    def _drain_stderr(self, *, final: bool = False) -> tuple[str, list[LogRecord]]:
        """Read what the worker logged since last time; a line still being written waits."""
        if self._stderr_file.closed:
            return "", []
        descriptor = self._stderr_file.fileno()
        chunks = [self._stderr_partial]
        while chunk := os.pread(descriptor, 65536, self._stderr_offset):
            self._stderr_offset += len(chunk)
            chunks.append(chunk)
        data = b"".join(chunks)
        complete, newline, partial = data.rpartition(b"\n")
        if final:
            complete, newline, partial = data, b"", b""
        self._stderr_partial = partial
        text = (complete + newline).decode("utf-8", "replace")
        records = _log_records(text)
        self._stderr_text.append(text)
        self._logs.extend(records)
        return text, records

    def close(self) -> int:
        """Close stdin (the end of the serve loop) and wait for the exit code; kill it if it lingers."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.process)
        self._drain_stderr(final=True)
        self._stderr_file.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


@contextmanager
def serve_plugin(
    entrypoint: Entrypoint,
    *,
    env: dict[str, str] | None = None,
    python: str | None = None,
    timeout: float = 10.0,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[PluginWorker]:
    """Run the plugin's serve loop for the ``with`` block; stdin closes at the end.

    ``timeout`` bounds the wait for the ready line, for each response and for
    the exit at the end; past it the worker is killed with its process group.
    """
    argv, workdir = _command(entrypoint, python, cwd)
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the worker owns it and closes it
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=workdir,
        env=_plugin_env({**(env or {}), SERVE_ENV_VAR: "1"}),
        start_new_session=True,
    )
    worker = PluginWorker(process, stderr=stderr, timeout=timeout)
    try:
        worker._start()
        yield worker
    finally:
        worker.close()
