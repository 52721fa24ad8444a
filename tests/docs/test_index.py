"""The docs stand on their own: every page is reachable from both indexes, and nothing sends a reader elsewhere."""

from __future__ import annotations

import re

from .checks import ROOT

PAGES = sorted(path.name for path in (ROOT / "docs").glob("*.md") if path.name != "README.md")
TEXTS = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
}


def test_every_page_is_linked_from_the_docs_index_and_named_in_the_readme() -> None:
    index, readme = TEXTS["docs/README.md"], TEXTS["README.md"]
    assert [page for page in PAGES if f"]({page})" not in index] == []
    assert [page for page in PAGES if f"docs/{page}" not in readme] == []
    assert "docs/README.md" in readme


def test_every_relative_link_leads_to_a_file_of_the_repository() -> None:
    broken = [
        f"{name}: {target}"
        for name, text in TEXTS.items()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        if not target.startswith(("http://", "https://")) and not ((ROOT / name).parent / target).exists()
    ]
    assert broken == []


def test_no_page_sends_the_reader_outside_the_repository() -> None:
    outside = [
        f"{name}: {url}"
        for name, text in TEXTS.items()
        for url in re.findall(r"https?://[^\s)`'\"]+", text)
        if not re.match(r"https?://(127\.0\.0\.1|localhost)[:/]", url)
    ]
    assert outside == []
    assert [name for name, text in TEXTS.items() if re.search(r"\bSPEC\b", text)] == []
