"""Running a validator and placing what it found in the file: every violation, located, in file order.

fastjsonschema says ``data.runtime must not contain {'entrypont'} properties``;
a user needs ``plugin.yaml:7:3: runtime.entrypont: unknown key 'entrypont'``
and ``hint: did you mean 'entrypoint'?``. The wording of each rule's finding
is :mod:`.explanations`'; this module runs the validator, keeps the most
precise explanation where several say the same, and locates each in any
:class:`~.._util.yaml_document.YamlDocument`, so manifests, configs and
workflow files report schema problems the same way.

Validators are compiled with ``fast_fail=False`` (see :mod:`..schemas`), so one
run yields every violation; callers raise the first (in file order) or list
them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._util.yaml_document import FieldPath, YamlDocument
from ..errors import Problem, WorkflowPluginError, file_position, hint_counting_the_rest
from . import Validator

if TYPE_CHECKING:
    from .explanations import FoundError, SchemaViolation

__all__ = [
    "raise_first_violation",
    "schema_violations",
    "violation_problems",
]

_E = TypeVar("_E", bound=WorkflowPluginError)

# When one object breaks several rules, the most specific explanation wins.
_RULE_RANK = {"additionalProperties": 0, "required": 1, "propertyNames": 2, "oneOf": 8, "anyOf": 8, "allOf": 9}


def schema_violations(validator: Validator, data: Any) -> list[SchemaViolation]:
    """Every violation of ``validator`` by ``data`` (empty when valid)."""
    try:
        validator(data)
    except ValueError as exc:
        from .explanations import explain_error  # the wording of findings: loaded only when there are some

        found: Sequence[FoundError] = getattr(exc, "errors", None) or [exc]
        violations = [
            violation for error in found if hasattr(error, "rule") for violation in explain_error(error, data)
        ]
        return _prune(violations)
    return []


def violation_problems(
    violations: Iterable[SchemaViolation], document: YamlDocument, *, base_path: FieldPath = ()
) -> list[Problem]:
    """Located problems in file order; ``base_path`` places sub-data (an action's schema) in the file."""
    problems = [
        Problem(
            violation.message, document.location((*base_path, *violation.path), key=violation.at_key), violation.hint
        )
        for violation in violations
    ]
    return sorted(problems, key=file_position)


def raise_first_violation(
    validator: Validator,
    data: Any,
    *,
    document: YamlDocument,
    error: type[_E],
    base_path: FieldPath = (),
) -> None:
    """Raise ``error`` for the first violation in file order, saying how many more there are."""
    problems = violation_problems(schema_violations(validator, data), document, base_path=base_path)
    if not problems:
        return
    first = problems[0]
    raise error(first.message, location=first.location, hint=hint_counting_the_rest(problems))


def _prune(violations: list[SchemaViolation]) -> list[SchemaViolation]:
    """Keep one explanation per object when a combinator error duplicates a precise one."""
    best: dict[FieldPath, SchemaViolation] = {}
    kept: list[SchemaViolation] = []
    for violation in violations:
        rank = _RULE_RANK.get(violation.rule or "", 5)
        if rank >= 8:
            current = best.get(violation.path)
            if current is None or _RULE_RANK.get(current.rule or "", 5) > rank:
                best[violation.path] = violation
            continue
        kept.append(violation)
    precise_parents = {v.path[:-1] if v.at_key else v.path for v in kept}
    precise_parents |= {v.path for v in kept}
    kept.extend(v for path, v in best.items() if path not in precise_parents)
    seen: set[tuple[FieldPath, str]] = set()
    unique = []
    for violation in kept:
        marker = (violation.path, violation.message)
        if marker not in seen:
            seen.add(marker)
            unique.append(violation)
    return unique
