"""The pure-Python form matcher: the fallback where hyperscan cannot run.

All forms are merged into one regular expression shaped as a trie (shared
prefixes factored out), so a text is scanned once whatever the number of
secrets, and the longest form wins where several start at one place. Python's
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
from typing import Any, final

from .matcher import from_utf8, utf8

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
        if self._words is None or len(text) < _FILTER_FROM:
            return self._pattern.sub(self._replacement, text)
        data = utf8(text)
        hits = self._word_hits(data)
        if not hits:
            return text
        masked, _ = self._mask_bytes(data, hits, stop=len(data))
        return from_utf8(masked)

    def mask_before(self, text: str, safe: int) -> tuple[str, str]:
        """Masks the forms starting before ``safe``; returns the masked head and the unprocessed rest."""
        if self._words is not None and len(text) >= _FILTER_FROM:
            data = utf8(text)
            hits = self._word_hits(data)
            if not hits:
                return text[:safe], text[safe:]
            stop = len(data) - len(utf8(text[safe:]))
            masked, keep_from = self._mask_bytes(data, hits, stop=stop)
            return from_utf8(masked), from_utf8(data[keep_from:])
        out: list[str] = []
        pos = 0
        for match in self._pattern.finditer(text):
            if match.start() >= safe:
                break
            out += (text[pos : match.start()], self._replacement)
            pos = match.end()
        keep_from = max(pos, safe)
        out.append(text[pos:keep_from])
        return "".join(out), text[keep_from:]

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

    def _mask_bytes(self, data: bytes, hits: list[int], *, stop: int) -> tuple[bytes, int]:
        """Mask the forms starting before ``stop``, scanning only around the hits.

        A form holding a hit lies inside the hit's window; overlapping
        windows are merged, so every occurrence touching a window is wholly
        inside it and the result equals scanning the whole text. Returns the
        masked bytes and the offset where the unprocessed rest begins.
        """
        reach = self._longest_bytes - 1
        replacement = utf8(self._replacement)
        windows: list[list[int]] = []
        for index in hits:
            start, end = max(0, index * _WORD - reach), min(len(data), index * _WORD + _WORD + reach)
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        out: list[bytes] = []
        done = 0
        for start, end in windows:
            for match in self._byte_pattern.finditer(data, start, end):
                if match.start() >= stop:
                    break
                out += (data[done : match.start()], replacement)
                done = match.end()
        keep_from = max(done, stop)
        out.append(data[done:keep_from])
        return b"".join(out), keep_from
