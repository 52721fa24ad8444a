"""The fenced samples of README.md and docs/*.md, and what each one says it is.

The convention (docs/README.md, "For contributors", says it for writers):

* Every fenced block is a sample and one test (``page:line``). A block may be
  preceded, on the line just above its fence, by a directive
  ``<!-- sample: KIND key=value ... -->`` saying what it is; without one, its
  language decides (``DEFAULT_KINDS``). A ``text`` or unlabelled block with no
  directive is a transcript when it starts with ``$ ``, else an error: say what
  it is.
* Samples of one page share one temporary project, in page order, so a block
  can save a file (``file=NAME``) that later blocks of the page use.
* In expected output, ``…`` or ``...`` stands for any text within a line, and a
  line holding only ``...`` for any number of lines.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_KINDS", "Sample", "expected_output_pattern", "page_samples"]

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*sample:\s*(?P<body>.*?)\s*-->\s*$")

DEFAULT_KINDS = {
    "python": "python",
    "bash": "shell",
    "sh": "shell",
    "console": "shell",
    "yaml": "yaml",
}
"""The kind a block gets from its language when no directive names one (``yaml`` is then told by its keys)."""


@dataclass(frozen=True)
class Sample:
    """One fenced block: where it is, its language, its text and its directive's kind and options."""

    page: Path
    line: int
    lang: str
    text: str
    kind: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def test_id(self) -> str:
        return f"{self.page.name}:{self.line}"


def page_samples(page: Path) -> list[Sample]:
    """Every fenced block of ``page``, in order, dedented as far as its fence is indented."""
    lines = page.read_text(encoding="utf-8").splitlines()
    samples: list[Sample] = []
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        start, indent = index, len(opened["indent"])
        index += 1
        body: list[str] = []
        while not re.match(r"^\s*```\s*$", lines[index]):
            assert index + 1 < len(lines), f"{page.name}:{start + 1}: the block is never closed"
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index].lstrip())
            index += 1
        index += 1
        directive = DIRECTIVE.match(lines[start - 1]) if start else None
        text = "\n".join(body) + "\n"
        kind, options = _kind_and_options(opened["lang"], text, directive["body"] if directive else None)
        samples.append(Sample(page, start + 1, opened["lang"], text, kind, options))
    return samples


def _kind_and_options(lang: str, text: str, directive: str | None) -> tuple[str, dict[str, str]]:
    if directive is not None:
        kind, *pairs = shlex.split(directive)
        return kind, dict(pair.split("=", 1) for pair in pairs)
    if lang in ("text", "") and text.startswith("$ "):
        return "shell", {}
    return DEFAULT_KINDS.get(lang, "unspecified"), {}


def expected_output_pattern(expected: str) -> re.Pattern[str]:
    """``expected`` as a pattern: ``…``/``...`` any text in a line, a line of only ``...`` any lines."""
    parts: list[str] = []
    for line in expected.rstrip("\n").splitlines():
        if line.strip() in ("...", "…"):
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        pieces = re.split(r"\.\.\.|…", line.rstrip())
        parts.append(r"[^\n]*?".join(re.escape(piece) for piece in pieces) + r"[ \t]*\n")
    return re.compile("".join(parts), re.DOTALL)
