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
say) never pays for it (docs/performance.md, "CLI start-up").
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console, RenderableType
    from rich.text import Text

    from workflow_plugin_runtime import Problem

__all__ = [
    "Console",
    "make_console",
    "plain",
    "print_error_text",
    "print_problem",
    "print_problems",
    "print_text",
    "print_unfolded",
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
    terminal = stream.isatty()
    return Console(
        file=stream,
        force_terminal=terminal,
        no_color="NO_COLOR" in os.environ or not terminal,
        markup=False,
        highlight=False,
        soft_wrap=file is None and not terminal,
        width=width,
        emoji=False,
    )


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


def print_problem(console: Console, problem: Problem) -> None:
    """One problem as ``error: file:line:col: field: message`` plus its hint."""
    from rich.text import Text

    from workflow_plugin_runtime import Severity

    label, style = ("warning", "yellow") if problem.severity is Severity.WARNING else ("error", "red")
    console.print(Text.assemble((f"{label}: ", f"bold {style}"), plain(str(problem))))


def print_problems(problems: Sequence[Problem]) -> None:
    """Each problem on stderr; the console (and Rich) is made only when there is one."""
    if problems:
        console = make_console(stderr=True)
        for problem in problems:
            print_problem(console, problem)


def print_error_text(console: Console, message: str) -> None:
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), plain(message)))
