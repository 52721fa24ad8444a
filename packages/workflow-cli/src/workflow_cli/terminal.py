"""What Click reads from the process and does to its streams, done without importing Typer (or Click).

The entry point answers ``--help`` and runs the everyday commands without
Typer (:mod:`.fast_path`), and must then print what Click would print: the
program name in usage lines (:func:`program_name`), lines wrapped to the
width Click takes from the terminal (:func:`help_width`), and text written
as Click's ``echo`` writes a string (:func:`echo`). The commands print
through :func:`echo` under Typer too, so their output is one
implementation.

What Click's ``echo`` does for a ``str`` that our output relies on, kept
here: a newline added, the stream flushed after every line, ANSI escape
sequences stripped when the stream is not a terminal. What it does beyond
that is left to Click itself: a stream whose encoding is ASCII, which
Click re-opens as UTF-8 (:func:`writes_plainly` is false: the fast path
declines such a process, and :func:`echo` hands the line to Click), bytes
(never printed here), and Windows consoles.

What neither does, and :func:`guard_output` adds before a command starts:
standard output and error that cannot fail the command. A write that
fails (the reader of a pipe went away, ``>/dev/full``) is remembered and
everything after it dropped, so the work goes on to its end (a run still
writes its record) and :func:`exit_code_after_output` says at the end what
was lost; a character the stream's encoding lacks
(``PYTHONIOENCODING=ascii``; for strict UTF-8, a lone surrogate from a
path that is not UTF-8) is written as a backslash escape, not raised.
"""

from __future__ import annotations

import codecs
import io
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

    from _typeshed import ReadableBuffer

__all__ = [
    "MAX_HELP_WIDTH",
    "echo",
    "echo_json",
    "exit_code_after_output",
    "exit_code_outlives_reader",
    "guard_output",
    "help_width",
    "in_shell_completion",
    "program_name",
    "terminal_columns",
    "writes_plainly",
]

ESCAPE = "\x1b"
MAX_HELP_WIDTH = 78
"""Click's help width on terminals of 80 columns and more (it caps at 80, minus 2)."""
MIN_HELP_WIDTH = 50
"""Click's narrowest help width, whatever the terminal."""
_STANDARD_STREAMS = ("stdout", "stderr")


class _GuardedOutput(io.FileIO):
    """A standard stream's file descriptor, whose first failed write is kept, not raised.

    Everything written after that failure is dropped: the buffer above
    never holds it, and the interpreter's own flush at exit has nothing to
    fail on. The descriptor is never closed here: it stays the process's.
    """

    failure: OSError | None = None

    def write(self, data: ReadableBuffer, /) -> int:
        if self.failure is None:
            try:
                written = super().write(data)
                while written is None:  # a descriptor some other process made non-blocking, full: as if it blocked
                    _wait_until_writable(self.fileno())
                    written = super().write(data)
            except OSError as exc:
                self.failure = exc
            else:
                return written
        return memoryview(data).nbytes


def _wait_until_writable(descriptor: int) -> None:
    import select  # only for a non-blocking stream that is full

    select.select([], [descriptor], [])


class _Guarded:
    """What :func:`guard_output` did: the streams it made, and whether a reader that leaves leaves the code alone."""

    __slots__ = ("code_outlives_reader", "streams")

    def __init__(self) -> None:
        self.streams: dict[str, tuple[io.TextIOWrapper, _GuardedOutput]] = {}
        self.code_outlives_reader = False


_guarded = _Guarded()


def guard_output() -> None:
    """``sys.stdout`` and ``sys.stderr`` made the same text streams over :class:`_GuardedOutput`.

    Streams that are not the interpreter's own (a test's capture, none at
    all with ``>&-``) and Windows consoles are left as they are.
    """
    if os.name == "nt":
        return
    for name in _STANDARD_STREAMS:
        stream = getattr(sys, name)
        if not isinstance(stream, io.TextIOWrapper) or name in _guarded.streams:
            continue
        try:
            stream.flush()
            raw = _GuardedOutput(stream.fileno(), "w", closefd=False)
        except (OSError, ValueError):  # a stream that cannot be flushed or has no descriptor: as it is
            continue
        utf = codecs.lookup(stream.encoding).name.startswith("utf")  # strict UTF-8 lacks one thing: lone surrogates
        errors = stream.errors if utf and stream.errors != "strict" else "backslashreplace"
        guarded = io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=stream.encoding,
            errors=errors,
            newline="\n",
            line_buffering=stream.line_buffering,
            write_through=stream.write_through,
        )
        _guarded.streams[name] = (guarded, raw)
        setattr(sys, name, guarded)


def exit_code_after_output(code: str | int | None) -> str | int | None:
    """The exit code of a command that ended with ``code``, its output flushed: ``code``, unless output was lost.

    Output that was lost makes a successful command's exit 1, as Click and
    Rich exit when their reader is gone; only a lost write that is not a
    reader leaving (a full device) is said, on stderr. A command whose
    code outlives its reader (:func:`exit_code_outlives_reader`) keeps it
    when that is all that happened.
    """
    import errno

    failures = []
    for stream, raw in _guarded.streams.values():
        stream.flush()
        if raw.failure is not None:
            failures.append(raw.failure)
    if not failures:
        return code
    stdout = _guarded.streams.get("stdout")
    failure = None if stdout is None else stdout[1].failure
    if failure is not None and failure.errno != errno.EPIPE:
        echo(f"error: could not write standard output: {failure.strerror or failure}", err=True)
        echo("  hint: the command itself finished; only what it printed there is missing", err=True)
    if _guarded.code_outlives_reader and all(failure.errno == errno.EPIPE for failure in failures):
        return code
    return 1 if code in (None, 0) else code


def exit_code_outlives_reader() -> None:
    """Let this command's exit code stand when a reader of its output goes away (``workflow run ... | head -1``).

    For a command whose code says how its work went, not whether all its
    output was read: a run is done and recorded whoever reads its progress.
    """
    _guarded.code_outlives_reader = True


def echo(text: str, *, err: bool = False) -> None:
    """``text`` and a newline on stdout (stderr with ``err``), flushed: what ``click.echo(text, err=err)`` writes."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no stream attached (pythonw): Click writes nothing either
        return
    if not writes_plainly(stream):
        from typer import echo as click_echo  # Click re-opens the stream as UTF-8; only Typer's path gets here

        click_echo(text, err=err)
        return
    line = f"{text}\n"
    if ESCAPE in line and not _is_terminal(stream) and not type(stream).__module__.startswith("ipykernel."):
        line = _without_ansi_codes(line)
    stream.write(line)
    stream.flush()


def echo_json(document: str) -> None:
    """The one JSON document of a ``--json`` command on stdout, as :func:`echo` writes text.

    A character the stream's encoding lacks (``PYTHONIOENCODING=latin-1``)
    is written as a JSON escape, where :func:`guard_output`'s backslash
    escape (``\\xe9``, ``\\U0001f600``) would make the document invalid: it
    can only be inside a string, as every character JSON itself needs is
    ASCII. UTF-8, and ASCII that Click re-opens as UTF-8, need nothing.
    """
    stream = sys.stdout
    if stream is not None and writes_plainly(stream):
        try:
            encoding = codecs.lookup(stream.encoding).name
        except LookupError:  # an encoding Python does not know: left as echo() leaves it
            encoding = "utf"
        if not encoding.startswith("utf"):
            if _JSON_ESCAPES not in _registered:
                codecs.register_error(_JSON_ESCAPES, _json_escapes)
                _registered.add(_JSON_ESCAPES)
            document = document.encode(encoding, _JSON_ESCAPES).decode(encoding)
    echo(document)


_JSON_ESCAPES = "workflow-cli-json-escapes"
_registered: set[str] = set()


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler that writes what an encoding lacks as JSON escapes (surrogate pairs beyond the BMP)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escapes = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code >= 0x10000:
            code -= 0x10000
            escapes.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escapes.append(f"\\u{code:04x}")
    return "".join(escapes), error.end


def writes_plainly(stream: TextIO) -> bool:
    """Whether Click writes to ``stream`` as it is: a text stream with an encoding that is not ASCII."""
    encoding = getattr(stream, "encoding", None)
    if encoding is None:
        return False
    try:
        return codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return True  # an encoding Python does not know is not ASCII, to Click either


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except Exception:  # noqa: BLE001 - Click's isatty: a stream that cannot say is no terminal
        return False


def _without_ansi_codes(text: str) -> str:
    """What Click strips from output that is not a terminal: colour and style codes (``ESC [ ... letter``)."""
    import re

    return re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)


def program_name() -> str:
    """The program name in usage lines, detected as Click does: ``workflow``, or ``python -m workflow_cli``."""
    main_module = sys.modules.get("__main__")
    path = sys.argv[0]
    package = getattr(main_module, "__package__", None)
    if not package:
        return os.path.basename(path)  # noqa: PTH119 - pathlib costs an import here, where every millisecond shows
    name = os.path.splitext(os.path.basename(path))[0]  # noqa: PTH119, PTH122 - as above
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def in_shell_completion(environ: Mapping[str, str]) -> bool:
    """Whether the shell asks for completions (``_WORKFLOW_COMPLETE`` and the like): Typer answers those."""
    return any(key.startswith("_") and key.endswith("_COMPLETE") for key in environ)


def help_width() -> int:
    """The width Click wraps help and usage lines to: the terminal's columns, at most 80 and at least 52, minus 2."""
    return max(min(terminal_columns(), MAX_HELP_WIDTH + 2) - 2, MIN_HELP_WIDTH)


def terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says (COLUMNS, else the terminal), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ is not None else 0
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80
