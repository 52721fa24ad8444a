"""One call on a warm worker, from its request line to a result, the way a one-shot call reports it.

The pool (:mod:`.pool`) decides which worker serves a call and what becomes
of the worker afterwards; this module runs the call on it and says how it
ended, through the same mapping as every one-shot runtime
(:func:`~.outcome.classify`): a timeout, cancel, limit, crash or protocol
error fails the call with the same kind and message, and stops the worker
here, as a one-shot call stops its process, so the result records how the
worker ended. A worker that lives on records no exit code at all. A
sandbox worker's cgroups say which limit it hit: killed at its memory
limit, or refused a process at its pids limit (also when the plugin
answered that with an error document and lives on: it still holds what it
forked, so it goes), the call fails as a one-shot sandbox's would.
"""

from __future__ import annotations

import time

from workflow_plugin_sdk.protocol import ProtocolError, Response, decode_response

from ..errors import Failure, FailureKind
from .base import Invocation, InvocationResult, LogCallback, Metrics, Timings
from .outcome import Ending, Termination, classify
from .streams import LogStream
from .warm_worker import WarmWorker

__all__ = ["call_worker"]

_MAY_BE_REFUSED = (FailureKind.ACTION, FailureKind.CRASHED)
"""How a call that was refused a process at its pids limit may fail (an error document, or an exit)."""


def call_worker(
    worker: WarmWorker,
    invocation: Invocation,
    *,
    on_log: LogCallback | None,
    started: float,
    queued_s: float,
) -> tuple[InvocationResult, bool]:
    """One call on ``worker``; the result, and whether the worker may serve again.

    ``started`` is when the call's own time began (a new worker's start is
    the first call's cost, as a process start is a cold call's: its
    start-up runs to the worker's ready line; a warm call's, one on a
    worker that was ready before it, is 0);
    ``queued_s`` is how long it waited for the worker before that. The
    call's teardown is stopping the worker when the call ends it (0 for a
    call that leaves it to serve again, but the result's making).
    """
    warm = worker.calls > 0 or worker.ready_at <= started  # served before, or started ahead of this call
    ready = started if warm else worker.ready_at
    logs = LogStream(invocation.max_stderr_bytes, on_log)
    line, termination = worker.call(invocation, logs)
    answered = time.monotonic()
    if len(line) > invocation.max_stdout_bytes:
        line, termination = b"", Termination.STDOUT_TOO_LARGE
    if logs.overflowed:
        termination = Termination.STDERR_TOO_LARGE
    if termination is not Termination.COMPLETED:
        worker.stop(graceful=termination in (Termination.TIMED_OUT, Termination.CANCELLED))
    exit_code, signum = worker.exit_status()
    stderr_tail = logs.tail()  # the stream is complete: the call read all it will
    still_running = worker.alive and exit_code is None and signum is None
    response = _plain_success(line) if still_running and termination is Termination.COMPLETED else None
    failure = None
    if response is None:  # anything but a plain success from a live worker: told as a one-shot call's ending is
        oom = not still_running and termination is Termination.COMPLETED and exit_code != 0 and worker.oom_killed()
        ending = Ending(
            plugin_ref=invocation.plugin_ref,
            stdout=line,
            termination=termination,
            exit_code=0 if still_running else exit_code,  # a live worker is as clean as an exit 0
            signal=signum,
            stderr_tail=stderr_tail,
            timeout_s=invocation.timeout_s,
            killed=worker.what,
            stdout_limit=invocation.max_stdout_bytes,
            stderr_limit=invocation.max_stderr_bytes,
            oom_limit_bytes=invocation.limits.memory_bytes if oom else None,
        )
        response, failure = classify(ending)
        if failure is not None and failure.kind in _MAY_BE_REFUSED and worker.pids_exhausted():
            # Told as a one-shot call is; and a worker that answers a refused fork with an error and lives
            # on still holds what it forked, so it goes (CRASHED is not healthy).
            response, failure = classify(ending.replace(pids_limit=invocation.limits.pids))
    answered_id = None if response is None else response.get("id")
    if response is not None and answered_id != worker.calls:
        response, failure = None, _id_mismatch(invocation, worker.calls, answered_id, stderr_tail)
    healthy = failure is None or (failure.kind is FailureKind.ACTION and worker.alive)
    if not healthy and still_running:
        worker.stop(graceful=False)
        exit_code, signum = worker.exit_status()
        failure = None if failure is None else failure.replace(exit_code=exit_code)
    ended = time.monotonic()
    metrics = Metrics(
        duration_s=ended - started,
        runtime=worker.runtime,
        exit_code=exit_code,
        signal=signum,
        warm=warm,
        queued_s=queued_s,
        timings=Timings.between(spawned=started, ready=ready, answered=answered, ended=ended),
    )
    result = InvocationResult(
        response=response, failure=failure, metrics=metrics, logs=logs.records, stderr_tail=stderr_tail
    )
    return result, healthy


def _plain_success(line: bytes) -> Response | None:
    """The success response ``line`` holds, or None: what :func:`.outcome.classify` finds for it, without an Ending.

    For a worker that lives on after a complete line (so no stop, no limit,
    an exit as clean as 0), ``classify`` answers a success with just the
    decoded response; every other line (an error, garbage) goes through it.
    """
    try:
        response = decode_response(line)
    except ProtocolError:
        return None
    return response if response["ok"] else None


def _id_mismatch(invocation: Invocation, expected: int, found: object, stderr_tail: str) -> Failure:
    return Failure(
        kind=FailureKind.PROTOCOL,
        message=(
            f"{invocation.plugin_ref} answered request id {expected!r} "
            f"with id {found!r}; a warm worker must echo each request's id"
        ),
        stderr_tail=stderr_tail,
    )
