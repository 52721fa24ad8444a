"""ui/plugin_list_text.py: the plain-text listing is byte for byte what Rich prints, or it declines."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.ui.console import make_console
from workflow_cli.ui.plugin_list_text import display_path, plugin_list_text, show_plugin_list
from workflow_cli.ui.render import print_plugin_list

from .conftest import HOSTILE_CHARACTERS, PRINTABLE_ASCII

FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
CONTROLS = st.sampled_from(["\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\u2066"])


def rich_output(entries: list[Any]) -> str:
    """What Rich's renderer prints on a stdout that is not a terminal, as the command's console is made."""
    with redirect_stdout(io.StringIO()) as out:
        print_plugin_list(make_console(), entries)
    return out.getvalue()


@st.composite
def listings(draw: st.DrawFn, pieces: st.SearchStrategy[str]) -> list[Any]:
    text = st.lists(pieces, max_size=12).map("".join)
    below = st.sampled_from([str(Path.cwd()), str(Path.home()), "/elsewhere", ""])
    path = st.builds(lambda base, tail: f"{base}/{tail}" if tail else base or "/", below, text)
    copy = st.fixed_dictionaries({"path": path, "version": st.one_of(st.none(), text), "source": text})
    entry = st.fixed_dictionaries(
        {
            "ref": text,
            "version": text,
            "description": text,
            "path": path,
            "source": text,
            "actions": st.lists(text, max_size=3),
            "shadowed_copies": st.lists(copy, max_size=2),
        }
    )
    entries = draw(st.lists(entry, min_size=1, max_size=6))
    for each in entries:
        each["shadowed"] = [copy["path"] for copy in each["shadowed_copies"]]
    return entries


@settings(max_examples=150, deadline=None)
@given(entries=listings(HOSTILE_CHARACTERS))
def test_hostile_rows_are_printed_as_rich_prints_them_or_declined(entries):
    text = plugin_list_text(entries)

    if text is not None:
        assert text == rich_output(entries)


@settings(max_examples=150, deadline=None)
@given(entries=listings(st.one_of(PRINTABLE_ASCII, CONTROLS)))
def test_ascii_rows_and_neutralised_controls_take_the_plain_path_and_match_rich(entries):
    text = plugin_list_text(entries)

    assert text is not None  # controls are shown as \x1b, \u202e: printable ASCII again
    assert text == rich_output(entries)


def entry(ref: str, path: str, *, source: str = "--plugins-path") -> dict[str, Any]:
    return {
        "ref": ref,
        "version": "1.0.0",
        "description": "",
        "path": path,
        "source": source,
        "actions": ["run", "check"],
        "shadowed": [],
        "shadowed_copies": [],
    }


def test_a_cell_rich_measures_by_its_unicode_tables_is_left_to_rich():
    assert plugin_list_text([entry("acme/界", "/x")]) is None
    assert plugin_list_text([entry("acme/e\u0301", "/x")]) is None
    assert plugin_list_text([entry("acme/tab", "/x", source="a\tb")]) is None  # Rich expands tabs


def test_a_table_wider_than_a_piped_table_may_grow_is_left_to_rich():
    wide = entry("acme/wide", "/" + "w" * 10_000)

    assert plugin_list_text([wide]) is None
    assert plugin_list_text([entry("acme/narrow", "/" + "w" * 9_000)]) == rich_output(
        [entry("acme/narrow", "/" + "w" * 9_000)]
    )


def test_show_writes_the_plain_text_on_a_pipe_and_rich_agrees(tmp_path):
    entries = [entry("acme/one", str(tmp_path / "one")), entry("acme/two", str(Path.cwd() / "two"))]
    entries[1]["shadowed_copies"] = [{"path": "/x/two", "version": None, "source": "entry point two"}]
    entries[1]["shadowed"] = ["/x/two"]

    with redirect_stdout(io.StringIO()) as out:
        show_plugin_list(entries)

    assert out.getvalue() == rich_output(entries)
    assert "  shadowed   broken" in out.getvalue()
    assert out.getvalue().endswith("2 plugins; 1 shadows other copies (the first on plugins.paths wins)\n")


def test_display_path_is_relative_below_the_working_folder_and_home(tmp_path, monkeypatch):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", f"{home}/")  # as a user may write it: the trailing slash must not matter

    assert display_path(str(work)) == "."
    assert display_path(str(work / "a" / "b")) == "a/b"
    assert display_path(str(home)) == "~"
    assert display_path(str(home / "plugins" / "p")) == "~/plugins/p"
    assert display_path(f"{work}-sibling/p") == f"{work}-sibling/p"
    assert display_path(f"{home}-sibling/p") == f"{home}-sibling/p"
    monkeypatch.chdir("/")
    assert display_path(str(home / "p")) == str(home / "p").lstrip("/")  # everything is below /


def test_a_reader_that_left_ends_the_listing_with_exit_1_and_nothing_on_stderr(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head -1` has, once it read its line: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "workflow_cli", "plugin", "list", "-p", str(FIXTURE_PLUGINS)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "NO_COLOR": "1"},
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)

    assert (done.returncode, done.stderr) == (1, b"")
