"""The hyperscan form matcher: every form found in one SIMD pass, at several GB/s.

Imported only when a masker has something to mask, and only where the
``hyperscan`` wheel installs (Linux and macOS on x86_64 and arm64); anywhere
else, or where the library refuses to compile or scan (a CPU without SSSE3),
the masker uses ``masking_regex`` instead, with the same results.

Hyperscan reports every occurrence of every pattern by its end offset, the
overlapping ones included; the masking rule (the union of all occurrences,
see :mod:`.matcher`) is applied afterwards to that short list. Hyperscan
limits a pattern's length, so a long form (a PEM key) is searched by its
first ``_PATTERN_BYTES`` bytes and the whole form is then checked in place.
Each byte is written as ``\\xHH``: the pure-literal compiler would stop at a
NUL byte, which a secret may hold. The database is built for vectored mode
and scanned as a one-buffer vector: block mode adds an engine for short
inputs whose construction took up to 0.9 s for a few odd 5-character
secrets (vectored: under 2 ms for each of thousands of random ones), for a
cost of 0.1 µs per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from typing import cast, final

import hyperscan

from .matcher import FormMatcher, Span, StreamCut, add_occurrence, cut_masked, utf8

__all__ = [
    "HyperscanMatcher",
    "Pattern",
    "compile_matcher",
]

_PATTERN_BYTES = 64
_BLOCK_CHARS = 65536

Pattern = tuple[int, tuple[bytes, ...]]
_MatchContext = tuple[bytes, dict[int, int], list[Pattern]]


def compile_matcher(
    forms: Collection[str], *, replacement: str, fallback: Callable[[], FormMatcher]
) -> HyperscanMatcher | None:
    """A matcher for ``forms``, or None when hyperscan cannot compile them on this machine."""
    try:
        return HyperscanMatcher(forms, replacement=replacement, fallback=fallback)
    except hyperscan.error:
        return None


@final
class HyperscanMatcher:
    """Masks by one hyperscan scan of the text's UTF-8 bytes.

    A scratch space may serve one scan at a time, and hyperscan releases the
    GIL while scanning, so each thread gets its own clone. A scan that fails
    is masked by ``fallback`` instead: a failure must never let text through.
    """

    __slots__ = ("_block", "_database", "_fallback", "_local", "_patterns", "_prototype", "_reach", "_replacement")

    def __init__(self, forms: Collection[str], *, replacement: str, fallback: Callable[[], FormMatcher]) -> None:
        by_pattern = _grouped_by_pattern(map(utf8, forms))
        patterns = sorted(by_pattern)
        self._patterns: list[Pattern] = [
            (len(pattern), tuple(sorted(by_pattern[pattern], key=len, reverse=True))) for pattern in patterns
        ]
        database = hyperscan.Database(mode=hyperscan.HS_MODE_VECTORED)
        database.compile(
            expressions=[_escaped(pattern) for pattern in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=0,
        )
        self._database = database
        self._prototype = hyperscan.Scratch(database)
        self._local = threading.local()
        self._replacement = replacement
        self._fallback = fallback
        self._reach = max(map(len, forms)) - 1
        self._block = max(_BLOCK_CHARS, 4 * self._reach)

    def mask(self, text: str) -> str:
        if len(text) > self._block + self._reach:
            return self._mask_blocks(text)
        data = utf8(text)
        try:
            spans = self._spans(data)
        except hyperscan.error:
            return self._fallback().mask(text)
        if not spans:
            return text
        return cut_masked(text, spans, data=data, safe=len(text), masked_head=None, replacement=self._replacement)[0]

    def mask_stream(self, text: str, *, safe: int, masked_head: int | None) -> StreamCut:
        """Masks ``text`` up to ``safe`` (and through any mask reaching past it); see ``matcher.cut_masked``."""
        return self._mask_stream(text, safe=safe, masked_head=masked_head)[0]

    def _mask_stream(self, text: str, *, safe: int, masked_head: int | None) -> tuple[StreamCut, bool]:
        """``mask_stream`` and whether anything was masked."""
        data = utf8(text)
        try:
            spans = self._spans(data)
        except hyperscan.error:
            return self._fallback().mask_stream(text, safe=safe, masked_head=masked_head), True
        if not spans and masked_head is None:
            return (text[:safe], text[safe:], None), False
        cut = cut_masked(text, spans, data=data, safe=safe, masked_head=masked_head, replacement=self._replacement)
        return cut, True

    def _mask_blocks(self, text: str) -> str:
        """Masks a long text block by block, each block with the reach of the longest form beyond it.

        Blocks keep each copy small and in cache: one pass over a 10 MB text
        measured 3x slower, its three 10 MB copies faulting in fresh memory.
        A form starting in a block ends within its reach, so the blocks
        decide exactly what one pass would; a mask reaching into the next
        block is carried as that block's masked head, as a stream's is.
        """
        pieces: list[str] = []
        done = 0
        masked_head: int | None = None
        masked_any = False
        while done + self._block + self._reach < len(text):
            window = text[done : done + self._block + self._reach]
            (head, _, masked_head), masked = self._mask_stream(window, safe=self._block, masked_head=masked_head)
            pieces.append(head)
            masked_any |= masked
            done += self._block
        last = text[done:]
        (tail, _, _), masked = self._mask_stream(last, safe=len(last), masked_head=masked_head)
        if not (masked_any or masked):
            return text
        pieces.append(tail)
        return "".join(pieces)

    def _spans(self, data: bytes) -> list[Span]:
        """The byte spans to mask, in order: the union of every occurrence of every form."""
        ends: dict[int, int] = {}
        context: _MatchContext = (data, ends, self._patterns)
        # The stub types ``data`` for block mode only; vectored mode takes a list of buffers.
        self._database.scan([data], _record_match, 0, context, self._scratch())  # type: ignore[type-var]
        if not ends:
            return []
        spans: list[Span] = []
        for start in sorted(ends):
            add_occurrence(spans, start, ends[start])
        return spans

    def _scratch(self) -> hyperscan.Scratch:
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._prototype.clone()
        return scratch


def _grouped_by_pattern(forms: Iterable[bytes]) -> dict[bytes, list[bytes]]:
    """The forms by the pattern hyperscan searches them by: the shortest form (or 64-byte head) they start with.

    A form that starts with another form occurs only where that one does,
    so it needs no pattern of its own: it is checked in place when the
    shorter one is found (as a form longer than a pattern is). Base64
    forms with and without their padding, and a secret's forms that extend
    one another, make about a quarter of all forms, and hyperscan's
    compile time grows with the number of patterns. In sorted order, the
    forms starting with a pattern follow it without a gap.
    """
    by_pattern: dict[bytes, list[bytes]] = {}
    pattern = None
    for form in sorted(forms):
        head = form[:_PATTERN_BYTES]
        if pattern is None or not head.startswith(pattern):
            pattern = head
        by_pattern.setdefault(pattern, []).append(form)
    return by_pattern


def _escaped(pattern: bytes) -> bytes:
    """``pattern`` as hyperscan expression text, every byte written ``\\xHH`` (one C pass, not one per byte)."""
    return b"\\x" + pattern.hex("x").replace("x", "\\x").encode()


def _record_match(ident: int, _from: int, to: int, _flags: int, context: object) -> None:
    """Keeps, for each start offset, the end of the longest form found there."""
    data, ends, patterns = cast(_MatchContext, context)
    length, forms = patterns[ident]
    start = to - length
    for form in forms:
        if len(form) == length or data.startswith(form, start):
            if ends.get(start, 0) < start + len(form):
                ends[start] = start + len(form)
            return
