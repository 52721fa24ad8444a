"""The pure-Python form matcher: the fallback where hyperscan cannot run.

All forms are merged into one regular expression shaped as a trie (shared
prefixes factored out), so a text is scanned once whatever the number of
secrets, and a match is the longest form starting at its place. A regular
expression finds non-overlapping matches only, so each search starts again
one character after the last match's start: every place where a form
starts is found, the overlapping ones included, at the cost of rescanning
the inside of each match (matches are rare). Python's
``re`` still pays per character for that scan (about 10 MB/s), so long texts
first go through a filter that runs at C speed: the text's UTF-8 bytes are
read as aligned 8-byte words and looked up in the set of every 8-byte window
of every form. A form of at least 15 bytes always covers one aligned word
wherever it sits, so a text with no hit holds no secret and is returned as
is; only the neighbourhood of a hit is scanned by the regex. One form shorter
than that turns the filter off and every text pays the regex.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from itertools import compress, count
from typing import Any, AnyStr, final

from .matcher import Span, StreamCut, add_occurrence, cut_masked, utf8

__all__ = [
    "RegexMatcher",
]

_WORD = 8
_FILTER_FROM = 64
_BLOCK_WORDS = 8192


def _trie_pattern(words: Collection[str]) -> str:
    """A regex source matching any of ``words``, longest first where several share a start.

    Python's ``re`` tries alternatives one by one, so a flat alternation of
    hundreds of forms costs hundreds of checks per character; a trie keeps
    the checks to the distinct next characters. Chains without branches are
    walked iteratively so a long secret (a PEM key) cannot exhaust recursion.
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = None

    def emit(node: dict[str, Any]) -> str:
        pieces: list[str] = []
        while True:
            children = sorted(key for key in node if key)
            if len(children) == 1 and "" not in node:
                pieces.append(re.escape(children[0]))
                node = node[children[0]]
                continue
            break
        if not children:
            return "".join(pieces)
        branches = [re.escape(char) + emit(node[char]) for char in children]
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            body = f"(?:{body})?"
        return "".join(pieces) + body

    return emit(root)


@final
class RegexMatcher:
    """Masks with the trie regex, scanning long texts only around word-filter hits."""

    __slots__ = ("_byte_pattern", "_longest_bytes", "_pattern", "_replacement", "_words")

    def __init__(self, forms: Collection[str], *, replacement: str) -> None:
        self._replacement = replacement
        self._pattern = re.compile(_trie_pattern(forms))
        encoded = {utf8(form) for form in forms}
        self._longest_bytes = max(map(len, encoded))
        latin = {form.decode("latin-1") for form in encoded}
        self._byte_pattern = re.compile(_trie_pattern(latin).encode("latin-1"))
        self._words: frozenset[int] | None = None
        if min(map(len, encoded)) >= 2 * _WORD - 1:
            self._words = frozenset(
                int.from_bytes(form[i : i + _WORD], sys.byteorder)
                for form in encoded
                for i in range(len(form) - _WORD + 1)
            )

    def mask(self, text: str) -> str:
        data, spans = self._find(text)
        if not spans:
            return text
        return cut_masked(text, spans, data=data, safe=len(text), masked_head=None, replacement=self._replacement)[0]

    def mask_stream(self, text: str, *, safe: int, masked_head: int | None) -> StreamCut:
        """Masks ``text`` up to ``safe`` (and through any mask reaching past it); see ``matcher.cut_masked``."""
        data, spans = self._find(text)
        if not spans and masked_head is None:
            return text[:safe], text[safe:], None
        return cut_masked(text, spans, data=data, safe=safe, masked_head=masked_head, replacement=self._replacement)

    def _find(self, text: str) -> tuple[bytes | None, list[Span]]:
        """The masked runs of ``text``: as offsets into its UTF-8 bytes (returned too) where the filter ran."""
        if self._words is None or len(text) < _FILTER_FROM:
            return None, _occurrences(self._pattern, text, [], start=0, end=len(text))
        data = utf8(text)
        hits = self._word_hits(data)
        return data, self._spans_near(data, hits) if hits else []

    def _word_hits(self, data: bytes) -> list[int]:
        """Indexes of the aligned 8-byte words of ``data`` that occur inside some form.

        Checked in blocks so that one secret in a long text costs a scan of
        its block, not of the whole text.
        """
        assert self._words is not None
        known = self._words
        words = memoryview(data)[: len(data) - len(data) % _WORD].cast("Q")
        hits: list[int] = []
        for start in range(0, len(words), _BLOCK_WORDS):
            block = words[start : start + _BLOCK_WORDS]
            if not known.isdisjoint(block):
                hits += compress(count(start), map(known.__contains__, block))
        return hits

    def _spans_near(self, data: bytes, hits: list[int]) -> list[Span]:
        """The masked runs of ``data``, scanning only around the hits.

        An occurrence holding a hit lies inside the hit's window; touching
        or overlapping windows are merged, so every occurrence is wholly
        inside one window and the result equals scanning the whole text.
        """
        reach = self._longest_bytes - 1
        windows: list[list[int]] = []
        for index in hits:
            start, end = max(0, index * _WORD - reach), min(len(data), index * _WORD + _WORD + reach)
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        spans: list[Span] = []
        for start, end in windows:
            _occurrences(self._byte_pattern, data, spans, start=start, end=end)
        return spans


def _occurrences(pattern: re.Pattern[AnyStr], text: AnyStr, spans: list[Span], *, start: int, end: int) -> list[Span]:
    """``spans`` with every occurrence in ``text[start:end]`` added; the search restarts after each match's start."""
    match = pattern.search(text, start, end)
    while match is not None:
        found = match.start()
        add_occurrence(spans, found, match.end())
        match = pattern.search(text, found + 1, end)
    return spans
