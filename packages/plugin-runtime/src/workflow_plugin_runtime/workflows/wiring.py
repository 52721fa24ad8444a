"""Typed wiring: a template's value checked against the schemas on both ends, before anything runs.

``{{ tasks.fetch.outputs.status }}`` is followed through the upstream
action's outputs schema, and the input it lands in through the consuming
action's inputs schema. Reported only when it is certain to fail:

- a key the upstream does not declare, when it declares ``properties`` and
  does not open the object with ``additionalProperties`` (true or a schema)
  or a matching ``patternProperties``;
- a key under a value whose declared type has no keys (a string, a number);
- a whole-value template whose declared types cannot fit the input's types
  (integer fits number; number fits integer, since 2.0 is whole);
- a template inside a longer string (always a string) landing in an input
  that does not accept strings.

Anything the schemas leave open (no schema, no ``type``, ``anyOf``...) is
taken as "any" and left to the run's input validation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._frozen import FrozenRecord
from .._util.yaml_document import format_field_path, json_type_name
from ..errors import Problem
from ..plugins.resolve import ResolvedAction
from .template_values import TemplateUse
from .templates import Scope

__all__ = ["SchemaWalk", "schema_types", "types_fit", "walk_schema", "wiring_problems"]

_MAX_REF_HOPS = 32


class SchemaWalk(FrozenRecord):
    """Where a walk down a schema ended: the sub-schema (None: anything), or why it cannot go on."""

    __slots__ = ("error", "hint", "schema")
    schema: Any
    error: str | None
    hint: str | None

    def __init__(self, schema: Any = None, error: str | None = None, hint: str | None = None) -> None:
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "hint", hint)


def _deref(node: Any, schema: Any) -> Any:
    for _ in range(_MAX_REF_HOPS):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            return node
        from ..schemas.local_refs import local_ref_target  # only for a schema that has a "$ref"

        try:
            node = local_ref_target(schema, node["$ref"])
        except LookupError:
            return None
    return None


def schema_types(schema: Any) -> frozenset[str] | None:
    """The JSON types a schema allows, or None when it does not say."""
    if not isinstance(schema, Mapping):
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset((declared,))
    if isinstance(declared, (list, tuple)):
        return frozenset(str(item) for item in declared)
    if "const" in schema:
        return frozenset((json_type_name(schema["const"]),))
    if isinstance(schema.get("enum"), (list, tuple)):
        return frozenset(json_type_name(item) for item in schema["enum"])
    return None


def types_fit(produced: frozenset[str] | None, accepted: frozenset[str] | None) -> bool:
    """Whether some value of a produced type may be accepted (unknown on either side: yes)."""
    if produced is None or accepted is None:
        return True
    numbers = {"integer", "number"}
    return any(p == a or (p in numbers and a in numbers) for p in produced for a in accepted)


def _describe(types: frozenset[str]) -> str:
    return " or ".join(sorted(types)) or "nothing"


def walk_schema(schema: Any, keys: Sequence[str | int], *, strict_keys: bool, owner: str, side: str) -> SchemaWalk:
    """Follow ``keys`` down ``schema``; ``owner`` and ``side`` name it in messages (``acme/http.get``, ``output``).

    ``strict_keys``: a key missing from declared ``properties`` is an error
    unless ``additionalProperties`` opens the object (outputs); otherwise only
    ``additionalProperties: false`` closes it (inputs, as JSON Schema reads it).
    """
    node = schema
    walked: list[str] = []
    for key in keys:
        node = _deref(node, schema)
        if not isinstance(node, Mapping):
            return SchemaWalk()
        types = schema_types(node)
        text = str(key)
        if text.isdigit() and (types is None or "array" in types) and "items" in node:
            items = node["items"]
            node = items[int(text)] if isinstance(items, (list, tuple)) and int(text) < len(items) else items
            walked.append(text)
            continue
        properties = node.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        additional = node.get("additionalProperties")
        patterns = node.get("patternProperties")
        here = f"{owner} {side} '{'.'.join(walked)}'"
        if text in properties:
            node = properties[text]
        elif isinstance(patterns, Mapping) and (match := next((p for p in patterns if re.search(p, text)), None)):
            node = patterns[match]
        elif isinstance(additional, Mapping):
            node = additional
        elif types is not None and not types & {"object", "array"}:
            return SchemaWalk(error=f"{here} is declared as {_describe(types)}: it has no key '{text}'")
        elif properties and (additional is False or (strict_keys and additional is not True)):
            declared = ", ".join(properties)
            what = f"{owner} declares no {side} '{text}'" if not walked else f"{here} declares no key '{text}'"
            from .._util.suggestions import closest  # a hint for a mistake: loaded only then

            near = closest(text, list(properties))
            return SchemaWalk(
                error=f"{what} (it declares: {declared})", hint=f"did you mean '{near}'?" if near else None
            )
        else:
            return SchemaWalk()
        walked.append(text)
    return SchemaWalk(_deref(node, schema))


def _schema_of(part: Mapping[str, Any] | bool | None) -> Any:
    return None if part is None or isinstance(part, bool) else part


def wiring_problems(
    uses: Iterable[TemplateUse],
    actions: Mapping[str, ResolvedAction],
    *,
    variables: Mapping[str, Any] | None = None,
) -> list[Problem]:
    """Typed-wiring errors for template uses (``actions``: task id -> its resolved action).

    Uses in task inputs are checked on both ends; elsewhere (env, outputs)
    only the upstream key. Tasks that did not resolve are skipped (their
    resolution error is reported on its own).
    """
    problems: list[Problem] = []
    for use in uses:
        produced: frozenset[str] | None = None
        placeholder = use.placeholder
        if placeholder.scope is Scope.TASKS:
            upstream = actions.get(placeholder.name)
            if upstream is None:
                continue
            outputs = _schema_of(upstream.action.outputs)
            walk = walk_schema(outputs, placeholder.keys, strict_keys=True, owner=str(upstream.ref), side="output")
            if walk.error is not None:
                problems.append(Problem(f"{placeholder.source}: {walk.error}", use.location, walk.hint))
                continue
            produced = schema_types(walk.schema)
        elif placeholder.scope is Scope.SECRETS:
            produced = frozenset(("string",))
        elif variables is not None and placeholder.name in variables:
            produced = frozenset((json_type_name(variables[placeholder.name]),))
        consumer = _consumer(use, actions)
        if consumer is None:
            continue
        action, input_keys = consumer
        where = f"input {format_field_path(input_keys)} of {action.ref}"
        inputs = _schema_of(action.action.inputs)
        walk = walk_schema(inputs, input_keys, strict_keys=False, owner=str(action.ref), side="input")
        if walk.error is not None:
            problems.append(Problem(f"{placeholder.source}: {walk.error}", use.location, walk.hint))
            continue
        accepted = schema_types(walk.schema)
        if use.whole and not types_fit(produced, accepted):
            assert produced is not None and accepted is not None
            problems.append(
                Problem(
                    f"{placeholder.source} gives {_describe(produced)}, but {where} expects {_describe(accepted)}",
                    use.location,
                    "wire a value of the expected type, or change the input's schema",
                )
            )
        elif not use.whole and not types_fit(frozenset(("string",)), accepted):
            assert accepted is not None
            problems.append(
                Problem(
                    f"{placeholder.source} is part of a longer string, but {where} expects {_describe(accepted)}",
                    use.location,
                    f"text around a template makes a string; make the value exactly '{placeholder.source}' to pass"
                    " the value itself",
                )
            )
    return problems


def _consumer(
    use: TemplateUse, actions: Mapping[str, ResolvedAction]
) -> tuple[ResolvedAction, tuple[str | int, ...]] | None:
    """The action and input path a use in ``tasks.ID.inputs`` lands in (None elsewhere)."""
    path = use.path
    if len(path) < 4 or path[0] != "tasks" or path[2] != "inputs":
        return None
    action = actions.get(str(path[1]))
    return None if action is None else (action, tuple(path[3:]))
