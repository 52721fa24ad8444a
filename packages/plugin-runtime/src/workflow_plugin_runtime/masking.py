"""The one masker every output path goes through: logs, errors, run records, printed outputs.

A secret leaks in more shapes than its plain text: escaped inside JSON,
URL-encoded in a query string, hex-dumped, base64-encoded on its own or in
the middle of a longer base64 blob (an HTTP Basic header, a JSON document
encoded whole), encoded twice, or one line at a time. ``secret_forms`` lists
those shapes and the masker replaces every one of them with ``***``.

Why ``***`` and not ``***KEY***``: the SDK masks with ``***`` inside plugins,
so the two halves of one log read alike, and a single token says nothing
about which secret or which encoding was hit.

All forms are merged into one regular expression shaped as a trie (shared
prefixes factored out), so a text is scanned once whatever the number of
secrets, and the longest form wins where several start at one place. Python's
``re`` still pays per character for that scan (about 10 MB/s), so long texts
first go through a filter that runs at C speed: the text's UTF-8 bytes are
read as aligned 8-byte words and looked up in the set of every 8-byte window
of every form. A form of at least 15 bytes always covers one aligned word
wherever it sits, so a text with no hit holds no secret and is returned as
is; only the neighbourhood of a hit is scanned by the regex.

Values shorter than ``MIN_SECRET_LENGTH`` are not masked: replacing every
``on`` or ``42`` in a log would ruin it and, by the holes it leaves, reveal
the value anyway; they produce a warning naming the key instead.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import sys
from collections.abc import Mapping
from itertools import compress, count
from typing import Any, final
from urllib.parse import quote, quote_plus

from .errors import Problem, Severity

MASK = "***"
MIN_SECRET_LENGTH = 4
_PROBE = 16
_WORD = 8
_FILTER_FROM = 64
_BLOCK_WORDS = 8192


def short_secret_warning(key: str, value: str) -> Problem | None:
    """The warning for a value too short to mask, naming the key only; None when it is masked."""
    if len(value) >= MIN_SECRET_LENGTH:
        return None
    size = "empty" if not value else f"shorter than {MIN_SECRET_LENGTH} characters"
    return Problem(
        f"secret {key} is {size}, so it is not masked: anything that prints it will show it",
        hint=f"use a value of at least {MIN_SECRET_LENGTH} characters for {key}",
        severity=Severity.WARNING,
    )


def _base64_forms(data: bytes) -> set[str]:
    """Standalone encodings, padded and not, and the stable middle at each byte alignment.

    Inside a longer base64 string the secret starts 0, 1 or 2 bytes into a
    3-byte group; the characters whose 6 bits all come from the secret are
    the same whatever surrounds it, so they are what can be found.
    """
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(data).decode("ascii")
        forms.update((full, full.rstrip("=")))
        for offset in range(3):
            shifted = encode(bytes(offset) + data).decode("ascii").rstrip("=")
            first = -(-8 * offset // 6)
            last = 8 * (offset + len(data)) // 6
            forms.add(shifted[first:last])
    return forms


def secret_forms(value: str) -> frozenset[str]:
    """Every string ``value`` may show up as in output; empty for values too short to mask."""
    if len(value) < MIN_SECRET_LENGTH:
        return frozenset()
    forms = {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value, ensure_ascii=True)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
    }
    data = value.encode("utf-8")
    forms.update((data.hex(), data.hex().upper()))
    forms |= _base64_forms(data)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms |= _base64_forms(encode(data))
    for line in value.splitlines():
        forms.update((line, json.dumps(line, ensure_ascii=False)[1:-1]))
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH)


def _trie_pattern(words: set[str]) -> str:
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
class Masker:
    """Replaces each secret's value, in every form ``secret_forms`` lists, with ``***``.

    Build one per run from the secrets the run uses and hand it to every
    writer. ``warnings`` names the secrets too short to mask (by key only).
    """

    __slots__ = (
        "_byte_pattern",
        "_form_run",
        "_forms",
        "_longest",
        "_longest_bytes",
        "_pattern",
        "_replacement",
        "_words",
        "warnings",
    )

    def __init__(self, secrets: Mapping[str, str], *, replacement: str = MASK) -> None:
        forms: set[str] = set()
        warnings: list[Problem] = []
        for key in sorted(secrets):
            warning = short_secret_warning(key, secrets[key])
            if warning is not None:
                warnings.append(warning)
            forms |= secret_forms(secrets[key])
        self.warnings: tuple[Problem, ...] = tuple(warnings)
        self._replacement = replacement
        self._forms = sorted(forms)
        self._longest = max(map(len, forms), default=0)
        self._pattern = re.compile(_trie_pattern(forms)) if forms else None
        chars = "".join(re.escape(char) for char in sorted(set("".join(forms))))
        self._form_run = re.compile(f"[{chars}]*" if chars else "")
        encoded = {_utf8(form) for form in forms}
        self._longest_bytes = max(map(len, encoded), default=0)
        latin = {form.decode("latin-1") for form in encoded}
        self._byte_pattern = re.compile(_trie_pattern(latin).encode("latin-1")) if forms else None
        self._words: frozenset[int] | None = None
        if forms and min(map(len, encoded)) >= 2 * _WORD - 1:
            self._words = frozenset(
                int.from_bytes(form[i : i + _WORD], sys.byteorder)
                for form in encoded
                for i in range(len(form) - _WORD + 1)
            )

    def __repr__(self) -> str:
        return f"<Masker active={self._pattern is not None}>"

    @property
    def active(self) -> bool:
        """Whether anything is masked at all (no secrets: every call is a no-op)."""
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        if self._words is None or len(text) < _FILTER_FROM:
            return self._pattern.sub(self._replacement, text)
        data = _utf8(text)
        hits = self._word_hits(data)
        if not hits:
            return text
        masked, _ = self._mask_bytes(data, hits, stop=len(data))
        return masked.decode("utf-8", "surrogatepass")

    __call__ = mask

    def mask_data(self, data: Any) -> Any:
        """A copy of JSON-like data with every string masked, dictionary keys included.

        A number whose digits are a secret becomes the masked string: the
        secret must go even if the type changes.
        """
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, Mapping):
            return {self.mask(key) if isinstance(key, str) else key: self.mask_data(item) for key, item in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(item) for item in data]
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            text = json.dumps(data)
            masked = self.mask(text)
            return data if masked == text else masked
        return data

    def stream(self) -> StreamMasker:
        """A masker for text arriving in chunks (a plugin's stderr)."""
        return StreamMasker(self)

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
        assert self._byte_pattern is not None
        reach = self._longest_bytes - 1
        replacement = self._replacement.encode("utf-8")
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

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that a form continues past its end.

        Only the trailing run of characters that occur in forms can qualify
        (a line ending in a newline holds nothing back); within it a short
        probe of each candidate is looked up first, so a huge secret (a PEM
        key) costs one bisection per position, not a copy of each suffix.
        """
        end = len(text)
        window = text[max(0, end - self._longest + 1) :]
        match = self._form_run.match(window[::-1])
        run = match.end() if match else 0
        for start in range(end - run, end):
            probe = text[start : start + _PROBE]
            if self._continues(probe) and (end - start <= _PROBE or self._continues(text[start:])):
                return end - start
        return 0

    def _continues(self, head: str) -> bool:
        """Whether some form starts with ``head`` and is longer than it."""
        forms = self._forms
        index = bisect.bisect_left(forms, head)
        while index < len(forms) and forms[index].startswith(head):
            if len(forms[index]) > len(head):
                return True
            index += 1
        return False


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@final
class StreamMasker:
    """Masks a stream chunk by chunk without letting half a secret through at a boundary.

    The tail of each chunk that could begin a form is held back until the
    next chunk (or ``flush``) says whether it does; the output is exactly
    what ``Masker.mask`` gives on the whole text.
    """

    __slots__ = ("_buffer", "_masker")

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._buffer = ""

    def feed(self, chunk: str) -> str:
        """The part of the stream so far that is safe to emit, masked."""
        masker = self._masker
        pattern = masker._pattern
        if pattern is None:
            return chunk
        text = self._buffer + chunk
        safe = len(text) - masker._held_back(text)
        if masker._words is not None and len(text) >= _FILTER_FROM:
            data = _utf8(text)
            hits = masker._word_hits(data)
            if not hits:
                self._buffer = text[safe:]
                return text[:safe]
            stop = len(data) - len(_utf8(text[safe:]))
            masked, keep_from = masker._mask_bytes(data, hits, stop=stop)
            self._buffer = data[keep_from:].decode("utf-8", "surrogatepass")
            return masked.decode("utf-8", "surrogatepass")
        out: list[str] = []
        pos = 0
        for match in pattern.finditer(text):
            if match.start() >= safe:
                break
            out += (text[pos : match.start()], masker._replacement)
            pos = match.end()
        keep_from = max(pos, safe)
        out.append(text[pos:keep_from])
        self._buffer = text[keep_from:]
        return "".join(out)

    def flush(self) -> str:
        """Whatever was held back, masked: call once at the end of the stream."""
        text, self._buffer = self._buffer, ""
        return self._masker.mask(text)
