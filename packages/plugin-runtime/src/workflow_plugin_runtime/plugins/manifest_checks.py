"""Checking a ``plugin.yaml``: YAML, the shipped JSON Schema, then what a schema cannot express.

Only a well-shaped manifest gets the second pass: the version parses, the
entrypoint (or a relative command) is a file inside the plugin directory,
each action's inputs and outputs are valid JSON Schemas (metaschema, local
``$ref`` only, fastjsonschema compiles them) and each example fits them.

Kept apart from :mod:`.manifest` because it imports PyYAML, the validators
and ``packaging``, which a manifest served from the plugin index never needs.
The file is read here, from one open descriptor: the stat signature recorded
for caching is that of the very bytes that were checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from .._frozen import FrozenRecord
from .._util.files import read_capped_file_with_stat
from .._util.yaml_document import FieldPath, YamlDocument
from .._util.yamlfile import DEFAULT_LIMITS, load_yaml_bytes
from ..errors import ManifestError, Problem, SourceLocation, file_position
from ..schemas import Validator, compile_schema, shipped_validator
from ..schemas.local_refs import local_ref_target
from ..schemas.violations import schema_violations, violation_problems
from .entry_files import FileProblem, entry_file_problem, entry_files
from .manifest import MANIFEST_FILENAME

__all__ = ["CheckedManifest", "check_manifest"]

_set = object.__setattr__


class CheckedManifest(FrozenRecord):
    """The outcome of checking one file, with what the caches need to know about it.

    ``problems`` is every problem found, in file order; ``info`` is the stat
    of the bytes read (None when the file could not be read), ``raw`` those
    bytes, ``data`` the parsed YAML when it passed every check (the loader
    builds the model from it: :func:`.manifest_loading.to_model`), ``files`` the relative paths whose presence the
    outcome depends on and ``files_state`` what was wrong with each (None: a file inside).
    """

    __slots__ = ("data", "files", "files_state", "info", "problems", "raw")
    problems: list[Problem]
    info: os.stat_result | None
    raw: bytes | None
    data: dict[str, Any] | None
    files: tuple[str, ...]
    files_state: tuple[FileProblem | None, ...]

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        problems: list[Problem],
        info: os.stat_result | None = None,
        raw: bytes | None = None,
        data: dict[str, Any] | None = None,
        files: tuple[str, ...] = (),
        files_state: tuple[FileProblem | None, ...] = (),
    ) -> None:
        _set(self, "problems", problems)
        _set(self, "info", info)
        _set(self, "raw", raw)
        _set(self, "data", data)
        _set(self, "files", files)
        _set(self, "files_state", files_state)


def check_manifest(path: Path) -> CheckedManifest:
    """Read and check ``path``: its checked data, or every problem found in file order."""
    try:
        info, raw = read_capped_file_with_stat(path, error=ManifestError, limit=DEFAULT_LIMITS.max_bytes)
    except ManifestError as exc:
        return CheckedManifest([_missing_manifest(path) or exc.problem])
    try:
        document = load_yaml_bytes(raw, file=path, error=ManifestError, keep_going=True)
    except ManifestError as exc:
        return CheckedManifest([exc.problem], info, raw)
    schema_problems = violation_problems(schema_violations(shipped_validator("plugin"), document.data), document)
    if document.problems or schema_problems:  # duplicate keys and the schema's findings, together in file order
        return CheckedManifest(sorted([*document.problems, *schema_problems], key=file_position), info, raw)
    checker = _SemanticChecks(document, path.parent)
    problems = list(checker.problems())
    files, files_state = tuple(checker.files_state), tuple(checker.files_state.values())
    if problems:
        return CheckedManifest(problems, info, raw, None, files, files_state)
    return CheckedManifest([], info, raw, document.data, files, files_state)


def _missing_manifest(path: Path) -> Problem | None:
    """A folder without a manifest is named as such, not as a missing file."""
    if path.name == MANIFEST_FILENAME and not path.exists() and path.parent.is_dir():
        return Problem(
            f"{path.parent} is not a plugin directory: it has no {MANIFEST_FILENAME}",
            SourceLocation(path.parent),
            "a plugin directory holds plugin.yaml and its code",
        )
    return None


class _SemanticChecks:
    """What the schema cannot say; runs only on a well-shaped manifest."""

    def __init__(self, document: YamlDocument, plugin_dir: Path) -> None:
        self._doc = document
        self._data = document.data
        self._plugin_dir = plugin_dir
        self.files_state: dict[str, FileProblem | None] = {}

    def _problem(self, path: FieldPath, message: str, *, hint: str | None = None) -> Problem:
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
                hint="use a semantic version such as 1.2.0 (PEP 440 forms like 1.2.0rc1 also work)",
            )

    def _runtime(self) -> Iterator[Problem]:
        runtime = self._data["runtime"]
        checked = entry_files(runtime)
        entrypoint = runtime.get("entrypoint")
        if entrypoint is not None:
            if not entrypoint.endswith(".py"):
                yield self._problem(
                    ("runtime", "entrypoint"),
                    f"entrypoint {entrypoint!r} is not a .py file",
                    hint="for another language or an executable, use `command: [program, args...]`",
                )
            elif entrypoint in checked:
                yield from self._inside_plugin(("runtime", "entrypoint"), entrypoint)
            else:
                hint = "write a path relative to the plugin directory"
                yield self._problem(("runtime", "entrypoint"), f"{entrypoint!r} is an absolute path", hint=hint)
        command = runtime.get("command")
        if command and command[0] in checked:
            yield from self._inside_plugin(("runtime", "command", 0), command[0])
        if runtime.get("start") == "fork" and entrypoint is None:
            yield self._problem(
                ("runtime", "start"),
                "start: fork needs a Python entrypoint (the SDK's run() is the fork server's template), not a command",
                hint="use start: fork only with runtime.entrypoint and an SDK plugin, or remove it (cold starts)",
            )
        if runtime.get("serve") is False and "pool" in runtime:
            yield self._problem(
                ("runtime", "serve"),
                "serve: false contradicts runtime.pool, which keeps warm workers of a plugin that serves",
                hint="remove runtime.pool, or set serve: true if the plugin speaks the serve loop",
            )

    def _inside_plugin(self, field: FieldPath, relative: str) -> Iterator[Problem]:
        found = entry_file_problem(self._plugin_dir, relative)
        self.files_state[relative] = found
        if found is not None:
            message, hint = found
            yield self._problem(field, message, hint=hint)

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
                found = list(self._refs_and_secrets(field, schema, is_inputs=part == "inputs"))
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

    def _refs_and_secrets(self, field: FieldPath, schema: Any, *, is_inputs: bool) -> Iterator[Problem]:
        for path, ref in _refs(schema, field):
            if not ref.startswith("#"):
                hint = "only local references ('#/...') work"
                yield self._problem(path, f"$ref {ref!r} points outside the schema", hint=hint)
            elif not _points_somewhere(schema, ref):
                yield self._problem(path, f"$ref {ref!r} does not resolve inside the schema")
        if not isinstance(schema, dict):
            return
        for prop, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and "secret" in sub:
                where = (*field, "properties", prop, "secret")
                if not isinstance(sub["secret"], bool):
                    yield self._problem(where, "`secret` must be true or false")
                elif not is_inputs and sub["secret"]:
                    yield self._problem(
                        where, "`secret` marks inputs only", hint="move it to the action's inputs schema"
                    )


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


def _points_somewhere(schema: Any, ref: str) -> bool:
    try:
        local_ref_target(schema, ref)
    except LookupError:
        return False
    return True
