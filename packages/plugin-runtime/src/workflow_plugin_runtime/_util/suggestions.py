"""``did you mean ...?``: the nearest valid spelling of a mistyped name, for hints."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest"]


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest valid spelling, for ``did you mean ...?`` hints."""
    import difflib

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
