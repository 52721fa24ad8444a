"""Safe YAML loading into a :class:`~.yaml_document.YamlDocument`: plain data that remembers where each value came from.

Manifests, configs and workflow files are all YAML written by people, so every
later check (the JSON Schema, references, templates) must be able to point at
``file:line:column``. PyYAML's constructor throws positions away; we compose
the node tree (with libyaml when present) and build the data ourselves,
recording the position of each value and of each mapping key by field path.

Building the data ourselves is also where the loader is made safe: duplicate
keys are errors (raised, or with ``keep_going`` collected in
``YamlDocument.problems`` so the caller checks the rest of the file too; the
first value is kept), aliases are expanded under a budget (no "billion laughs"),
nesting depth is bounded, only JSON-like tags are accepted, and every failure
is raised as the caller's error class, never as a ``yaml`` or Unicode error.

Two deliberate departures from PyYAML's ``safe_load``, both for JSON-shaped
data: mapping keys are always the key's text (``on:`` is the string ``"on"``,
not ``True``), and timestamps stay strings.
"""

from __future__ import annotations

import codecs
import math
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .._frozen import FrozenRecord
from ..errors import Problem, SourceLocation, WorkflowPluginError
from .files import read_capped_file
from .yaml_document import FieldPath, Position, YamlDocument, format_field_path, json_type_name

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is present wherever wheels exist
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = [
    "DEFAULT_LIMITS",
    "YamlLimits",
    "load_yaml_bytes",
    "load_yaml_file",
]

_E = TypeVar("_E", bound=WorkflowPluginError)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_MERGE_TAG = _TAG + "merge"
_CONSTRUCTOR = SafeConstructor()
_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class YamlLimits(FrozenRecord):
    """Bounds that keep a hostile or mistaken file from exhausting the machine.

    ``max_alias_nodes`` counts the values materialised by expanding aliases,
    which is where exponential blow-up hides; ordinary files use few or none.
    """

    __slots__ = ("max_alias_nodes", "max_bytes", "max_depth")
    max_bytes: int
    max_alias_nodes: int
    max_depth: int

    def __init__(self, max_bytes: int = 1024 * 1024, max_alias_nodes: int = 10_000, max_depth: int = 100) -> None:
        object.__setattr__(self, "max_bytes", max_bytes)
        object.__setattr__(self, "max_alias_nodes", max_alias_nodes)
        object.__setattr__(self, "max_depth", max_depth)


DEFAULT_LIMITS = YamlLimits()


def load_yaml_file(
    path: Path,
    *,
    error: type[_E],
    limits: YamlLimits = DEFAULT_LIMITS,
    allow_empty: bool = False,
    keep_going: bool = False,
) -> YamlDocument:
    """Read and load a YAML file whose document must be a mapping."""
    raw = read_capped_file(path, error=error, limit=limits.max_bytes)
    return load_yaml_bytes(raw, file=path, error=error, limits=limits, allow_empty=allow_empty, keep_going=keep_going)


def load_yaml_bytes(
    raw: bytes | str,
    *,
    file: Path | None = None,
    error: type[_E],
    limits: YamlLimits = DEFAULT_LIMITS,
    allow_empty: bool = False,
    keep_going: bool = False,
) -> YamlDocument:
    """Load YAML held in memory (``file`` only labels positions in messages).

    ``keep_going``: collect duplicate keys in the document's ``problems``
    instead of raising at the first (what a full check of a file wants).
    """
    if len(raw) > limits.max_bytes:
        message = f"the text is too large ({len(raw)} bytes; the limit is {limits.max_bytes})"
        raise error(message, location=SourceLocation(file))
    text = raw if isinstance(raw, str) else _decode(raw, file=file, error=error)
    if "\x00" in text:
        line, column = _line_column(text, text.index("\x00"))
        raise error(
            "the file looks binary: it contains a NUL character",
            location=SourceLocation(file, line, column),
            hint="YAML files are UTF-8 text",
        )
    root = _compose(text, file=file, error=error)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _TAG + "null" and not root.value.strip()):
        if allow_empty:
            return YamlDocument({}, file, {(): Position(1, 1)}, {})
        raise error("the file is empty", location=SourceLocation(file, 1, 1), hint="it must hold a YAML mapping")
    builder = _DataBuilder(file=file, error=error, limits=limits, keep_going=keep_going)
    data = builder.build(root, (), depth=0)
    if not isinstance(data, dict):
        mark = root.start_mark
        raise error(
            f"expected a mapping of keys at the top level, found {_describe(data)}",
            location=SourceLocation(file, mark.line + 1, mark.column + 1),
            hint="the document must be a YAML mapping such as `key: value`",
        )
    return YamlDocument(data, file, builder.values, builder.keys, tuple(builder.problems))


def _decode(raw: bytes, *, file: Path | None, error: type[_E]) -> str:
    if raw.startswith(_UTF16_32_BOMS):
        raise error(
            "the file is encoded as UTF-16 or UTF-32",
            location=SourceLocation(file, 1, 1),
            hint="save it as UTF-8",
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _byte_line_column(raw, nul)
        raise error(
            f"the file looks binary: it contains a NUL byte at offset {nul}",
            location=SourceLocation(file, line, column),
            hint="YAML files are UTF-8 text",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _byte_line_column(raw, exc.start)
        raise error(
            f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}",
            location=SourceLocation(file, line, column),
            hint="save the file as UTF-8",
        ) from exc


def _byte_line_column(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, offset) + 1, column


def _char_offset(text: str, position: int) -> int:
    """libyaml reports reader errors at a UTF-8 byte offset; the pure-Python reader, at a character."""
    if _Loader.__name__.startswith("C"):
        return len(text.encode("utf-8")[:position].decode("utf-8", errors="ignore"))
    return min(position, len(text))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _compose(text: str, *, file: Path | None, error: type[_E]) -> Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = SourceLocation(file, mark.line + 1, mark.column + 1) if mark else SourceLocation(file)
        if exc.problem and "another document" in exc.problem:
            raise error(
                "the file holds more than one YAML document; a second one starts here",
                location=location,
                hint="remove the '---' separator and everything after it, or merge the documents",
            ) from exc
        problem = exc.problem or exc.context or "malformed YAML"
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise error(f"invalid YAML: {problem}{context}", location=location) from exc
    except yaml.reader.ReaderError as exc:
        offset = _char_offset(text, exc.position)
        line, column = _line_column(text, offset)
        code = f"#x{ord(text[offset]):04x}" if offset < len(text) else "a character"
        message = f"invalid YAML: character {code} is not allowed ({exc.reason})"
        raise error(message, location=SourceLocation(file, line, column)) from exc
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", location=SourceLocation(file)) from exc
    except RecursionError as exc:
        raise error("invalid YAML: nesting is too deep", location=SourceLocation(file)) from exc
    finally:
        loader.dispose()


_TAG_HINT = "only plain YAML data (mappings, lists, strings, numbers, booleans, null) is accepted"


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _describe(value: object) -> str:
    names = {"object": "a mapping", "array": "a list", "null": "nothing (null)"}
    kind = json_type_name(value)
    return names.get(kind, f"a {kind}")


class _DataBuilder:
    """Turns a composed node tree into data, recording positions as it goes."""

    __slots__ = (
        "_active",
        "_alias_budget",
        "_error",
        "_file",
        "_keep_going",
        "_limits",
        "_seen",
        "keys",
        "problems",
        "values",
    )

    def __init__(
        self, *, file: Path | None, error: type[WorkflowPluginError], limits: YamlLimits, keep_going: bool
    ) -> None:
        self._file = file
        self._error = error
        self._limits = limits
        self._alias_budget = limits.max_alias_nodes
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self.values: dict[FieldPath, Position] = {}
        self.keys: dict[FieldPath, Position] = {}
        self._keep_going = keep_going
        self.problems: list[Problem] = []

    def _fail(self, message: str, *, node: Node, path: FieldPath, hint: str | None = None) -> WorkflowPluginError:
        mark = node.start_mark
        location = SourceLocation(self._file, mark.line + 1, mark.column + 1, format_field_path(path) or None)
        return self._error(message, location=location, hint=hint)

    def build(self, node: Node, path: FieldPath, *, depth: int, in_alias: bool = False) -> Any:
        node_id = id(node)
        if node_id in self._active:
            raise self._fail("a YAML alias refers to itself (recursive structure)", node=node, path=path)
        if node_id in self._seen:
            in_alias = True
        self._seen.add(node_id)
        if in_alias:
            self._alias_budget -= 1
            if self._alias_budget < 0:
                raise self._fail(
                    f"YAML aliases expand to more than {self._limits.max_alias_nodes} values",
                    node=node,
                    path=path,
                    hint="this looks like an alias bomb; write the values out or use fewer aliases",
                )
        if depth > self._limits.max_depth:
            raise self._fail(f"nesting is deeper than {self._limits.max_depth} levels", node=node, path=path)
        self.values[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self._active.add(node_id)
        try:
            if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
                return [
                    self.build(item, (*path, index), depth=depth + 1, in_alias=in_alias)
                    for index, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode) and node.tag == _TAG + "map":
                return self._mapping(node, path, depth=depth, in_alias=in_alias)
        finally:
            self._active.discard(node_id)
        raise self._fail(f"unsupported YAML tag {_short_tag(node.tag)}", node=node, path=path, hint=_TAG_HINT)

    def _scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            raise self._fail(f"unsupported YAML tag {_short_tag(tag)}", node=node, path=path, hint=_TAG_HINT)
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return node.value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return _CONSTRUCTOR.construct_yaml_bool(node)
        if tag == _TAG + "int":
            return self._integer(node, path)
        number = _CONSTRUCTOR.construct_yaml_float(node)
        if not math.isfinite(number):
            raise self._fail(
                f"{node.value} is not a finite number (JSON, and so plugins and run records, has no NaN or infinity)",
                node=node,
                path=path,
                hint="write a finite number, or quote the value to make it a string",
            )
        return number

    def _integer(self, node: ScalarNode, path: FieldPath) -> int:
        """An integer every later writer can print: CPython refuses ``str()`` beyond its digit limit."""
        limit = sys.get_int_max_str_digits()
        try:
            number: int = _CONSTRUCTOR.construct_yaml_int(node)
            if number.bit_length() > 64:
                str(number)  # hex, octal and base-60 spellings are read without the limit
        except ValueError as exc:
            raise self._fail(
                f"the integer is longer than {limit} digits",
                node=node,
                path=path,
                hint="quote it to make it a string, or use a smaller number",
            ) from exc
        return number

    def _mapping(self, node: MappingNode, path: FieldPath, *, depth: int, in_alias: bool) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merged: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self._fail("mapping keys must be plain strings, not lists or mappings", node=key_node, path=path)
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line:
                duplicate = self._fail(
                    f"duplicate key {key!r} (first defined on line {first_line[key]}, again on line {line})",
                    node=key_node,
                    path=(*path, key),
                    hint="a key may appear only once in a mapping; remove or rename one of them",
                )
                if not self._keep_going:
                    raise duplicate
                self.problems.append(duplicate.problem)
                continue
            first_line[key] = line
            child = (*path, key)
            self.keys[child] = Position(line, key_node.start_mark.column + 1)
            explicit[key] = self.build(value_node, child, depth=depth + 1, in_alias=in_alias)
        if not merged:
            return explicit
        result: dict[str, Any] = {}
        for key, key_node, value_node in merged:
            if key in explicit or key in result:
                continue
            child = (*path, key)
            self.keys[child] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child, depth=depth + 1, in_alias=True)
        result.update(explicit)
        return result

    def _merge_sources(self, value_node: Node, path: FieldPath) -> list[tuple[str, Node, Node]]:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        pairs: list[tuple[str, Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode) or source.tag != _TAG + "map":
                raise self._fail("a merge key (<<) needs a mapping or a list of mappings", node=source, path=path)
            for key_node, item in source.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    raise self._fail(
                        "nested merge keys and non-string keys are not supported", node=key_node, path=path
                    )
                pairs.append((key_node.value, key_node, item))
        return pairs
