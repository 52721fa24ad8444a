"""The protocol probes: each drives the plugin one way and judges what came back.

docs/protocol.md ("Checking a plugin: the conformance kit") says what
each probe checks and why, for plugin authors in any language; every
failure's reason names what the plugin did, and its hint what the
protocol asks instead. A probe never puts a secret's value in a reason.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow_plugin_sdk.protocol import EXIT_BAD_REQUEST, ProtocolError, Response, decode_response, encode_message

from ..masking.masker import Masker
from ..plugins.manifest import ActionDef
from ..runtimes.base import InvocationResult
from ..runtimes.deadline import KILL_GRACE_S
from .calls import PluginCalls
from .results import CheckName, CheckResult, CheckStatus, verdict
from .session import OneShotSession, SessionEnd

__all__ = [
    "PADDING_BYTES",
    "PROBE_SECRET_INPUT",
    "SERVE_CALLS",
    "UNKNOWN_ACTION",
    "ProbeCall",
    "malformed_request_check",
    "secret_leak_check",
    "serve_loop_check",
    "sigterm_check",
    "stdin_checks",
    "unknown_action_check",
]

PADDING_BYTES = 256 * 1024
"""Added to the probe request as a field the plugin must ignore: four times a Linux pipe's buffer, so no
plugin reads the request in one go by luck."""
UNKNOWN_ACTION = "conformance-probe-no-such-action"
PROBE_SECRET_INPUT = "conformance_probe_secret"  # noqa: S105 - an input's name, not a secret
"""The input the secret-leak probe adds, marked secret, when the probe action declares no secret input."""
SERVE_CALLS = 3
_TAIL_CHARS = 300
_STDIN_HINT = "read stdin to its end (EOF) before parsing: the whole document is the request"


@dataclass(frozen=True, slots=True)
class ProbeCall:
    """The call the probes make: an action's first example (inputs and expected outputs), or it with ``{}``."""

    action: ActionDef
    inputs: Mapping[str, Any]
    expected: Mapping[str, Any] | None


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= _TAIL_CHARS else "…" + text[-_TAIL_CHARS:]


def _said(end: SessionEnd) -> str:
    """How the plugin ended, for a reason: its exit code and the end of its stderr."""
    how = f"exit code {end.exit_code}" if end.ended else "it did not exit"
    tail = _tail(end.stderr)
    return f"{how}; stderr: {tail}" if tail else how


def _response_lines(stdout: bytes) -> list[bytes]:
    return [line for line in stdout.split(b"\n") if line.strip()]


def _deadline(calls: PluginCalls, probe: ProbeCall) -> float:
    return time.monotonic() + calls.invocation(calls.request(probe.action.name, probe.inputs)).timeout_s


def stdin_checks(calls: PluginCalls, probe: ProbeCall) -> list[CheckResult]:
    """One request, padded past a pipe's buffer, written in two parts: is it read to EOF and answered once, in shape?"""
    request = calls.request(probe.action.name, probe.inputs)
    padded = {**request, "conformance_padding": "." * PADDING_BYTES}  # a field it does not know: ignored
    data = json.dumps(padded, separators=(",", ":")).encode() + b"\n"
    half = len(data) // 2
    deadline = _deadline(calls, probe)
    with OneShotSession(calls.spawn(request)) as session:
        written = session.write(data[:half], deadline=deadline)
        if written == half and session.wait_read(deadline=deadline):
            written += session.write(data[half:], deadline=deadline)
        session.close_stdin()
        end = session.finish(deadline=deadline)
    lines = _response_lines(end.stdout)
    response = _decoded(lines[0]) if len(lines) == 1 else None
    return [
        _one_response_check(lines, end),
        _shape_check(lines, response, end),
        _stdin_check(written, len(data), response, end),
    ]


def _decoded(line: bytes) -> Response | ProtocolError:
    try:
        return decode_response(line)
    except ProtocolError as exc:
        return exc


def _one_response_check(lines: list[bytes], end: SessionEnd) -> CheckResult:
    hint = "write exactly one response line on stdout, and everything else (logs, prints) on stderr"
    if not lines:
        return verdict(CheckName.ONE_RESPONSE, False, f"nothing on stdout ({_said(end)})", hint=hint)
    if len(lines) > 1:
        first = _tail(lines[0])
        return verdict(CheckName.ONE_RESPONSE, False, f"{len(lines)} lines on stdout; the first: {first}", hint=hint)
    return verdict(CheckName.ONE_RESPONSE, True, "one line on stdout")


def _shape_check(lines: list[bytes], response: Response | ProtocolError | None, end: SessionEnd) -> CheckResult:
    check = CheckName.RESPONSE_SHAPE
    if response is None:
        return verdict(
            check, False, f"no single response to check ({len(lines)} lines on stdout)", hint="see one-response"
        )
    if isinstance(response, ProtocolError):
        hint = 'a response is {"ok": true, "outputs": {...}} or {"ok": false, "error": {"type": ..., "message": ...}}'
        return verdict(check, False, f"not a valid response: {response}", hint=hint)
    expected_zero = response["ok"]
    if end.exit_code is not None and (end.exit_code == 0) != expected_zero:
        reason = f"answered ok: {str(response['ok']).lower()} but exited with code {end.exit_code}"
        return verdict(check, False, reason, hint="exit 0 after ok: true, 1 (or 2 for a bad request) after ok: false")
    return verdict(check, True, f"a valid response (ok: {str(response['ok']).lower()}), exit code {end.exit_code}")


def _stdin_check(written: int, size: int, response: Response | ProtocolError | None, end: SessionEnd) -> CheckResult:
    check = CheckName.STDIN_TO_EOF
    if written < size:
        reason = f"stopped reading stdin after {written:,} of {size:,} bytes ({_said(end)})"
        return verdict(check, False, reason, hint=_STDIN_HINT)
    if isinstance(response, dict) and not response["ok"] and response["error"]["type"] == "ProtocolError":
        reason = (
            f"answered ProtocolError to a valid request of {size:,} bytes sent in two writes "
            f"({response['error']['message']}): it parsed before reading to EOF"
        )
        return verdict(check, False, reason, hint=_STDIN_HINT)
    return verdict(check, True, f"read all {size:,} bytes, sent in two writes, before answering")


def malformed_request_check(calls: PluginCalls, probe: ProbeCall) -> CheckResult:
    """Bytes that are not JSON: a ProtocolError response and exit code 2, not a crash."""
    check = CheckName.MALFORMED_REQUEST
    hint = 'answer {"ok": false, "error": {"type": "ProtocolError", ...}} and exit with code 2'
    deadline = _deadline(calls, probe)
    with OneShotSession(calls.spawn(calls.request(probe.action.name, probe.inputs))) as session:
        session.write(b"this is not a JSON request {\n", deadline=deadline)
        session.close_stdin()
        end = session.finish(deadline=deadline)
    lines = _response_lines(end.stdout)
    if len(lines) != 1:
        return verdict(
            check, False, f"{len(lines)} lines on stdout instead of one error response ({_said(end)})", hint=hint
        )
    response = _decoded(lines[0])
    if isinstance(response, ProtocolError):
        return verdict(check, False, f"answered with something that is not a response: {response}", hint=hint)
    if response["ok"]:
        return verdict(check, False, "answered ok: true to bytes that are not JSON", hint=hint)
    error = response["error"]
    if end.exit_code != EXIT_BAD_REQUEST:
        reason = f"answered {error['type']} but exited with code {end.exit_code}, not {EXIT_BAD_REQUEST}"
        return verdict(check, False, reason, hint=hint)
    return verdict(check, True, f"answered {error['type']}: {error['message']} (exit code {EXIT_BAD_REQUEST})")


def unknown_action_check(calls: PluginCalls) -> CheckResult:
    """An action the plugin does not define: an error response through the runtime, not a crash."""
    check = CheckName.UNKNOWN_ACTION
    hint = 'answer {"ok": false, "error": {"type": "UnknownAction", ...}} naming the actions defined'
    result = calls.call(calls.request(UNKNOWN_ACTION, {}))
    response = result.response
    if response is None:
        assert result.failure is not None  # no response is always a failure
        return verdict(check, False, f"{result.failure.kind.value}: {result.failure.message}", hint=hint)
    if response["ok"]:
        return verdict(check, False, f"answered ok: true to action {UNKNOWN_ACTION!r}", hint=hint)
    error = response["error"]
    return verdict(check, True, f"answered {error['type']}: {error['message']}")


def serve_loop_check(calls: PluginCalls, probe: ProbeCall) -> tuple[CheckResult, float | None]:
    """Several requests to one warm worker, as ``run --pool`` sends them; and the fastest warm call's time."""
    check = CheckName.SERVE_LOOP
    if not calls.manifest.runtime.serve:
        return CheckResult(
            check=check, status=CheckStatus.SKIPPED, reason="runtime.serve is false: called one-shot"
        ), None
    warnings: list[str] = []
    request = calls.request(probe.action.name, probe.inputs)
    with calls.warm_pool(lambda problem: warnings.append(problem.message)) as pool:
        results = [pool.invoke(calls.invocation(request)) for _ in range(SERVE_CALLS)]
    hint = (
        'with WORKFLOW_PLUGIN_SERVE=1, write {"protocol": 1, "ready": true} first, then one response line per '
        "request line, each with its request's id; or set runtime.serve: false"
    )
    if warnings:
        return verdict(check, False, f"it could not be kept warm: {warnings[0]}", hint=hint), None
    for number, result in enumerate(results, 1):
        if result.failure is not None and result.response is None:
            reason = f"request {number}: {result.failure.kind.value}: {result.failure.message}"
            return verdict(check, False, reason, hint=hint), None
        if number > 1 and not result.metrics.warm:  # the first starts the worker, so it is never warm
            return verdict(check, False, f"request {number} was answered by a new worker", hint=hint), None
        if probe.expected is not None and result.outputs != dict(probe.expected):
            reason = f"request {number}: outputs {json.dumps(result.outputs)} differ from the example's"
            return verdict(check, False, reason, hint=hint), None
    warm_s = min(result.metrics.duration_s for result in results[1:])
    return verdict(check, True, f"{SERVE_CALLS} requests answered in order by one warm worker, ids echoed"), warm_s


def sigterm_check(calls: PluginCalls, probe: ProbeCall) -> CheckResult:
    """SIGTERM while the plugin waits for the rest of its request: it must end within the runtime's grace."""
    check = CheckName.SIGTERM
    request = calls.request(probe.action.name, probe.inputs)
    data = encode_message(request)
    deadline = _deadline(calls, probe)
    with OneShotSession(calls.spawn(request)) as session:
        session.write(data[: len(data) // 2], deadline=deadline)
        if not session.wait_read(deadline=deadline):
            end = session.finish(deadline=deadline)
            return verdict(check, False, f"it ended before reading its request ({_said(end)})", hint=_STDIN_HINT)
        took = session.terminate(grace_s=KILL_GRACE_S)
    if took is None:
        reason = f"still running {KILL_GRACE_S:g} s after SIGTERM, so it was killed (SIGKILL)"
        hint = f"let SIGTERM end the plugin (the default), or clean up and exit within {KILL_GRACE_S:g} s"
        return verdict(check, False, reason, hint=hint)
    if took > KILL_GRACE_S:  # SIGTERM ended it, but its end was reported late (a busy machine)
        return verdict(check, True, f"SIGTERM ended it; its end was reported {took:.1f} s later (a busy machine)")
    return verdict(check, True, f"ended {took * 1000:.1f} ms after SIGTERM (the grace is {KILL_GRACE_S:g} s)")


def secret_leak_check(calls: PluginCalls, probe: ProbeCall) -> CheckResult:
    """A value marked secret must not come back, in any form the masker knows, in the response or the logs."""
    check = CheckName.SECRET_LEAK
    inputs = dict(probe.inputs)
    marked = {name: inputs[name] for name in probe.action.secret_inputs if isinstance(inputs.get(name), str)}
    if not marked:
        marked[PROBE_SECRET_INPUT] = inputs[PROBE_SECRET_INPUT] = f"conformance-{secrets.token_hex(12)}"
    result = calls.call(calls.request(probe.action.name, inputs, secret_inputs=sorted(marked)))
    places = _leaks(result, Masker(marked))
    names = ", ".join(sorted(marked))
    if places:
        hint = "keep the values secret_inputs names out of outputs, errors and logs (the SDK masks them for you)"
        return verdict(check, False, f"the secret input ({names}) appears unmasked in {', '.join(places)}", hint=hint)
    lines = len(result.logs)
    return verdict(check, True, f"the secret input ({names}) stayed out of the response and {lines} log lines")


def _leaks(result: InvocationResult, masker: Masker) -> list[str]:
    """Where ``masker`` finds a secret in what the plugin sent (never the secret itself)."""
    texts: list[tuple[str, str]] = []
    if result.response is not None:
        texts.append(("the response", json.dumps(result.response, ensure_ascii=False)))
    for number, record in enumerate(result.logs, 1):
        data = json.dumps(record.get("data"), ensure_ascii=False)
        texts.append((f"log line {number}", f"{record['message']} {data}"))
    if result.failure is not None:
        texts.append(("the failure", f"{result.failure.message} {result.failure.stdout_head or ''}"))
    texts.append(("stderr", result.stderr_tail))
    return [place for place, text in texts if masker.mask(text) != text]
