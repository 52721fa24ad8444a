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
prefixes factored out), so scanning a text costs one pass whatever the number
of secrets, and the longest form wins where several start at one place.
Values shorter than ``MIN_SECRET_LENGTH`` are not masked: replacing every
``on`` or ``42`` in a log would ruin it and, by the holes it leaves, reveal
the value anyway; they produce a warning naming the key instead.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from collections.abc import Mapping
from typing import Any, final
from urllib.parse import quote, quote_plus

from .errors import Problem, Severity

MASK = "***"
MIN_SECRET_LENGTH = 4
_PROBE = 16


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

    __slots__ = ("_forms", "_longest", "_pattern", "_replacement", "warnings")

    def __init__(self, secrets: Mapping[str, str], *, replacement: str = MASK) -> None:
        forms: set[str] = set()
        warnings: list[Problem] = []
        for key in sorted(secrets):
            value = secrets[key]
            if len(value) < MIN_SECRET_LENGTH:
                size = "empty" if not value else f"shorter than {MIN_SECRET_LENGTH} characters"
                warnings.append(
                    Problem(
                        f"secret {key} is {size}, so it is not masked: anything that prints it will show it",
                        hint=f"use a value of at least {MIN_SECRET_LENGTH} characters for {key}",
                        severity=Severity.WARNING,
                    )
                )
                continue
            forms |= secret_forms(value)
        self.warnings: tuple[Problem, ...] = tuple(warnings)
        self._replacement = replacement
        self._pattern = re.compile(_trie_pattern(forms)) if forms else None
        self._longest = max(map(len, forms), default=0)
        self._forms = sorted(forms)

    def __repr__(self) -> str:
        return f"<Masker active={self._pattern is not None}>"

    @property
    def active(self) -> bool:
        """Whether anything is masked at all (no secrets: every call is a no-op)."""
        return self._pattern is not None

    def mask(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(self._replacement, text)

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

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that a form continues past its end.

        A short probe of each candidate suffix is looked up first so that a
        huge secret (a PEM key) costs one cheap bisection per position, not a
        copy of the whole suffix.
        """
        end = len(text)
        for start in range(max(0, end - self._longest + 1), end):
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
        if masker._pattern is None:
            return chunk
        text = self._buffer + chunk
        safe = len(text) - masker._held_back(text)
        out: list[str] = []
        pos = 0
        for match in masker._pattern.finditer(text):
            if match.start() >= safe:
                break
            out.append(text[pos : match.start()])
            out.append(masker._replacement)
            pos = match.end()
        keep_from = max(pos, safe)
        out.append(text[pos:keep_from])
        self._buffer = text[keep_from:]
        return "".join(out)

    def flush(self) -> str:
        """Whatever was held back, masked: call once at the end of the stream."""
        text, self._buffer = self._buffer, ""
        return self._masker.mask(text)
