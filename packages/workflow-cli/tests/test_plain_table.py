"""ui/plain_table.py: a table written as plain text is byte for byte what Rich prints, for each box, or declined."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.ui.console import make_console, print_unfolded
from workflow_cli.ui.plain_table import HEAVY_HEAD, SIMPLE_HEAD, TableBox, rich_table, table_text
from workflow_plugin_runtime import neutralise_controls

from .conftest import HOSTILE_CHARACTERS, PRINTABLE_ASCII

BOXES = {"heavy head (run summary)": HEAVY_HEAD, "simple head (plugin list)": SIMPLE_HEAD}


def rich_table_output(rows: list[list[str]], *, box: TableBox, title: str | None) -> str:
    """What Rich prints for the table, as our commands make it, on a stdout that is not a terminal."""
    table = rich_table(box, title=title)
    for header in rows[0]:
        table.add_column(header, overflow="fold")
    for row in rows[1:]:
        table.add_row(*row)  # plain strings: the console reads no markup
    with redirect_stdout(io.StringIO()) as out:
        print_unfolded(make_console(), table)
    return out.getvalue()


@st.composite
def tables(draw: st.DrawFn, pieces: st.SearchStrategy[str]) -> tuple[list[list[str]], str | None]:
    text = st.lists(pieces, max_size=10).map("".join).map(neutralise_controls)  # cells are shown text
    header = st.lists(pieces, min_size=1, max_size=10).map("".join).map(neutralise_controls)  # ours have words
    headers = draw(st.lists(header, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(text, min_size=len(headers), max_size=len(headers)), max_size=6))
    return [headers, *rows], draw(st.one_of(st.none(), text))


@pytest.mark.parametrize("box", list(BOXES.values()), ids=list(BOXES))
@settings(max_examples=150, deadline=None)
@given(table=tables(HOSTILE_CHARACTERS))
def test_hostile_cells_are_printed_as_rich_prints_them_or_declined(box, table):
    rows, title = table

    text = table_text(rows, box=box, title=title)

    if text is not None:
        assert text == rich_table_output(rows, box=box, title=title)


@pytest.mark.parametrize("box", list(BOXES.values()), ids=list(BOXES))
@settings(max_examples=100, deadline=None)
@given(table=tables(st.one_of(PRINTABLE_ASCII, st.sampled_from(["\x1b", "\x00", "\x9b", "\u202e", "[b]", "[/x]"]))))
def test_printable_ascii_and_neutralised_controls_are_written_plainly_and_match_rich(box, table):
    rows, title = table

    text = table_text(rows, box=box, title=title)

    assert text is not None
    assert text == rich_table_output(rows, box=box, title=title)


@pytest.mark.parametrize("box", list(BOXES.values()), ids=list(BOXES))
def test_a_cell_rich_measures_by_its_unicode_tables_or_expands_is_left_to_rich(box):
    for cell in ("界", "e\u0301", "a\tb", "two\nlines", "\u200d"):
        assert table_text([["head"], [cell]], box=box) is None
    assert table_text([["head"], ["x"]], box=box, title="wide 界") is None
    assert table_text([["head", ""], ["x", ""]], box=box) is None  # Rich gives an empty column a width


def test_a_table_wider_than_a_piped_table_may_grow_is_left_to_rich():
    assert table_text([["a", "b"], ["x" * 9_993, "y"]], box=HEAVY_HEAD) is None  # 10,001 wide
    narrow = [["a", "b"], ["x" * 9_992, "y"]]  # 10,000 wide: the widest Rich leaves unfolded
    assert table_text(narrow, box=HEAVY_HEAD) == rich_table_output(narrow, box=HEAVY_HEAD, title=None)
