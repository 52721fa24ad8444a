"""Showing an image build: its log streamed as it comes, a spinner on terminals, a readable failure.

The log goes to the console it is given (stderr for ``workflow plugin
build``), so stdout carries only the result line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

__all__ = ["build_progress", "print_build_failure"]


@contextmanager
def build_progress(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """A callback printing each build log line; on a terminal a status line spins below them."""

    def show(line: str) -> None:
        console.print(Text(line, style="dim"), soft_wrap=True)

    if console.is_terminal:
        with console.status(title):
            yield show
    else:
        console.print(title)
        yield show


def print_build_failure(
    console: Console, message: str, *, step: str | None, output: Sequence[str], hint: str | None
) -> None:
    """The failing step, its last output lines, then the hint: the reader needs nothing scrolled past."""
    console.print(Text.assemble(("error: ", "bold red"), message))
    if output:
        console.print(Text(f"output of {step}:" if step else "last output:", style="bold"))
        for line in output:
            console.print(Text(f"  | {line}"), soft_wrap=True)
    if hint:
        console.print(Text(f"  hint: {hint}"))
