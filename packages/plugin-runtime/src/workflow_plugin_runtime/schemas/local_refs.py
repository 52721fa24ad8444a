"""Local ``$ref``: ``#/definitions/url`` followed inside the schema that holds it, as a JSON Pointer (RFC 6901).

The manifest checks ask whether each ``$ref`` of an action's schema points
somewhere, and typed wiring follows them down an outputs or inputs schema;
both must read a pointer the same way, and the way the validators read it:
``~1`` is ``/``, ``~0`` is ``~``, an empty token is the key ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["local_ref_target"]


def local_ref_target(schema: Any, ref: str) -> Any:
    """The value ``ref`` (``#`` then a JSON Pointer) points to in ``schema``; LookupError when it points nowhere."""
    if not ref.startswith("#"):
        raise LookupError(f"{ref!r} is not a local reference")
    pointer = ref[1:]
    node = schema
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise LookupError(f"{ref!r}: a JSON Pointer starts with '/'")
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list | tuple) and token.isascii() and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(f"{ref!r}: nothing at {token!r}")
    return node
