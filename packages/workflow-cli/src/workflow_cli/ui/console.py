"""The one place that imports Rich: consoles, colours, and printing text that is not ours.

Colour is off when the stream is not a terminal or ``NO_COLOR`` is set, so
piped output and CI logs stay plain text.

Everything a plugin, a manifest, a workflow file or a path on disk puts on
the screen is hostile: ``[b]`` in it must not be read as markup (``[/x]``
alone makes Rich raise, and tags Rich removes after masking can split a
secret) and its control characters must not reach the terminal. So the
consoles made here never read markup from strings, and text from outside
goes through :func:`plain`, which also neutralises control characters;
styles come only from our own code, as ``Text`` styles.

Rich is imported when a console is made, not with this module: a command
with nothing to say on stderr (``validate --json`` of a valid workflow,
say) never pays for it (docs/performance.md, "CLI start-up"). Where a
command's stream is not a terminal, :func:`make_screen` gives a
:class:`PipedConsole` instead, which writes text Rich would write unchanged
itself and makes Rich's console only for the rest: a piped ``workflow run``
imports no Rich at all.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console, RenderableType
    from rich.text import Text

    from workflow_plugin_runtime import Problem

__all__ = [
    "Console",
    "PipedConsole",
    "Screen",
    "make_console",
    "make_screen",
    "plain",
    "print_error_text",
    "print_parts",
    "print_problem",
    "print_problems",
    "print_text",
    "print_unfolded",
    "rich_console",
    "write_plainly",
]

_UNFOLDED_MAX_WIDTH = 10_000
"""Widest a piped table may grow: far beyond any real row, short of a runaway one."""


def make_console(*, stderr: bool = False, file: TextIO | None = None, width: int | None = None) -> Console:
    """A console that is a terminal exactly when its stream is one.

    Rich would also take ``FORCE_COLOR`` or ``TTY_COMPATIBLE`` in the
    environment (often set in CI) as a terminal, and then write styles,
    spinners and cursor movements into a log file or a pipe.
    """
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    terminal = stream is not None and stream.isatty()  # None: no stream at all (>&-); Rich then writes nothing
    return Console(
        file=stream,
        stderr=stderr,  # with no stream (2>&-), Rich's default is stdout unless told: it writes nowhere then
        force_terminal=terminal,
        no_color="NO_COLOR" in os.environ or not terminal,
        markup=False,
        highlight=False,
        soft_wrap=file is None and not terminal,
        width=width,
        emoji=False,
    )


class PipedConsole:
    """Stdout or stderr, not a terminal and UTF-8: Rich's console for it is made only when Rich must render.

    Rich's console there (:func:`make_console`: no colour, no markup, soft
    wrapping) writes a line of text without a tab as it is: no styles, no
    folding, no padding (tests/test_progress.py compares the two). So such a
    line is written here, and anything else (a tab, which Rich expands; a
    table) goes through :attr:`rich`.
    """

    is_terminal = False

    def __init__(self, *, stderr: bool) -> None:
        self.file: TextIO = sys.stderr if stderr else sys.stdout
        self.soft_wrap = True
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        """The console :func:`make_console` makes for this stream, made now if it was not."""
        if self._console is None:
            self._console = make_console(stderr=self._stderr)
        return self._console

    def print(self, line: str | RenderableType) -> None:
        """``line`` (text from outside neutralised already) as Rich's console would print it."""
        if isinstance(line, str) and "\t" not in line:
            write_plainly(self.file, line + "\n")
        else:
            self.rich.print(line)


if TYPE_CHECKING:
    Screen = Console | PipedConsole
    """Where a command shows text: a Rich console, or a piped stream that makes one only when it must."""


def make_screen(*, stderr: bool = False) -> Screen:
    """:func:`make_console`'s console, or a :class:`PipedConsole` where the stream is not a terminal and is UTF-8.

    Another encoding is left to Rich, which writes an ASCII box there and
    says what to do when a character cannot be encoded; so is Windows,
    where Rich may write to a console's handle rather than to the stream.
    """
    stream = sys.stderr if stderr else sys.stdout
    if stream is None:  # closed (>&-): Rich's console writes nothing there, as Click's echo does
        return make_console(stderr=stderr)
    if sys.platform != "win32" and not stream.isatty() and (stream.encoding or "utf-8").lower().startswith("utf"):
        return PipedConsole(stderr=stderr)
    return make_console(stderr=stderr)


def write_plainly(stream: IO[str], text: str) -> None:
    """``text`` written and flushed as Rich's console writes it.

    A reader that left (``| head``) or a full device raises nothing here:
    the entry point's streams keep the failure for the end of the command
    (:func:`workflow_cli.terminal.guard_output`).
    """
    stream.write(text)
    stream.flush()


def rich_console(screen: Screen) -> Console:
    """The Rich console behind ``screen``: itself, or the one a :class:`PipedConsole` makes now."""
    return screen.rich if isinstance(screen, PipedConsole) else screen


def print_unfolded(console: Console, renderable: RenderableType) -> None:
    """Print a table (or anything holding one): on a terminal fitted to its width, elsewhere never folded.

    Piped into a file or another program, rows stay whole at their natural
    width, so grep and awk see whole cells; nothing is padded beyond it.
    """
    if not console.is_terminal:
        natural = console.measure(renderable, options=console.options.update_width(_UNFOLDED_MAX_WIDTH)).maximum
        console.width = max(console.width, natural)  # print() caps its width at the console's
    console.print(renderable)


def plain(text: str, style: str = "") -> Text:
    """``text`` shown exactly as written: no markup, control characters visible as ``\\x1b``."""
    from rich.text import Text

    from workflow_plugin_runtime import neutralise_controls

    return Text(neutralise_controls(text), style=style)


def print_text(console: Console, text: str, *, style: str = "") -> None:
    """One line (or more) of text that may hold anything: a path, a plugin's words, a workflow's names."""
    console.print(plain(text, style))


def print_parts(console: Screen, *parts: tuple[str, str]) -> None:
    """One line (or more) from (text, style) parts whose outside text is neutralised already; styles are ours."""
    if isinstance(console, PipedConsole):  # no styles shown there: the words alone
        console.print("".join(text for text, _ in parts))
        return
    from rich.text import Text

    console.print(Text.assemble(*parts))


def print_problem(console: Screen, problem: Problem) -> None:
    """One problem as ``error: file:line:col: field: message`` plus its hint."""
    from workflow_plugin_runtime import Severity, neutralise_controls

    label, style = ("warning", "yellow") if problem.severity is Severity.WARNING else ("error", "red")
    print_parts(console, (f"{label}: ", f"bold {style}"), (neutralise_controls(str(problem)), ""))


def print_problems(problems: Sequence[Problem]) -> None:
    """Each problem on stderr; the console is made only when there is one (and Rich only where it must render)."""
    if problems:
        console = make_screen(stderr=True)
        for problem in problems:
            print_problem(console, problem)


def print_error_text(console: Screen, message: str) -> None:
    from workflow_plugin_runtime import neutralise_controls

    print_parts(console, ("error: ", "bold red"), (neutralise_controls(message), ""))
