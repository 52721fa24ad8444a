"""``workflow plugin list`` shown: as plain text where that is exactly what Rich would print, else through Rich.

Rich lays a table out by measuring and wrapping every cell: for 500 plugins
that is about 380 ms, and importing Rich another 45 ms, for a listing that
is usually piped into a file, ``grep`` or ``less``. Piped (not a terminal),
the table is printed at its natural width (:func:`.console.print_unfolded`)
and without styles, so when every cell is printable ASCII, each cell's width
is its length and the table is only the cells padded to their column's
width: :func:`plugin_list_text` writes that text itself. Anything else (a
terminal, whose styles and width Rich decides; a non-ASCII cell, whose width
depends on Rich's Unicode tables; a stream that cannot encode the rule) goes
through Rich (:func:`.render.print_plugin_list`). The tests compare both
renderers on hostile rows wherever this one does not decline.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from workflow_cli.commands.plugin_views import ListEntry

__all__ = ["HEADERS", "display_path", "list_rows", "list_summary", "plugin_list_text", "show_plugin_list"]

HEADERS = ("ref", "version", "actions", "path", "from")
_SHADOWED = "  shadowed"
_WIDEST = 10_000
"""The widest table the fast path writes: :func:`.console.print_unfolded` caps a piped table there (and folds it)."""


def display_path(path: str) -> str:
    """A path as short as it stays unambiguous: relative below the current folder, ``~`` for home."""
    return _shown(path, _bases())


def _bases() -> tuple[tuple[str, str], ...]:
    from pathlib import Path

    return (str(Path.cwd()), "."), (str(Path.home()), "~")


def _shown(path: str, bases: tuple[tuple[str, str], ...]) -> str:
    """:func:`display_path` on strings, for the resolver's absolute, normalised paths (once per listed plugin)."""
    for base, shown in bases:
        if path == base:
            return shown
        prefix = base if base.endswith(os.sep) else base + os.sep
        if path.startswith(prefix):
            relative = path[len(prefix) :]
            return f"~/{relative}" if shown == "~" else relative
    return path


def list_rows(entries: Sequence[ListEntry]) -> Iterator[tuple[bool, tuple[str, str, str, str, str]]]:
    """Each row's cells as text (not yet neutralised), after whether it is a shadowed copy's."""
    bases = _bases()
    for entry in entries:
        yield (
            False,
            (
                entry["ref"],
                entry["version"],
                ", ".join(entry["actions"]),
                _shown(entry["path"], bases),
                entry["source"],
            ),
        )
        for copy in entry["shadowed_copies"]:
            yield True, (_SHADOWED, copy["version"] or "broken", "", _shown(copy["path"], bases), copy["source"])


def list_summary(entries: Sequence[ListEntry]) -> str:
    """``3 plugins; 1 shadows other copies (...)``: the line under the table."""
    shadowing = sum(1 for entry in entries if entry["shadowed"])
    summary = f"{len(entries)} plugin{'s' if len(entries) != 1 else ''}"
    if shadowing:
        summary += f"; {shadowing} shadow{'s' if shadowing == 1 else ''} other copies (the first on plugins.paths wins)"
    return summary


def plugin_list_text(entries: Sequence[ListEntry]) -> str | None:
    """What Rich prints for the list on a stream that is not a terminal, or None where that is not certain.

    Rich's table here (``box.SIMPLE_HEAD``, no edge, ``pad_edge=False``):
    each cell padded with a space on either side except at the table's
    edges, columns joined by a space, the header, then a rule of ``─`` as
    wide as the table; every cell left-justified to its column's widest
    cell, trailing spaces kept. It declines any cell that is not printable
    ASCII, since only there is a character's width its length.
    """
    from workflow_plugin_runtime import neutralise_controls

    rows = [HEADERS]
    for _, cells in list_rows(entries):
        shown = cells
        if not _plain_ascii("".join(cells)):  # the usual row needs no neutralising: one test for its five cells
            shown = tuple(neutralise_controls(cell) for cell in cells)  # type: ignore[assignment]  # five, still
            if not _plain_ascii("".join(shown)):
                return None
        rows.append(shown)
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    table_width = sum(widths) + 3 * (len(widths) - 1)  # a space of padding, the divider, a space of padding
    if table_width > _WIDEST:
        return None
    lines = ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "─" * table_width)
    lines.append(list_summary(entries))
    return "\n".join(lines) + "\n"


def _plain_ascii(text: str) -> bool:
    """Printable ASCII only: one cell per character, and nothing :func:`neutralise_controls` would change."""
    return text.isascii() and text.isprintable()


def show_plugin_list(entries: Sequence[ListEntry]) -> None:
    """The list on stdout: as plain text when :func:`plugin_list_text` can write exactly Rich's, else through Rich."""
    stream = sys.stdout
    if not stream.isatty() and (stream.encoding or "utf-8").lower().startswith("utf"):
        text = plugin_list_text(entries)
        if text is not None:
            summary_at = text.rindex("\n", 0, -1) + 1
            try:
                for part in (text[:summary_at], text[summary_at:]):  # as Rich writes them: table, then summary
                    stream.write(part)
                    stream.flush()
            except BrokenPipeError:  # the reader left (| head): exit 1 with nothing more to say, as Rich does
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
                raise SystemExit(1) from None
            return
    from .console import make_console
    from .render import print_plugin_list

    print_plugin_list(make_console(), entries)
