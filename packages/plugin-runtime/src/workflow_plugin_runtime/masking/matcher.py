"""What every matcher is: the :class:`FormMatcher` contract, the UTF-8 view of a text both matchers scan,
and the masking rule both apply once they have found the forms.

The rule: every character that lies inside some occurrence of some form is
masked, and each run of masked characters becomes one token. Occurrences
that overlap (two secrets sharing characters, or a secret like ``cdcd`` in
``cdcdcd``) or touch (one secret right after another) make one run: masking
each occurrence on its own would leave the part of the second one that the
first does not cover in plain sight, and two tokens side by side would tell
where one value ends.
"""

from __future__ import annotations

from typing import AnyStr, Protocol

__all__ = ["FormMatcher", "Span", "StreamCut", "add_occurrence", "cut_masked", "from_utf8", "utf8"]

Span = tuple[int, int]

StreamCut = tuple[str, str, int | None]
"""What masking a stream's text gives: the output, the text to keep, and the kept text's masked head.

The masked head is None when the output does not end in a mask; else the
number of characters at the start of the kept text that the output's last
mask already covers (0: that mask ends right where the kept text begins).
"""


def utf8(text: str) -> bytes:
    """The bytes a text is matched as; lone surrogates pass so that no text makes masking fail."""
    return text.encode("utf-8", "surrogatepass")


def from_utf8(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


class FormMatcher(Protocol):
    """Applies the masking rule to a text; one per backend."""

    def mask(self, text: str) -> str: ...

    def mask_stream(self, text: str, *, safe: int, masked_head: int | None) -> StreamCut:
        """Masks ``text`` up to ``safe`` (and through any mask reaching past it); see :func:`cut_masked`."""
        ...


def add_occurrence(spans: list[Span], start: int, end: int) -> None:
    """Adds an occurrence starting at or after every span's start, joining the last span if they overlap or touch."""
    if spans and start <= spans[-1][1]:
        if end > spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


def cut_masked(
    text: str, spans: list[Span], *, data: bytes | None, safe: int, masked_head: int | None, replacement: str
) -> StreamCut:
    """The output for ``text`` up to ``safe``, the text to keep, and its masked head (see :data:`StreamCut`).

    ``spans`` are the masked runs of ``text``, as offsets into ``data`` (its
    UTF-8 bytes) or, when ``data`` is None, into ``text`` itself. The caller
    guarantees that every occurrence starting before ``safe`` ends inside
    ``text``; so what precedes ``safe`` and is in no run is in no
    occurrence, and is final. A run that starts before ``safe`` is masked
    whole, even where it reaches past ``safe``: its token is emitted now.
    The kept text is always ``text[safe:]``, the part already covered by
    that token included, so an occurrence that starts in it and ends in
    later text is found whole next time and joins the token (nothing more
    is emitted for it) instead of showing its tail. ``masked_head`` says
    the same of ``text``: its first characters were covered by the last
    token of earlier output, which runs touching them extend.
    """
    if data is None or len(data) == len(text):  # offsets in characters (an ASCII text's bytes are its characters)
        return _cut(text, spans, safe=safe, masked_head=masked_head, replacement=replacement)
    rest = text[safe:]
    safe_byte = len(data) - len(utf8(rest))
    head_bytes = None if masked_head is None else len(utf8(text[:masked_head]))
    out, kept, head = _cut(data, spans, safe=safe_byte, masked_head=head_bytes, replacement=utf8(replacement))
    return from_utf8(out), rest, None if head is None else len(from_utf8(kept[:head]))


def _cut(
    text: AnyStr, spans: list[Span], *, safe: int, masked_head: int | None, replacement: AnyStr
) -> tuple[AnyStr, AnyStr, int | None]:
    pieces: list[AnyStr] = []
    done = masked_head or 0
    masking = masked_head is not None
    for start, end in spans:
        if masking and start <= done:  # the earlier output's last token covers it already
            done = max(done, end)
            continue
        if start >= safe:
            break
        pieces += (text[done:start], replacement)
        done, masking = end, True
    if done < safe:
        pieces.append(text[done:safe])
        done, masking = safe, False
    return text[:0].join(pieces), text[safe:], done - safe if masking else None
