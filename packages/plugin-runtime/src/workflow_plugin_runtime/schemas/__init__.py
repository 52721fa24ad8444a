"""The JSON Schemas shipped in the runtime, and compiled validators for them and for plugins' schemas.

Files here are package data: ``plugin.schema.json`` (plugin.yaml),
``config.schema.json`` (config.yaml) and ``draft-07.schema.json`` (the
JSON Schema metaschema, to check the schemas plugins declare). Each is
compiled once per process, lazily, because compiling costs milliseconds and
most commands need only one of them.

Every validator is generated with ``use_default=False`` (fastjsonschema would
otherwise write defaults into the data it checks) and ``fast_fail=False`` (so
one run reports every problem), and cached across processes (see
:mod:`._codecache`). Remote ``$ref`` is refused: a manifest must never make
the runtime fetch a URL; a local one is followed by :mod:`.local_refs`.

What a validator finds becomes located problems in :mod:`.violations`, each
rule's finding worded by :mod:`.explanations`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._codecache import CACHE_DIR_ENV, SchemaValueError, SchemaValuesError, generate_validator

__all__ = [
    "CACHE_DIR_ENV",
    "SCHEMA_NAMES",
    "InvalidSchema",
    "SchemaValueError",
    "SchemaValuesError",
    "Validator",
    "compile_schema",
    "load_schema",
    "schema_path",
    "schema_text",
    "shipped_validator",
]

Validator = Callable[[Any], Any]
if TYPE_CHECKING:
    SCHEMA_NAMES: tuple[str, ...]


def __getattr__(name: str) -> object:
    """``SCHEMA_NAMES``, listed on first use: the folder's glob costs a command 0.1-0.4 ms it rarely needs."""
    if name != "SCHEMA_NAMES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    names = tuple(sorted(p.name.removesuffix(".schema.json") for p in Path(__file__).parent.glob("*.schema.json")))
    globals()[name] = names
    return names


class InvalidSchema(ValueError):
    """A schema that cannot be compiled; the message says why."""


def schema_text(name: str) -> str:
    """The shipped schema's JSON text, e.g. for ``workflow schema plugin``."""
    return schema_path(name).read_text(encoding="utf-8")


def schema_path(name: str) -> Path:
    """Where the shipped schema file is (for editor modelines and ``workflow schema``)."""
    return Path(__file__).with_name(f"{name}.schema.json")


@functools.cache
def load_schema(name: str) -> Mapping[str, Any]:
    """The shipped schema, parsed once; treat it as read-only."""
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


@functools.cache
def shipped_validator(name: str) -> Validator:
    """The compiled validator of a shipped schema, compiled on first use."""
    return _compile_canonical(json.dumps(load_schema(name), sort_keys=True))


def compile_schema(schema: Mapping[str, Any] | bool) -> Validator:
    """Compile a plugin's schema (an action's inputs or outputs); identical schemas share one validator.

    Raises :class:`InvalidSchema` when fastjsonschema cannot compile it. The
    validator raises :class:`SchemaValueError` or :class:`SchemaValuesError`
    (both ``ValueError``); :func:`.violations.schema_violations` turns them
    into messages.
    """
    return _compile_canonical(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=2048)
def _compile_canonical(canonical: str) -> Validator:
    try:
        return generate_validator(canonical, refuse_remote=_refuse_remote)
    except InvalidSchema:
        raise
    except Exception as exc:  # fastjsonschema reports bad schemas as its own errors, re.error, KeyError, TypeError...
        raise InvalidSchema(f"{type(exc).__name__}: {exc}") from exc


def _refuse_remote(uri: str) -> Any:
    raise InvalidSchema(f"$ref {uri!r} points outside the schema; only local references ('#/...') are allowed")
