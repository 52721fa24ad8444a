"""``plugin.yaml``: loading, checking and the typed, immutable manifest model.

A manifest is checked in two passes. The shipped JSON Schema
(``schemas/plugin.schema.json``) checks the shape, with every violation
located; only a well-shaped manifest gets the checks a schema cannot express:
the version parses, the entrypoint exists inside the plugin directory, each
action's inputs and outputs are valid JSON Schemas (metaschema, local
``$ref`` only, fastjsonschema compiles them) and each example's inputs fit
them. :func:`manifest_problems` returns every problem (for ``workflow
validate``); :func:`load_manifest` raises the first.

Manifests are cached per process, keyed by the file's path and stat, so a
long-running engine notices edits while listing hundreds of plugins parses
each file once.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.version import InvalidVersion, Version

from .errors import ManifestError, PluginNotFoundError, Problem, SourceLocation
from .jsonschema_errors import closest, schema_violations, violation_problems
from .schemas import Validator, compile_schema, shipped_validator
from .yamlfile import FieldPath, YamlDocument, load_yaml_file

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MANIFEST_FILENAME",
    "Access",
    "ActionDef",
    "ActionExample",
    "Capabilities",
    "FilesystemNeed",
    "PluginManifest",
    "PoolSettings",
    "RuntimeSettings",
    "clear_manifest_cache",
    "load_manifest",
    "manifest_file",
    "manifest_problems",
    "thaw",
]

MANIFEST_FILENAME = "plugin.yaml"
DEFAULT_TIMEOUT_S = 30.0


class Access(enum.StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


@dataclass(frozen=True, slots=True)
class FilesystemNeed:
    path: str
    access: Access = Access.READ


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the plugin asks for; restricted workflows must grant each of these."""

    network: bool = False
    filesystem: tuple[FilesystemNeed, ...] = ()
    env: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolSettings:
    size: int = 1
    idle_timeout: float = 60.0
    recycle_after: int = 1000


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """How to start the plugin: exactly one of ``entrypoint`` (relative POSIX path) or ``command``."""

    entrypoint: str | None
    command: tuple[str, ...] | None
    image: str
    timeout: float = DEFAULT_TIMEOUT_S
    pool: PoolSettings | None = None


@dataclass(frozen=True, slots=True)
class ActionExample:
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any] | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ActionDef:
    """One action. ``inputs``/``outputs`` are deep-frozen JSON Schemas (``None``: any object)."""

    name: str
    description: str = ""
    timeout: float | None = None
    inputs: Mapping[str, Any] | bool | None = None
    outputs: Mapping[str, Any] | bool | None = None
    examples: tuple[ActionExample, ...] = ()
    secret_inputs: tuple[str, ...] = ()

    def input_validator(self) -> Validator | None:
        """The compiled inputs schema (shared across identical schemas), or None to accept any object."""
        return None if self.inputs is None else compile_schema(thaw(self.inputs))

    def output_validator(self) -> Validator | None:
        return None if self.outputs is None else compile_schema(thaw(self.outputs))


@dataclass(frozen=True, slots=True)
class PluginManifest:
    namespace: str
    name: str
    version: Version
    description: str
    runtime: RuntimeSettings
    capabilities: Capabilities
    actions: Mapping[str, ActionDef]
    plugin_dir: Path
    manifest_path: Path

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def entrypoint_path(self) -> Path | None:
        return None if self.runtime.entrypoint is None else self.plugin_dir / self.runtime.entrypoint

    def action(self, name: str) -> ActionDef:
        """The named action, or :class:`PluginNotFoundError` suggesting the nearest one."""
        found = self.actions.get(name)
        if found is not None:
            return found
        suggestion = closest(name, self.actions)
        hint = f"did you mean {self.ref}.{suggestion}?" if suggestion else None
        known = ", ".join(sorted(self.actions))
        raise PluginNotFoundError(
            f"plugin {self.ref} {self.version} has no action {name!r} (it has: {known})",
            hint=hint or f"see {self.manifest_path}",
        )


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for JSON output or compiling) from deep-frozen manifest data."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


_CacheKey = tuple[int, int, int, int]
_CACHE: dict[Path, tuple[_CacheKey, PluginManifest | list[Problem]]] = {}


def clear_manifest_cache() -> None:
    _CACHE.clear()


def manifest_file(plugin_dir_or_file: Path | str) -> Path:
    path = Path(plugin_dir_or_file).absolute()
    return path / MANIFEST_FILENAME if path.is_dir() else path


def load_manifest(plugin_dir_or_file: Path | str) -> PluginManifest:
    """Load and check a plugin directory's ``plugin.yaml`` (or the file itself).

    Raises :class:`ManifestError` for the first problem; its hint counts the others.
    """
    loaded = _load_cached(manifest_file(plugin_dir_or_file))
    if isinstance(loaded, PluginManifest):
        return loaded
    first = loaded[0]
    hint = first.hint
    if len(loaded) > 1:
        more = f"{len(loaded) - 1} more problem{'s' if len(loaded) > 2 else ''} in this file"
        hint = f"{hint}; {more}" if hint else more
    raise ManifestError(first.message, location=first.location, hint=hint)


def manifest_problems(plugin_dir_or_file: Path | str) -> list[Problem]:
    """Every problem of a manifest, in file order (empty when it loads)."""
    loaded = _load_cached(manifest_file(plugin_dir_or_file))
    return [] if isinstance(loaded, PluginManifest) else list(loaded)


def _load_cached(path: Path) -> PluginManifest | list[Problem]:
    key = _stat_key(path)
    if key is not None:
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        result: PluginManifest | list[Problem] = _build(path)
    except ManifestError as exc:
        result = [exc.problem]
    if key is not None:
        _CACHE[path] = (key, result)
    return result


def _stat_key(path: Path) -> _CacheKey | None:
    try:
        info = path.stat()
        folder = path.parent.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino, folder.st_mtime_ns


def _build(path: Path) -> PluginManifest | list[Problem]:
    if path.name == MANIFEST_FILENAME and not path.exists() and path.parent.is_dir():
        raise ManifestError(
            f"{path.parent} is not a plugin directory: it has no {MANIFEST_FILENAME}",
            location=SourceLocation(path.parent),
            hint="a plugin directory holds plugin.yaml and its code",
        )
    document = load_yaml_file(path, error=ManifestError)
    problems = violation_problems(schema_violations(shipped_validator("plugin"), document.data), document)
    if problems:
        return problems
    checker = _SemanticChecks(document, path.parent.resolve())
    problems = list(checker.problems())
    if problems:
        return problems
    return _to_model(document.data, plugin_dir=path.parent, manifest_path=path)


class _SemanticChecks:
    """What the schema cannot say; runs only on a well-shaped manifest."""

    def __init__(self, document: YamlDocument, plugin_dir: Path) -> None:
        self._doc = document
        self._data = document.data
        self._plugin_dir = plugin_dir

    def _problem(self, path: FieldPath, message: str, hint: str | None = None) -> Problem:
        return Problem(message, self._doc.location(path), hint)

    def problems(self) -> Iterator[Problem]:
        yield from self._version()
        yield from self._runtime()
        for name, action in self._data["actions"].items():
            yield from self._action(name, action)

    def _version(self) -> Iterator[Problem]:
        try:
            Version(self._data["version"])
        except InvalidVersion:
            yield self._problem(
                ("version",),
                f"{self._data['version']!r} is not a valid version",
                "use a semantic version such as 1.2.0 (PEP 440 forms like 1.2.0rc1 also work)",
            )

    def _runtime(self) -> Iterator[Problem]:
        runtime = self._data["runtime"]
        entrypoint = runtime.get("entrypoint")
        if entrypoint is not None:
            if not entrypoint.endswith(".py"):
                yield self._problem(
                    ("runtime", "entrypoint"),
                    f"entrypoint {entrypoint!r} is not a .py file",
                    "for another language or an executable, use `command: [program, args...]`",
                )
            else:
                yield from self._inside_plugin(("runtime", "entrypoint"), entrypoint)
        command = runtime.get("command")
        if command and ("/" in command[0] or os.sep in command[0]) and not Path(command[0]).is_absolute():
            yield from self._inside_plugin(("runtime", "command", 0), command[0])

    def _inside_plugin(self, field: FieldPath, relative: str) -> Iterator[Problem]:
        if Path(relative).is_absolute():
            hint = "write a path relative to the plugin directory"
            yield self._problem(field, f"{relative!r} is an absolute path", hint)
            return
        target = (self._plugin_dir / relative).resolve()
        if not target.is_relative_to(self._plugin_dir):
            yield self._problem(
                field,
                f"{relative!r} points outside the plugin directory",
                "a plugin's files must live inside its directory (no '..', no symlinks out)",
            )
        elif not target.is_file():
            yield self._problem(field, f"{relative!r} does not exist in {self._plugin_dir}")

    def _action(self, name: str, action: dict[str, Any]) -> Iterator[Problem]:
        validators: dict[str, Validator | None] = {}
        for part in ("inputs", "outputs"):
            schema = action.get(part)
            validators[part] = None
            if schema is None:
                continue
            field: FieldPath = ("actions", name, part)
            found = violation_problems(
                schema_violations(shipped_validator("draft-07"), schema), self._doc, base_path=field
            )
            if not found:
                found = list(self._refs_and_secrets(field, schema, part == "inputs"))
            if found:
                yield from found
                continue
            try:
                validators[part] = compile_schema(schema)
            except ValueError as exc:
                yield self._problem(field, f"is not a usable JSON Schema: {exc}")
        for index, example in enumerate(action.get("examples", ())):
            for part in ("inputs", "outputs"):
                validator = validators[part]
                if validator is None or part not in example:
                    continue
                base: FieldPath = ("actions", name, "examples", index, part)
                violations = schema_violations(validator, example[part])
                for problem in violation_problems(violations, self._doc, base_path=base):
                    yield Problem(f"does not fit the action's {part} schema: {problem.message}", problem.location)

    def _refs_and_secrets(self, field: FieldPath, schema: Any, is_inputs: bool) -> Iterator[Problem]:
        for path, ref in _refs(schema, field):
            if not ref.startswith("#"):
                hint = "only local references ('#/...') work"
                yield self._problem(path, f"$ref {ref!r} points outside the schema", hint)
            elif not _pointer_exists(schema, ref):
                yield self._problem(path, f"$ref {ref!r} does not resolve inside the schema")
        if not isinstance(schema, dict):
            return
        for prop, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and "secret" in sub:
                where = (*field, "properties", prop, "secret")
                if not isinstance(sub["secret"], bool):
                    yield self._problem(where, "`secret` must be true or false")
                elif not is_inputs and sub["secret"]:
                    yield self._problem(where, "`secret` marks inputs only", "move it to the action's inputs schema")


def _refs(schema: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _refs(value, (*path, key))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _refs(item, (*path, index))


def _pointer_exists(schema: Any, ref: str) -> bool:
    node = schema
    pointer = ref[1:]
    if not pointer:
        return True
    if not pointer.startswith("/"):
        return False
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _to_model(data: dict[str, Any], *, plugin_dir: Path, manifest_path: Path) -> PluginManifest:
    version = Version(data["version"])
    runtime = data["runtime"]
    pool = runtime.get("pool")
    capabilities = data.get("capabilities", {})
    actions = {name: _action_model(name, action) for name, action in data["actions"].items()}
    return PluginManifest(
        namespace=data["namespace"],
        name=data["name"],
        version=version,
        description=data.get("description", ""),
        runtime=RuntimeSettings(
            entrypoint=Path(runtime["entrypoint"]).as_posix() if "entrypoint" in runtime else None,
            command=tuple(runtime["command"]) if "command" in runtime else None,
            image=runtime.get("image") or f"{data['namespace']}/{data['name']}:{data['version']}",
            timeout=float(runtime.get("timeout", DEFAULT_TIMEOUT_S)),
            pool=None
            if pool is None
            else PoolSettings(
                size=pool.get("size", 1),
                idle_timeout=float(pool.get("idle_timeout", 60.0)),
                recycle_after=pool.get("recycle_after", 1000),
            ),
        ),
        capabilities=Capabilities(
            network=bool(capabilities.get("network", False)),
            filesystem=tuple(
                FilesystemNeed(need["path"], Access(need.get("access", "read")))
                for need in capabilities.get("filesystem", ())
            ),
            env=tuple(capabilities.get("env", ())),
        ),
        actions=MappingProxyType(actions),
        plugin_dir=plugin_dir,
        manifest_path=manifest_path,
    )


def _action_model(name: str, action: dict[str, Any]) -> ActionDef:
    inputs = action.get("inputs")
    secret: tuple[str, ...] = ()
    if isinstance(inputs, dict):
        properties = inputs.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        secret = tuple(p for p, sub in properties.items() if isinstance(sub, dict) and sub.get("secret"))
    timeout = action.get("timeout")
    return ActionDef(
        name=name,
        description=action.get("description", ""),
        timeout=None if timeout is None else float(timeout),
        inputs=_freeze(inputs),
        outputs=_freeze(action.get("outputs")),
        examples=tuple(
            ActionExample(_freeze(ex["inputs"]), _freeze(ex.get("outputs")), ex.get("description"))
            for ex in action.get("examples", ())
        ),
        secret_inputs=secret,
    )
