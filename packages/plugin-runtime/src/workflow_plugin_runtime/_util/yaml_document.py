"""A loaded YAML document and where each of its values came from: field paths, positions, locations.

Every later check (the JSON Schema, references, templates) names a value by
its field path (``("tasks", "fetch", "inputs", "url")``) and must point a
user at ``file:line:column``; :class:`YamlDocument` answers that for any path,
falling back to the nearest ancestor for a key that is missing. The
document is built by the loader (:mod:`.yamlfile`); this module needs no
YAML parser, so code that only names or locates fields does not import one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from .._frozen import FrozenRecord
from ..errors import Problem, SourceLocation

__all__ = [
    "FieldPath",
    "Locate",
    "Position",
    "YamlDocument",
    "format_field_path",
    "json_type_name",
]

FieldPath: TypeAlias = tuple[str | int, ...]
Locate: TypeAlias = Callable[[FieldPath], SourceLocation]
"""Where a field path is in its file (a :meth:`YamlDocument.location`), for checks that report as they build."""

_set = object.__setattr__
_PLAIN_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$-")
"""What a key written bare in a field path is made of (a set, not a pattern compiled at every start)."""
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


class Position(FrozenRecord):
    """1-based line and column, as editors count them.

    A :class:`~.._frozen.FrozenRecord`, as :class:`YamlDocument`, not a dataclass:
    each dataclass costs ``validate`` 0.7 ms to make (docs/performance.md).
    """

    __slots__ = ("column", "line")
    line: int
    column: int

    def __init__(self, line: int, column: int) -> None:
        _set(self, "line", line)
        _set(self, "column", column)


def format_field_path(path: Sequence[str | int]) -> str:
    """``("actions", "get", "examples", 0, "inputs")`` -> ``actions.get.examples[0].inputs``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part and _PLAIN_KEY_CHARS.issuperset(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def json_type_name(value: object) -> str:
    """The JSON Schema type name of a loaded value, as messages should say it."""
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


class YamlDocument(FrozenRecord):
    """A loaded YAML mapping plus the positions of its values and keys.

    ``data`` is plain JSON-like data (dict, list, str, int, float, bool,
    None) owned by the caller. Positions are keyed by field path; the root
    is ``()``. ``problems`` are the duplicate keys found when loading with
    ``keep_going`` (the first value of each is in ``data``).
    """

    __slots__ = ("data", "file", "keys", "problems", "values")
    data: dict[str, Any]
    file: Path | None
    values: Mapping[FieldPath, Position]
    keys: Mapping[FieldPath, Position]
    problems: tuple[Problem, ...]

    def __init__(
        self,
        data: dict[str, Any],
        file: Path | None = None,
        values: Mapping[FieldPath, Position] | None = None,
        keys: Mapping[FieldPath, Position] | None = None,
        problems: tuple[Problem, ...] = (),
    ) -> None:
        _set(self, "data", data)
        _set(self, "file", file)
        _set(self, "values", {} if values is None else values)
        _set(self, "keys", {} if keys is None else keys)
        _set(self, "problems", problems)

    def position(self, path: Sequence[str | int] = (), *, key: bool = False) -> Position:
        """Where ``path`` is, or its nearest ancestor that exists (e.g. for a missing key)."""
        current: FieldPath = tuple(path)
        while True:
            found = (self.keys.get(current) if key else None) or self.values.get(current)
            if found is not None:
                return found
            if not current:
                return Position(1, 1)
            current = current[:-1]

    def location(self, path: Sequence[str | int] = (), *, key: bool = False) -> SourceLocation:
        where = self.position(path, key=key)
        return SourceLocation(self.file, where.line, where.column, format_field_path(path) or None)
