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
With pytest installed, the ``plugin_harness`` fixture offers all three.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._action import ActionRegistry, default_registry, dispatch
from ._protocol import (
    SERVE_ENV_VAR,
    ErrorInfo,
    InvocationContext,
    Response,
    decode_ready,
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

_TEST_CONTEXT: InvocationContext = {"run_id": "test-run", "workflow": "test", "task": "test"}


@dataclass(frozen=True)
class ActionResult:
    """One call's response, with the log records it produced."""

    response: Response
    logs: list[dict[str, Any]] = field(default_factory=list)
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
    never trips the "defined twice" check.
    """
    registry = ActionRegistry()
    saved = default_registry.swap_handlers(registry.swap_handlers({}))
    try:
        runpy.run_path(os.fspath(entrypoint), run_name="__workflow_plugin__")
    finally:
        registry.swap_handlers(default_registry.swap_handlers(saved))
    return registry


def call_action(
    action: str,
    inputs: dict[str, Any] | None = None,
    *,
    registry: ActionRegistry | None = None,
    secret_inputs: Sequence[str] = (),
    context: InvocationContext | None = None,
) -> ActionResult:
    """Run an action in this process, as the SDK's ``run()`` would."""
    logs: list[dict[str, Any]] = []
    request = make_request(
        action, inputs or {}, secret_inputs=secret_inputs, context=context or dict(_TEST_CONTEXT)
    )
    response = dispatch(request, registry if registry is not None else default_registry, sink=logs.append)
    return ActionResult(response=response, logs=logs)


def _command(entrypoint: str | os.PathLike[str] | Sequence[str], python: str | None) -> tuple[list[str], Path]:
    if isinstance(entrypoint, (str, os.PathLike)):
        path = Path(entrypoint).resolve()
        return [python or sys.executable, str(path)], path.parent
    argv = list(entrypoint)
    return argv, Path.cwd()


def _plugin_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


def run_plugin(
    entrypoint: str | os.PathLike[str] | Sequence[str],
    action: str,
    inputs: dict[str, Any] | None = None,
    *,
    secret_inputs: Sequence[str] = (),
    context: InvocationContext | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    python: str | None = None,
) -> ActionResult:
    """Start the plugin as a subprocess, send one request, parse its response.

    ``entrypoint`` is a ``.py`` file (run with this interpreter, in its own
    folder) or a full argv. A reply that is not valid protocol raises
    :class:`~workflow_plugin_sdk.ProtocolError` with the plugin's stderr.
    """
    argv, cwd = _command(entrypoint, python)
    request = make_request(
        action, inputs or {}, secret_inputs=secret_inputs, context=context or dict(_TEST_CONTEXT)
    )
    done = subprocess.run(
        argv, input=encode_message(request), capture_output=True, cwd=cwd, env=_plugin_env(env), timeout=timeout, check=False
    )
    stderr = done.stderr.decode("utf-8", "replace")
    try:
        response = decode_response(done.stdout)
    except Exception as exc:
        raise type(exc)(f"{exc}\n--- plugin stderr ---\n{stderr}") from exc
    logs = [record for record in map(parse_log_line, stderr.splitlines()) if record is not None]
    return ActionResult(response=response, logs=logs, returncode=done.returncode, stderr=stderr)


class PluginWorker:
    """A plugin started as a pooled worker; :meth:`call` sends one request line."""

    def __init__(self, process: subprocess.Popen[bytes], actions: list[str]) -> None:
        self.process = process
        self.actions = actions
        self._next_id = 0

    def call(
        self,
        action: str,
        inputs: dict[str, Any] | None = None,
        *,
        secret_inputs: Sequence[str] = (),
        context: InvocationContext | None = None,
    ) -> ActionResult:
        assert self.process.stdin is not None and self.process.stdout is not None
        self._next_id += 1
        request = make_request(
            action, inputs or {}, secret_inputs=secret_inputs, context=context or dict(_TEST_CONTEXT), id=self._next_id
        )
        self.process.stdin.write(encode_message(request))
        self.process.stdin.flush()
        response = decode_response(self.process.stdout.readline())
        return ActionResult(response=response)


def _read_ready(stdout: IO[bytes]) -> list[str]:
    return decode_ready(stdout.readline())["actions"]


@contextmanager
def serve_plugin(
    entrypoint: str | os.PathLike[str] | Sequence[str],
    *,
    env: dict[str, str] | None = None,
    python: str | None = None,
    timeout: float = 10.0,
) -> Iterator[PluginWorker]:
    """Run the plugin's serve loop for the ``with`` block; stdin closes at the end."""
    argv, cwd = _command(entrypoint, python)
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=cwd,
        env=_plugin_env({**(env or {}), SERVE_ENV_VAR: "1"}),
    )
    try:
        assert process.stdout is not None
        yield PluginWorker(process, _read_ready(process.stdout))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
