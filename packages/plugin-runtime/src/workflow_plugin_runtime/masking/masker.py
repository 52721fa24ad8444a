"""The one masker every output path goes through: logs, errors, run records, printed outputs.

A secret leaks in more shapes than its plain text (escaped in JSON or XML,
URL-encoded, base64-encoded, one line at a time): ``forms.secret_forms``
lists those shapes and the masker replaces every one of them with ``***``.

Why ``***`` and not ``***KEY***``: the SDK masks with ``***`` inside plugins,
so the two halves of one log read alike, and a single token says nothing
about which secret or which encoding was hit.

The rule: every character inside some occurrence of some form is masked,
and each run of masked characters (occurrences that overlap or touch) is
one ``***`` (see :mod:`.matcher`). Two matchers apply it with identical
results: hyperscan
(``masking_hyperscan``; a text without secrets costs less than reading it
from a file) where its wheel installs and runs, else a trie-shaped regular
expression behind a C-speed word filter (``masking_regex``), several times
slower on long texts and much slower when a secret is short.

Values shorter than ``MIN_SECRET_LENGTH`` are not masked: replacing every
``on`` or ``42`` in a log would ruin it and, by the holes it leaves, reveal
the value anyway; nor are values of whitespace only (every run of spaces
would go). Both produce a warning naming the key, never the value.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, final

from ..errors import Problem, Severity

if TYPE_CHECKING:
    from .matcher import FormMatcher
    from .regex_matcher import RegexMatcher

__all__ = [
    "MASK",
    "Masker",
    "MatchBackend",
    "StreamMasker",
    "short_secret_warning",
]

MASK = "***"
_PROBE = 16
_REMEMBERED_CHARS = 64
"""Texts up to this long are masked once and remembered: a record repeats its keys, statuses and names per task."""
_REMEMBERED_TEXTS = 4096
_NUMBER_CHARS = frozenset("0123456789+-.eE") | frozenset("NaNInfinity")
"""Every character ``json.dumps`` may write for a number: a form made of others never occurs in one."""


class MatchBackend(enum.Enum):
    """How a masker finds forms; ``AUTO`` takes hyperscan when it installs and runs here."""

    AUTO = "auto"
    HYPERSCAN = "hyperscan"
    REGEX = "regex"


def short_secret_warning(key: str, value: str) -> Problem | None:
    """The warning for a value too short (or too blank) to mask, naming the key only; None when it is masked."""
    from .forms import MIN_SECRET_LENGTH

    if len(value) >= MIN_SECRET_LENGTH and value.strip():
        return None
    hint = f"use a value of at least {MIN_SECRET_LENGTH} characters for {key}"
    if not value:
        size = "empty"
    elif len(value) < MIN_SECRET_LENGTH:
        size = f"shorter than {MIN_SECRET_LENGTH} characters"
    else:
        size, hint = "only whitespace", f"use a value that is not only whitespace for {key}"
    return Problem(
        f"secret {key} is {size}, so it is not masked: anything that prints it will show it",
        hint=hint,
        severity=Severity.WARNING,
    )


@final
class Masker:
    """Replaces each secret's value, in every form ``secret_forms`` lists, with ``***``.

    Build one per run from the secrets the run uses and hand it to every
    writer; it is safe to share between threads. ``warnings`` names the
    secrets too short or too blank to mask (by key only). ``backend`` picks the matcher:
    asking for hyperscan where it cannot run gives the regex matcher, never
    a masker that fails.
    """

    __slots__ = (
        "_backend",
        "_form_chars",
        "_form_run",
        "_forms",
        "_longest",
        "_masked",
        "_matcher",
        "_numbers_may_match",
        "_regex",
        "_replacement",
        "_reversed_forms",
        "warnings",
    )

    def __init__(
        self, secrets: Mapping[str, str], *, replacement: str = MASK, backend: MatchBackend = MatchBackend.AUTO
    ) -> None:
        forms: set[str] = set()
        warnings: list[Problem] = []
        if secrets:
            from .forms import secret_forms
        for key in sorted(secrets):
            warning = short_secret_warning(key, secrets[key])
            if warning is not None:
                warnings.append(warning)
            forms |= secret_forms(secrets[key])
        self.warnings: tuple[Problem, ...] = tuple(warnings)
        self._replacement = replacement
        self._forms = sorted(forms)
        self._longest = max(map(len, forms), default=0)
        self._form_chars = frozenset("".join(forms))
        chars = "".join(re.escape(char) for char in sorted(self._form_chars))
        self._form_run = re.compile(f"[{chars}]*" if chars else "")
        self._masked: dict[str, str] = {}
        self._numbers_may_match = any(_NUMBER_CHARS.issuperset(form) for form in forms)
        self._regex: RegexMatcher | None = None
        self._reversed_forms: list[str] | None = None
        self._matcher: FormMatcher | None = None
        self._backend: MatchBackend | None = None
        if forms and backend is not MatchBackend.REGEX:
            self._matcher = _hyperscan_matcher(self._forms, replacement=replacement, fallback=self._regex_matcher)
            self._backend = MatchBackend.HYPERSCAN
        if forms and self._matcher is None:
            self._matcher = self._regex_matcher()
            self._backend = MatchBackend.REGEX

    def __repr__(self) -> str:
        return f"<Masker active={self.active}>"

    @property
    def active(self) -> bool:
        """Whether anything is masked at all (no secrets: every call is a no-op)."""
        return self._matcher is not None

    @property
    def backend(self) -> MatchBackend | None:
        """The matcher in use: ``HYPERSCAN`` or ``REGEX``; None when there is nothing to mask."""
        return self._backend

    def mask(self, text: str) -> str:
        if self._matcher is None:
            return text
        if len(text) > _REMEMBERED_CHARS:
            return self._matcher.mask(text)
        masked = self._masked.get(text)
        if masked is None:
            masked = self._matcher.mask(text)
            if len(self._masked) >= _REMEMBERED_TEXTS:
                self._masked.clear()  # a bound, not an eviction policy: what repeats is remembered again at once
            self._masked[text] = masked
        return masked

    __call__ = mask

    def mask_data(self, data: Any) -> Any:
        """A copy of JSON-like data with every string masked, dictionary keys included.

        A number whose digits are a secret becomes the masked string: the
        secret must go even if the type changes.
        """
        if self._matcher is None:
            return data
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, Mapping):
            return self._mask_dict(data if data.__class__ is dict else dict(data))
        if isinstance(data, (list, tuple)):
            return [self.mask_data(item) for item in data]
        if isinstance(data, (int, float)) and not isinstance(data, bool) and self._numbers_may_match:
            text = json.dumps(data)
            masked = self.mask(text)
            return data if masked == text else masked
        return data

    def _mask_dict(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """``mask_data`` of a mapping, the plain values in it settled here: a run record is thousands of them.

        A string, a number, a dict within is told by its exact type, without
        a call of ``mask_data`` and its checks of abstract types for each;
        any other value (a subclass, a list) takes the general way.
        """
        remembered = self._masked
        numbers_may_match = self._numbers_may_match
        masked_entries: dict[Any, Any] = {}  # the usual case: no two keys mask alike, checked by the count kept
        for key, item in data.items():
            value: Any
            kind = item.__class__
            if kind is str:
                value = remembered.get(item)
                if value is None:
                    value = self.mask(item)
            elif kind is dict:
                value = self._mask_dict(item)
            elif item is None or kind is bool or ((kind is int or kind is float) and not numbers_may_match):
                value = item
            else:
                value = self.mask_data(item)
            shown = remembered.get(key) if key.__class__ is str else None
            if shown is None:
                shown = self.mask(key) if isinstance(key, str) else key
            masked_entries[shown] = value
        return masked_entries if len(masked_entries) == len(data) else self._mask_keys_apart(data)

    def _mask_keys_apart(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """A masked copy of a mapping that keeps every entry where two keys mask alike (the rare case, done again).

        Two keys that are different secrets (or a secret and a literal
        ``***``) both mask to ``***``: the later one becomes ``***#2`` (then
        ``#3``..., skipping names the mapping holds itself), numbered by its
        place in the mapping, never by which secret it was. Values are never
        merged, so equal masked values need nothing of the kind.
        """
        masked: dict[Any, Any] = {}
        for key, item in data.items():
            shown = self.mask(key) if isinstance(key, str) else key
            if shown in masked and isinstance(shown, str):
                shown = _distinct_key(shown, masked, data)
            masked[shown] = self.mask_data(item)
        return masked

    def stream(self) -> StreamMasker:
        """A masker for text arriving in chunks (a plugin's stderr)."""
        return StreamMasker(self)

    def without_cut_head(self, text: str) -> str:
        """``text`` less the longest head that a form could end with: for a text whose start was cut off.

        The counterpart of the stream's hold-back: where a stderr tail was
        cut out of a longer stream, its first characters may be the end of a
        secret whose start was cut away, which masking cannot recognise.
        Any head that some form ends with (and is longer than) is dropped;
        innocent text lost that way is at most one form long.
        """
        if self._matcher is None:
            return text
        if self._reversed_forms is None:
            self._reversed_forms = sorted(form[::-1] for form in self._forms)
        forms = self._reversed_forms
        match = self._form_run.match(text, 0, self._longest - 1)
        run = match.end() if match else 0
        from bisect import bisect_left  # only a masker with secrets gets here: a run without loads none of it

        for end in range(run, 0, -1):
            probe = text[max(0, end - _PROBE) : end][::-1]
            if _continues(forms, probe, bisect_left) and (
                end <= _PROBE or _continues(forms, text[:end][::-1], bisect_left)
            ):
                return text[end:]
        return text

    def _regex_matcher(self) -> RegexMatcher:
        """The regex matcher, built on first use: hyperscan maskers need it only if a scan fails."""
        if self._regex is None:
            from .regex_matcher import RegexMatcher  # only with secrets, and only without hyperscan or when it fails

            self._regex = RegexMatcher(self._forms, replacement=self._replacement)
        return self._regex

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that a form continues past its end.

        Only the trailing run of characters that occur in forms can qualify
        (a line ending in a newline holds nothing back); within it a short
        probe of each candidate is looked up first, so a huge secret (a PEM
        key) costs one bisection per position, not a copy of each suffix.
        """
        if text[-1:] not in self._form_chars:
            return 0
        end = len(text)
        window = text[max(0, end - self._longest + 1) :]
        match = self._form_run.match(window[::-1])
        run = match.end() if match else 0
        from bisect import bisect_left  # as in without_cut_head

        for start in range(end - run, end):
            probe = text[start : start + _PROBE]
            if _continues(self._forms, probe, bisect_left) and (
                end - start <= _PROBE or _continues(self._forms, text[start:], bisect_left)
            ):
                return end - start
        return 0


def _distinct_key(key: str, masked: Mapping[Any, Any], original: Mapping[Any, Any]) -> str:
    """``key#2``, ``key#3``...: the first that is neither a key placed so far nor one the mapping holds itself."""
    number = 2
    while f"{key}#{number}" in masked or f"{key}#{number}" in original:
        number += 1
    return f"{key}#{number}"


def _continues(forms: list[str], head: str, bisect_left: Callable[[list[str], str], int]) -> bool:
    """Whether one of the sorted ``forms`` starts with ``head`` and is longer than it (``bisect.bisect_left``)."""
    index = bisect_left(forms, head)
    while index < len(forms) and forms[index].startswith(head):
        if len(forms[index]) > len(head):
            return True
        index += 1
    return False


def _hyperscan_matcher(
    forms: Collection[str], *, replacement: str, fallback: Callable[[], FormMatcher]
) -> FormMatcher | None:
    """The hyperscan matcher, or None where the library is missing or cannot compile here."""
    try:
        from .hyperscan_matcher import compile_matcher
    except ImportError:
        return None
    return compile_matcher(forms, replacement=replacement, fallback=fallback)


@final
class StreamMasker:
    """Masks a stream chunk by chunk without letting half a secret through at a boundary.

    The tail of each chunk that could begin a form is held back until the
    next chunk (or ``flush``) says whether it does; the output is exactly
    what ``Masker.mask`` gives on the whole text.

    A mask is emitted as soon as its first occurrence is complete, even when
    a later occurrence may extend it: the held-back tail is kept together
    with the part of it that mask already covers (``_masked_head``), so an
    occurrence that starts under the mask and ends in a later chunk is
    found whole, and joins the mask already emitted: nothing is emitted
    for it, and no character of it is ever emitted in plain text.
    """

    __slots__ = ("_buffer", "_masked_head", "_masker")

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._buffer = ""
        self._masked_head: int | None = None

    def feed(self, chunk: str) -> str:
        """The part of the stream so far that is safe to emit, masked."""
        masker = self._masker
        matcher = masker._matcher
        if matcher is None:
            return chunk
        text = self._buffer + chunk
        safe = len(text) - masker._held_back(text)
        out, self._buffer, self._masked_head = matcher.mask_stream(text, safe=safe, masked_head=self._masked_head)
        return out

    def flush(self) -> str:
        """Whatever was held back, masked: call once at the end of the stream."""
        text, self._buffer = self._buffer, ""
        masked_head, self._masked_head = self._masked_head, None
        matcher = self._masker._matcher
        if matcher is None:
            return text
        return matcher.mask_stream(text, safe=len(text), masked_head=masked_head)[0]
