"""The one place that imports Rich: consoles, colours, and printing errors.

Colour is off when the stream is not a terminal or ``NO_COLOR`` is set, so
piped output and CI logs stay plain text.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

if TYPE_CHECKING:
    from workflow_plugin_runtime.errors import Problem

__all__ = ["Console", "make_console", "print_error_text", "print_problem"]


def make_console(*, stderr: bool = False, file: TextIO | None = None, width: int | None = None) -> Console:
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    no_color = "NO_COLOR" in os.environ or not stream.isatty()
    return Console(
        file=stream,
        no_color=no_color,
        highlight=False,
        soft_wrap=file is None and not stream.isatty(),
        width=width,
        emoji=False,
    )


def print_problem(console: Console, problem: Problem) -> None:
    """One problem as ``error: file:line:col: field: message`` plus its hint."""
    from rich.text import Text

    label, style = ("warning", "yellow") if problem.severity.value == "warning" else ("error", "red")
    text = Text.assemble((f"{label}: ", f"bold {style}"), str(problem))
    console.print(text)


def print_error_text(console: Console, message: str) -> None:
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), message))
