"""What every matcher is: the :class:`FormMatcher` contract, and the UTF-8 view of a text both matchers scan."""

from __future__ import annotations

from typing import Protocol

__all__ = ["FormMatcher", "from_utf8", "utf8"]


def utf8(text: str) -> bytes:
    """The bytes a text is matched as; lone surrogates pass so that no text makes masking fail."""
    return text.encode("utf-8", "surrogatepass")


def from_utf8(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


class FormMatcher(Protocol):
    """Applies the masking rule to a text; one per backend."""

    def mask(self, text: str) -> str: ...

    def mask_before(self, text: str, safe: int) -> tuple[str, str]:
        """Masks the forms starting before ``safe``; returns the masked head and the unprocessed rest."""
        ...
