"""Turning how a plugin ended into a response or a typed failure.

Every runtime ends the same way (an exit status, the bytes on stdout, maybe
an early stop of our own) and must report it the same way, so the mapping
to :class:`~workflow_plugin_runtime.execution.results.FailureKind` lives here once:

========================================  =====================
what happened                             failure kind
========================================  =====================
cancelled by the caller                   ``cancelled``
still running at its timeout              ``timeout``
killed at its memory limit                ``crashed`` (says so)
failed after its process limit refused    ``crashed`` (says so)
stdout or stderr over its limit           ``protocol``
a valid ``ok: false`` document            ``action``
a container's exit 127, stdout empty      ``runtime_unavailable``
non-zero exit or signal, no error doc     ``crashed``
exit 0 but stdout not one valid response  ``protocol``
========================================  =====================

A stdout that is not a response travels as ``Failure.stdout_head``: only
the executor knows the run's secrets, so it masks that text before quoting
its start in the message.
"""

from __future__ import annotations

import codecs
import enum
import json
import re
import signal

from workflow_plugin_sdk.protocol import ProtocolError, decode_response

from .._frozen import FrozenRecord
from .._util.control_chars import neutralise_controls
from ..errors import Failure, FailureKind
from ..masking.masker import Masker

TYPE_CHECKING = False
if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import Response

__all__ = [
    "COMMAND_NOT_FOUND",
    "STDERR_TAIL_CHARS",
    "STDERR_WINDOW_BYTES",
    "STDOUT_HEAD_BYTES",
    "TAIL_CUT_MARK",
    "Ending",
    "Termination",
    "classify",
    "describe_exit",
    "format_bytes",
    "masked_tail",
    "signal_name",
    "tail_text",
]

STDERR_TAIL_CHARS = 4096
"""How much of the end of stderr a failure carries for the operator: characters of neutralised, masked text."""
STDERR_WINDOW_BYTES = 2 * STDERR_TAIL_CHARS
"""How much of the end of stderr a runtime keeps raw: more than the tail, so that it is cut only once masked."""
COMMAND_NOT_FOUND = 127
"""The exit code of a program that could not be found (POSIX shells, ``env``, a container's init)."""
TAIL_CUT_MARK = "…"
"""Starts a tail when earlier output was dropped, ends it when later output was (a stream stopped at its limit)."""

STDOUT_HEAD_BYTES = 4096
"""How much of the start of a stdout that is not a response a failure carries, for its message to quote."""


_NOT_FOUND_LINE = (
    r"exec (\S+) failed: No such file or directory|env: '([^']+)': No such file"
    r"|setpriv: failed to execute (\S+): No such file|bwrap: execvp (\S+): No such file"
)
"""Compiled on first use (``re``'s cache), by a run with a plugin that could not start: not by every run."""


_set = object.__setattr__


class Termination(enum.Enum):
    """Why the runtime stopped waiting: the plugin finished, or we stopped it."""

    COMPLETED = "completed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    STDOUT_TOO_LARGE = "stdout_too_large"
    STDERR_TOO_LARGE = "stderr_too_large"


class Ending(FrozenRecord, keyword_only=True):
    """Everything about how one invocation ended that decides its outcome.

    ``killed`` names what a timeout or cancel killed, for the message ("its
    process group", "its container"); ``oom_limit_bytes`` is set when the
    engine reports an out-of-memory kill, ``pids_limit`` when it reports
    that a call that failed had been refused a process at that limit.
    ``not_found_fix`` is set by a runtime whose exit 127 means its program
    could not be started (a container's init says so): how to fix that, for
    the ``runtime_unavailable`` failure it then is. A FrozenRecord, not a
    dataclass, for run start-up (docs/performance.md).
    """

    __slots__ = (
        "exit_code",
        "killed",
        "not_found_fix",
        "oom_limit_bytes",
        "pids_limit",
        "plugin_ref",
        "signal",
        "stderr_limit",
        "stderr_tail",
        "stdout",
        "stdout_limit",
        "termination",
        "timeout_s",
    )
    plugin_ref: str
    stdout: bytes
    termination: Termination
    exit_code: int | None
    signal: int | None
    stderr_tail: str
    timeout_s: float
    killed: str
    stdout_limit: int
    stderr_limit: int
    oom_limit_bytes: int | None
    pids_limit: int | None
    not_found_fix: str | None

    def __init__(
        self,
        *,
        plugin_ref: str,
        stdout: bytes,
        termination: Termination,
        exit_code: int | None,
        signal: int | None,
        stderr_tail: str,
        timeout_s: float,
        killed: str,
        stdout_limit: int,
        stderr_limit: int,
        oom_limit_bytes: int | None = None,
        pids_limit: int | None = None,
        not_found_fix: str | None = None,
    ) -> None:
        _set(self, "plugin_ref", plugin_ref)
        _set(self, "stdout", stdout)
        _set(self, "termination", termination)
        _set(self, "exit_code", exit_code)
        _set(self, "signal", signal)
        _set(self, "stderr_tail", stderr_tail)
        _set(self, "timeout_s", timeout_s)
        _set(self, "killed", killed)
        _set(self, "stdout_limit", stdout_limit)
        _set(self, "stderr_limit", stderr_limit)
        _set(self, "oom_limit_bytes", oom_limit_bytes)
        _set(self, "pids_limit", pids_limit)
        _set(self, "not_found_fix", not_found_fix)


def format_bytes(count: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            value = count / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(exit_code: int | None, signum: int | None) -> str:
    """``exited with code 3`` / ``was killed by SIGSEGV``, for messages."""
    if signum is not None:
        return f"was killed by {signal_name(signum)} (signal {signum})"
    if exit_code is None:
        return "ended without an exit status"
    text = f"exited with code {exit_code}"
    if 128 < exit_code <= 128 + 64:
        text += f" (128 + {signal_name(exit_code - 128)}: probably killed by that signal)"
    return text


def tail_text(data: bytes, *, cut_start: bool, cut_end: bool = False) -> str:
    """The kept end of stderr as text, with :data:`TAIL_CUT_MARK` at each end where the stream was cut.

    A character cut in two at a cut end loses its bytes on our side rather
    than turning into a replacement character next to what the cut left.
    """
    if cut_start:
        skip = 0
        while skip < 3 and skip < len(data) and 0x80 <= data[skip] < 0xC0:  # UTF-8 continuation bytes
            skip += 1
        data = data[skip:]
    # Not final at a cut end: an incomplete last character is left out, not replaced.
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=not cut_end) if data else ""
    return (TAIL_CUT_MARK if cut_start else "") + text + (TAIL_CUT_MARK if cut_end else "")


def masked_tail(tail: str, masker: Masker, limit: int = STDERR_TAIL_CHARS) -> str:
    """A stderr tail as a failure carries it: controls neutralised, masked, and only then cut to ``limit``.

    Where the stream was cut (a mark at that end), a piece of a secret may
    lie against the cut, which masking cannot recognise: the head that
    could end a secret, and the end that could start one, are dropped. The
    cut to ``limit`` characters happens on masked text, where no secret is
    left to split; it starts at a line when one begins in the first half.
    """
    mark = len(TAIL_CUT_MARK)
    cut_start = tail.startswith(TAIL_CUT_MARK)
    cut_end = len(tail) >= mark * (1 + cut_start) and tail.endswith(TAIL_CUT_MARK)
    text = neutralise_controls(tail[mark if cut_start else 0 : len(tail) - mark if cut_end else len(tail)])
    if cut_start:
        text = masker.without_cut_head(text)
    text = masker.stream().feed(text) if cut_end else masker.mask(text)  # the stream holds back a secret's start
    if len(text) > limit:
        text = text[-limit:]
        newline = text.find("\n")
        if 0 <= newline < limit // 2:
            text = text[newline:]
        cut_start = True
    return (TAIL_CUT_MARK if cut_start else "") + text + (TAIL_CUT_MARK if cut_end else "")


def _failure(ending: Ending, kind: FailureKind, *, message: str, stdout_head: str = "") -> Failure:
    return Failure(
        kind=kind, message=message, exit_code=ending.exit_code, stderr_tail=ending.stderr_tail, stdout_head=stdout_head
    )


def _limit_reached(ending: Ending) -> Failure | None:
    """The failure of a call the engine reports killed at its memory limit, or refused a process at its pids limit."""
    ref = ending.plugin_ref
    if ending.oom_limit_bytes is not None:
        return _failure(
            ending,
            FailureKind.CRASHED,
            message=f"{ref} ran out of memory: it was killed at its memory limit of "
            f"{format_bytes(ending.oom_limit_bytes)} (grant more with permissions.resources.memory)",
        )
    if ending.pids_limit is not None:
        return _failure(
            ending,
            FailureKind.CRASHED,
            message=f"{ref} reached its process limit: it may run {ending.pids_limit} processes and threads at once,"
            " and failed after being refused another (grant more with permissions.resources.pids)",
        )
    return None


def _early_stop(ending: Ending) -> Failure | None:
    ref, term = ending.plugin_ref, ending.termination
    if term is Termination.CANCELLED:
        return _failure(ending, FailureKind.CANCELLED, message=f"{ref} was cancelled; {ending.killed} was killed")
    if term is Termination.TIMED_OUT:
        return _failure(
            ending,
            FailureKind.TIMEOUT,
            message=f"{ref} did not finish within its timeout of {ending.timeout_s:g} s; {ending.killed} was killed",
        )
    limit = _limit_reached(ending)
    if limit is not None:
        return limit
    if term is Termination.STDOUT_TOO_LARGE:
        return _failure(
            ending,
            FailureKind.PROTOCOL,
            message=f"{ref} wrote more than {format_bytes(ending.stdout_limit)} on stdout, which must hold one "
            "response document; it was stopped (print() output belongs on stderr)",
        )
    if term is Termination.STDERR_TOO_LARGE:
        return _failure(
            ending,
            FailureKind.PROTOCOL,
            message=f"{ref} wrote more than {format_bytes(ending.stderr_limit)} of logs on stderr; it was stopped",
        )
    return None


def _is_json_object(stdout: bytes) -> bool:
    """Whether ``stdout`` is one JSON object (read without the protocol's value rules), on the failure path only."""
    try:
        return isinstance(json.loads(stdout), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    except (ValueError, RecursionError):  # a number past the digit limit, deep nesting: JSON all the same
        return True


def _command_not_found(ending: Ending) -> Failure | None:
    """Exit 127 with nothing on stdout, where that means the program (or its interpreter) was not found."""
    if ending.not_found_fix is None or ending.exit_code != COMMAND_NOT_FOUND or ending.stdout.strip():
        return None
    missing = re.search(_NOT_FOUND_LINE, ending.stderr_tail)
    what = (
        f"{next(name for name in missing.groups() if name)} was not found"
        if missing
        else "a program it starts was not found (its stderr says which)"
    )
    return _failure(
        ending,
        FailureKind.RUNTIME_UNAVAILABLE,
        message=f"{ending.plugin_ref} could not start: {what} (exit code 127); {ending.not_found_fix}",
    )


def _no_response(ending: Ending, exc: ProtocolError, *, clean_exit: bool) -> Failure:
    ref, silent = ending.plugin_ref, not ending.stdout.strip()
    if clean_exit:
        if silent:
            return _failure(ending, FailureKind.PROTOCOL, message=f"{ref} exited without writing a response on stdout")
        if _is_json_object(ending.stdout):  # a response, but one the protocol cannot take: no print() to blame
            return _failure(ending, FailureKind.PROTOCOL, message=f"{ref} did not answer in protocol: {exc}")
        return _failure(
            ending,
            FailureKind.PROTOCOL,
            message=f"{ref} wrote something other than one JSON response on stdout ({exc}); stdout carries only the "
            "response: logs and print() output belong on stderr",
            stdout_head=_head(ending.stdout),
        )
    how = describe_exit(ending.exit_code, ending.signal)
    if silent:
        return _failure(ending, FailureKind.CRASHED, message=f"{ref} {how} without writing a response")
    return _failure(
        ending,
        FailureKind.CRASHED,
        message=f"{ref} {how}; its stdout was not a valid response ({exc})",
        stdout_head=_head(ending.stdout),
    )


def _head(stdout: bytes) -> str:
    return stdout[:STDOUT_HEAD_BYTES].decode("utf-8", "replace")


def classify(ending: Ending) -> tuple[Response | None, Failure | None]:
    """The response (when one was sent) and the failure (when it failed)."""
    early = _early_stop(ending) or _command_not_found(ending)
    if early is not None:
        return None, early
    clean_exit = ending.exit_code == 0 and ending.signal is None
    try:
        response = decode_response(ending.stdout)
    except ProtocolError as exc:
        return None, _no_response(ending, exc, clean_exit=clean_exit)
    if not response["ok"]:
        error = response["error"]
        failure = Failure(
            kind=FailureKind.ACTION,
            message=error["message"],
            exit_code=ending.exit_code,
            stderr_tail=ending.stderr_tail,
            retryable=error["retryable"],
            error_type=error["type"],
        )
        return response, failure
    if not clean_exit:
        how = describe_exit(ending.exit_code, ending.signal)
        return response, _failure(
            ending, FailureKind.CRASHED, message=f"{ending.plugin_ref} wrote a response but then {how}"
        )
    return response, None
