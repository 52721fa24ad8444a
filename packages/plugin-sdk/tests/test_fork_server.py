"""``run()`` as a fork server's template, driven by hand over its control channel as the runtime drives it.

A real template (``WORKFLOW_PLUGIN_SERVE=fork``, a ``SOCK_SEQPACKET``
socket as stdin) forks a real child per call message; each test sends the
call's pipes and environment as descriptors and reads what comes back.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_sdk.protocol import (
    FORK_CALL_MESSAGE,
    FORK_EXITED_PREFIX,
    FORK_FORKED_PREFIX,
    FORK_MAX_MESSAGE_BYTES,
    FORK_READY_MESSAGE,
    FORK_SERVE_VALUE,
    SERVE_ENV_VAR,
    decode_response,
    encode_message,
    make_request,
    parse_log_line,
)

Entrypoint = Callable[[str], Path]
WAIT_S = 30.0


@dataclass
class _Call:
    """One forked call as the runtime holds it: the child's pid and pidfd, our pipe ends, the reply socket."""

    pid: int
    pidfd: int
    stdin: int
    stdout: int
    stderr: int
    reply: socket.socket

    def answer(self, request: bytes) -> tuple[bytes, list[str], dict[str, Any]]:
        """Write the request, read stdout and stderr to their ends, then the template's report."""
        os.write(self.stdin, request)
        os.close(self.stdin)
        out, err = _read_all(self.stdout), _read_all(self.stderr)
        self.reply.settimeout(WAIT_S)
        report = self.reply.recv(FORK_MAX_MESSAGE_BYTES)
        assert report.startswith(FORK_EXITED_PREFIX), report
        self.close()
        logs = [record["message"] for line in err.decode().splitlines() if (record := parse_log_line(line))]
        return out, logs, json.loads(report[len(FORK_EXITED_PREFIX) :])

    def close(self) -> None:
        for fd in (self.pidfd, self.stdout, self.stderr):
            os.close(fd)
        self.reply.close()


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


class _Template:
    """A template process started as the runtime starts one: the plugin, its control channel on stdin."""

    def __init__(self, entrypoint: Path) -> None:
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", SERVE_ENV_VAR: FORK_SERVE_VALUE}
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, str(entrypoint)],
                cwd=entrypoint.parent,
                env=env,
                stdin=theirs.fileno(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        self.control.settimeout(WAIT_S)
        assert self.control.recv(FORK_MAX_MESSAGE_BYTES) == FORK_READY_MESSAGE

    def call(self, env: dict[str, str]) -> _Call:
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        environment = os.memfd_create("env")
        os.write(environment, json.dumps(env).encode())
        os.lseek(environment, 0, os.SEEK_SET)
        reply, their_reply = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child_ends = [stdin_read, stdout_write, stderr_write, environment, their_reply.fileno()]
        socket.send_fds(self.control, [FORK_CALL_MESSAGE], child_ends)
        for fd in child_ends[:4]:
            os.close(fd)
        their_reply.close()
        reply.settimeout(WAIT_S)
        message, fds, _, _ = socket.recv_fds(reply, FORK_MAX_MESSAGE_BYTES, 1)
        assert message.startswith(FORK_FORKED_PREFIX) and len(fds) == 1, message
        pid = int(message[len(FORK_FORKED_PREFIX) :])
        return _Call(pid, fds[0], stdin_write, stdout_read, stderr_read, reply)

    def stop(self) -> bytes:
        """Close the control channel; what the template itself wrote, once it has exited."""
        self.control.close()
        assert self.process.stdout is not None
        output = self.process.stdout.read()
        self.process.stdout.close()
        assert self.process.wait(WAIT_S) == 0
        return output


@pytest.fixture
def template(fixture_plugin: Entrypoint) -> Iterator[_Template]:
    started = _Template(fixture_plugin("forkable"))
    yield started
    if started.process.poll() is None:
        started.stop()


def test_each_call_is_answered_by_a_fresh_child_with_its_own_environment(template: _Template) -> None:
    request = encode_message(make_request("where", {}))
    answers = [template.call({"TOKEN": token}).answer(request) for token in ("first", "second")]
    outputs = [decode_response(out)["outputs"] for out, _, _ in answers]  # type: ignore[typeddict-item]
    assert [output["token"] for output in outputs] == ["first", "second"]
    assert outputs[0]["pid"] != outputs[1]["pid"]
    assert outputs[0]["imported_in"] == outputs[1]["imported_in"] == template.process.pid
    assert [output["calls"] for output in outputs] == [1, 1]
    for (_, logs, report), output in zip(answers, outputs, strict=True):
        assert report["status"] == 0 and report["cpu_time_s"] >= 0
        assert logs == [f"atexit ran in {output['pid']}"]  # the child ends through its atexit handlers
    assert template.stop() == b""  # the template itself wrote nothing: the calls' output is the children's


def test_a_call_answers_exactly_as_a_one_shot_process(
    fixture_plugin: Entrypoint, run_raw: Callable[..., subprocess.CompletedProcess[bytes]]
) -> None:
    """The noisy plugin's prints all go to the log stream; only what it printed at import is the template's."""
    noisy = _Template(fixture_plugin("noisy"))
    request = encode_message(make_request("shout", {"text": "hey"}))
    out, logs, report = noisy.call({"PATH": os.environ.get("PATH", os.defpath)}).answer(request)
    cold = run_raw(fixture_plugin("noisy"), request)
    cold_logs = [record["message"] for line in cold.stderr.decode().splitlines() if (record := parse_log_line(line))]
    assert out == cold.stdout and report["status"] == cold.returncode == 0
    assert ["printed while the plugin was imported", *logs] == cold_logs
    assert noisy.stop() == b"printed while the plugin was imported\n"


def test_closing_the_control_channel_kills_every_running_child(template: _Template) -> None:
    call = template.call({})
    os.write(call.stdin, encode_message(make_request("wait", {})))
    os.close(call.stdin)
    waiting = _read_line(call.stderr)
    assert parse_log_line(waiting.decode()) == {"level": "info", "message": "waiting", "structured": True}
    template.stop()
    assert select.select([call.pidfd], [], [], WAIT_S)[0] == [call.pidfd]  # the child has ended
    assert call.reply.recv(FORK_MAX_MESSAGE_BYTES) == b""  # no report: the template died with it
    call.close()


def _read_line(fd: int) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 1)
        assert chunk, line
        line += chunk
    return line
