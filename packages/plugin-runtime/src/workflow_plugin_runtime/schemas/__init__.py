"""The JSON Schemas shipped in the runtime, and compiled validators for them and for plugins' schemas.

Files here are package data: ``plugin.schema.json`` (plugin.yaml),
``config.schema.json`` (config.yaml) and ``draft-07.schema.json`` (the
JSON Schema metaschema, to check the schemas plugins declare). Each is
compiled once per process, lazily, because compiling costs milliseconds and
most commands need only one of them.

Every validator is compiled with ``use_default=False`` (fastjsonschema would
otherwise write defaults into the data it checks) and ``fast_fail=False`` (so
one run reports every problem). Remote ``$ref`` is refused: a manifest must
never make the runtime fetch a URL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

__all__ = [
    "SCHEMA_NAMES",
    "InvalidSchema",
    "Validator",
    "compile_schema",
    "load_schema",
    "schema_text",
    "shipped_validator",
]

Validator = Callable[[Any], Any]
SCHEMA_NAMES = ("config", "draft-07", "plugin")
_REMOTE_SCHEMES = ("http", "https", "ftp", "file", "data")


class InvalidSchema(ValueError):
    """A schema that cannot be compiled; the message says why."""


def schema_text(name: str) -> str:
    """The shipped schema's JSON text, e.g. for ``workflow schema plugin``."""
    return resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


@functools.cache
def load_schema(name: str) -> Mapping[str, Any]:
    """The shipped schema, parsed once; treat it as read-only."""
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


@functools.cache
def shipped_validator(name: str) -> Validator:
    """The compiled validator of a shipped schema, compiled on first use."""
    return _compile(dict(load_schema(name)))


def compile_schema(schema: Mapping[str, Any] | bool) -> Validator:
    """Compile a plugin's schema (an action's inputs or outputs); identical schemas share one validator.

    Raises :class:`InvalidSchema` when fastjsonschema cannot compile it.
    """
    return _compile_canonical(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=2048)
def _compile_canonical(canonical: str) -> Validator:
    return _compile(json.loads(canonical))


def _refuse_remote(uri: str) -> Any:
    raise InvalidSchema(f"$ref {uri!r} points outside the schema; only local references ('#/...') are allowed")


def _compile(schema: Any) -> Validator:
    import fastjsonschema

    handlers = dict.fromkeys(_REMOTE_SCHEMES, _refuse_remote)
    try:
        validator: Validator = fastjsonschema.compile(schema, handlers=handlers, use_default=False, fast_fail=False)
    except InvalidSchema:
        raise
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise InvalidSchema(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - fastjsonschema reports bad schemas as re.error, KeyError, TypeError...
        raise InvalidSchema(f"{type(exc).__name__}: {exc}") from exc
    return validator
