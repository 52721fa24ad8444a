"""``workflow plugin list`` shown: as plain text where that is exactly what Rich would print, else through Rich.

Piped, the listing (usually read by a file, ``grep`` or ``less``) is
written by :func:`.plain_table.table_text` when every cell is printable
ASCII; anything else (a terminal, a non-ASCII cell, a stream that cannot
encode the rule) goes through Rich (:func:`.render.print_plugin_list`). The
tests compare both renderers on hostile rows wherever this one does not
decline.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .plain_table import SIMPLE_HEAD, is_plain_ascii, table_text

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from workflow_cli.commands.plugin_views import ListEntry

__all__ = ["HEADERS", "display_path", "list_rows", "list_summary", "plugin_list_text", "show_plugin_list"]

HEADERS = ("ref", "version", "actions", "path", "from")
_SHADOWED = "  shadowed"


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

    Rich's table here is ``box.SIMPLE_HEAD`` without its edge
    (:data:`.plain_table.SIMPLE_HEAD`), the summary line under it.
    """
    from workflow_plugin_runtime import neutralise_controls

    rows = [HEADERS]
    for _, cells in list_rows(entries):
        shown = cells
        if not is_plain_ascii("".join(cells)):  # the usual row needs no neutralising: one test for its five cells
            shown = tuple(neutralise_controls(cell) for cell in cells)  # type: ignore[assignment]  # five, still
        rows.append(shown)
    table = table_text(rows, box=SIMPLE_HEAD)
    return None if table is None else table + list_summary(entries) + "\n"


def show_plugin_list(entries: Sequence[ListEntry]) -> None:
    """The list on stdout: as plain text when :func:`plugin_list_text` can write exactly Rich's, else through Rich."""
    from .console import PipedConsole, make_screen, rich_console, write_plainly

    screen = make_screen()
    if isinstance(screen, PipedConsole):
        text = plugin_list_text(entries)
        if text is not None:
            summary_at = text.rindex("\n", 0, -1) + 1
            for part in (text[:summary_at], text[summary_at:]):  # as Rich writes them: table, then summary
                write_plainly(screen.file, part)
            return
    from .render import print_plugin_list

    print_plugin_list(rich_console(screen), entries)
