"""Printing a line the way Click's ``echo`` prints a string, without importing Typer (or Click).

The commands the entry point runs without Typer (:mod:`.fast_path`) print
through :func:`echo`, and so do the same commands under Typer, so their
output is one implementation. What Click's ``echo`` does for a ``str`` that
our output relies on, kept here: a newline added, the stream flushed after
every line, ANSI escape sequences stripped when the stream is not a
terminal. What it does beyond that is left to Click itself: a stream whose
encoding is ASCII, which Click re-opens as UTF-8 (:func:`writes_plainly`
is false, so the fast path declines such a process and :func:`echo` hands
the line to Click), bytes (never printed here), and Windows consoles.
"""

from __future__ import annotations

import codecs
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["echo", "writes_plainly"]

ESCAPE = "\x1b"


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
