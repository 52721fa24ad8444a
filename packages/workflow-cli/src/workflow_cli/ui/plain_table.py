"""A Rich table as plain text, written without Rich where that is provably what Rich would print.

Rich lays a table out by measuring and wrapping every cell (for 500 rows
about 380 ms), after importing itself (another 30 to 45 ms), for output
that is usually piped into a file, ``grep`` or ``less``. Piped (not a
terminal), our tables are printed at their natural width
(:func:`.console.print_unfolded`) and without styles, so when every cell is
printable ASCII, a cell's width is its length and the table is only the
cells padded to their column's width between the box's lines:
:func:`table_text` writes that text itself. It declines (None) whatever it
cannot be sure of: a character that is not printable ASCII (whose width
depends on Rich's Unicode tables), a column empty even in its header, a
table wider than a piped table may grow. A terminal, colour, and a stream that cannot encode the box are left
to Rich by the callers (:func:`.console.make_screen`). The tests compare
both renderers on hostile rows for each box.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NamedTuple

    from rich.table import Table

__all__ = ["HEAVY_HEAD", "SIMPLE_HEAD", "TableBox", "is_plain_ascii", "rich_table", "table_text"]

_WIDEST = 10_000
"""The widest table written here: :func:`.console.print_unfolded` caps a piped table there (and folds it)."""


if TYPE_CHECKING:

    class TableBox(NamedTuple):
        """One of Rich's boxes (``rich_name`` in ``rich.box``), its lines as it spells them: left, fill, divider, right.

        ``edge``: the table shows its outer edge and pads its outer cells
        (Rich's ``show_edge`` and ``pad_edge``, which our tables set alike).
        """

        rich_name: str
        top: str
        header: str
        head_rule: str
        row: str
        bottom: str
        edge: bool

else:
    # A named tuple, not a dataclass: making the class costs a tenth (0.15 against 1 ms), on the path of a piped
    # ``plugin list`` and ``run``; made by ``collections.namedtuple``, which neither imports ``typing`` nor compiles
    # each field's annotation as ``typing.NamedTuple`` does (the type checker reads the declaration above).
    TableBox = namedtuple("TableBox", ("rich_name", "top", "header", "head_rule", "row", "bottom", "edge"))


HEAVY_HEAD = TableBox(
    rich_name="HEAVY_HEAD", top="┏━┳┓", header="┃ ┃┃", head_rule="┡━╇┩", row="│ ││", bottom="└─┴┘", edge=True
)
"""``rich.box.HEAVY_HEAD``, Rich's default: the run summary's."""
SIMPLE_HEAD = TableBox(
    rich_name="SIMPLE_HEAD", top="    ", header="    ", head_rule=" ── ", row="    ", bottom="    ", edge=False
)
"""``rich.box.SIMPLE_HEAD`` without its edge: the plugin list's."""


def rich_table(box: TableBox, *, title: str | None = None, header_style: str = "table.header") -> Table:
    """The Rich table (no columns yet) whose text :func:`table_text` writes for the same box and title."""
    from rich import box as rich_box
    from rich.table import Table
    from rich.text import Text

    return Table(
        title=None if title is None else Text(title, style="table.title"),
        title_justify="left",
        box=getattr(rich_box, box.rich_name),
        show_edge=box.edge,
        pad_edge=box.edge,
        header_style=header_style,
        expand=False,
    )


def table_text(rows: Sequence[Sequence[str]], *, box: TableBox, title: str | None = None) -> str | None:
    """What Rich prints for a table of ``rows`` (the header first) on a piped console, or None if not certain.

    Each cell left-justified to its column's widest cell, trailing spaces
    kept, padded with a space on either side (not at the outer edges of a
    table without ``edge``), the columns joined by the box's divider; the
    header ruled off; a title above, as it is (Rich neither pads nor folds
    it on a soft-wrapping console). The cells and the title are shown text
    already (controls neutralised).
    """
    if not all(is_plain_ascii("".join(row)) for row in rows) or (title is not None and not is_plain_ascii(title)):
        return None
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    pads = [2] * len(widths)  # a space either side of each cell
    if not box.edge:
        pads[0] -= 1
        pads[-1] -= 1
    spans = [width + pad for width, pad in zip(widths, pads, strict=True)]
    edges = 2 if box.edge else 0
    if 0 in widths or sum(spans) + len(spans) - 1 + edges > _WIDEST:
        return None  # Rich gives an empty column a width of its own
    outer = " " if box.edge else ""

    def line(chars: str, cells: Sequence[str]) -> str:
        left, _, divider, right = tuple(chars) if box.edge else ("", "", chars[2], "")
        return f"{left}{outer}{f' {divider} '.join(map(str.ljust, cells, widths))}{outer}{right}"

    def rule(chars: str) -> str:
        left, fill, cross, right = tuple(chars) if box.edge else ("", chars[1], chars[2], "")
        return f"{left}{cross.join(fill * span for span in spans)}{right}"

    lines = [title] if title else []  # as Rich, which shows no empty title
    if box.edge:
        lines.append(rule(box.top))
    lines += [line(box.header, rows[0]), rule(box.head_rule)]
    lines += [line(box.row, row) for row in rows[1:]]
    if box.edge:
        lines.append(rule(box.bottom))
    return "\n".join(lines) + "\n"


def is_plain_ascii(text: str) -> bool:
    """Printable ASCII only: one cell per character, and nothing ``neutralise_controls`` would change."""
    return text.isascii() and text.isprintable()
