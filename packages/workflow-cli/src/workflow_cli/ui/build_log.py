"""Showing an image build: its log streamed as it comes, a spinner on terminals, a readable failure.

The log goes to the console it is given (stderr for ``workflow plugin
build``), so stdout carries only the result line. The log is the plugin's
own (its Dockerfile's commands print it): shown with :func:`.console.plain`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from .console import plain

__all__ = ["build_progress", "print_build_failure"]


@contextmanager
def build_progress(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """A callback printing each build log line; on a terminal a status line spins below them."""

    def show(line: str) -> None:
        console.print(plain(line, "dim"), soft_wrap=True)

    if console.is_terminal:
        with console.status(plain(title)):  # a str would be read as markup, whatever the console says
            yield show
    else:
        console.print(plain(title))
        yield show


def print_build_failure(
    console: Console, message: str, *, step: str | None, output: Sequence[str], hint: str | None
) -> None:
    """The failing step, its last output lines, then the hint: the reader needs nothing scrolled past."""
    console.print(Text.assemble(("error: ", "bold red"), plain(message)))
    if output:
        console.print(plain(f"output of {step}:" if step else "last output:", "bold"))
        for line in output:
            console.print(plain(f"  | {line}"), soft_wrap=True)
    if hint:
        console.print(plain(f"  hint: {hint}"))
