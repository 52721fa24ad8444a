"""Every check of a loaded workflow that needs its plugins, and nothing that runs them.

This is ``workflow validate`` and the gate before ``workflow run``: each
task's action resolves (honouring ``requires``), typed wiring holds, vars
and secrets exist, and in restricted mode every capability is granted and
every mount source exists.
All problems are collected; warnings (broad or unneeded grants, short
secrets, a secret input given a value written in the file) never fail the
check.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._frozen import FrozenRecord
from ..errors import (
    ManifestError,
    PluginNotFoundError,
    Problem,
    ReferenceSyntaxError,
    Severity,
    SourceLocation,
    ValidationFailed,
    WorkflowFileError,
    file_position,
)
from ..plugins.resolve import ResolvedAction, Resolver
from ..schemas import Validator
from ..schemas.violations import schema_violations
from .grant_warnings import workflow_grant_problems
from .loading import read_workflow
from .secrets import SECRET_ENV_PREFIX, SecretProvider, secret_problems, var_problems
from .template_values import iter_templates
from .templates import Scope
from .wiring import wiring_problems
from .workflow import UNPARSED_ACTION, Workflow

__all__ = ["WorkflowCheck", "check_workflow", "check_workflow_file", "secret_keys"]


class WorkflowCheck(FrozenRecord):
    """The outcome of checking a workflow; ``workflow`` is None when the file did not load.

    A FrozenRecord, not a dataclass: ``validate`` and ``run`` never import
    ``dataclasses`` (docs/performance.md); ``check.replace(...)`` derives a copy.
    """

    __slots__ = ("actions", "problems", "workflow")
    workflow: Workflow | None
    problems: tuple[Problem, ...]
    actions: Mapping[str, ResolvedAction]

    def __init__(
        self,
        workflow: Workflow | None,
        problems: tuple[Problem, ...] = (),
        actions: Mapping[str, ResolvedAction] | None = None,
    ) -> None:
        object.__setattr__(self, "workflow", workflow)
        object.__setattr__(self, "problems", problems)
        object.__setattr__(self, "actions", {} if actions is None else actions)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(self.problems)


def check_workflow_file(
    path: Path | str,
    *,
    resolver: Resolver,
    vars_overrides: Mapping[str, Any] | None = None,
    secrets: SecretProvider | None = None,
    task_types: Collection[str] = (),
) -> WorkflowCheck:
    """Load and check; never raises for a bad file: its problems are in the result.

    A file with problems of its own still has its tasks' plugins resolved
    (where ``uses`` parsed), so one check reports both kinds; the checks that
    need a sound file (wiring, vars, secrets, grants) wait for it.
    """
    try:
        workflow, problems = read_workflow(path)
    except WorkflowFileError as exc:
        return WorkflowCheck(None, (exc.problem,))
    if any(p.severity is Severity.ERROR for p in problems):
        _resolve(workflow, resolver=resolver, problems=problems)
        problems += _task_type_problems(workflow, task_types)
        return WorkflowCheck(None, tuple(sorted(problems, key=lambda p: _elsewhere(p, workflow.path))))
    return check_workflow(
        workflow, resolver=resolver, vars_overrides=vars_overrides, secrets=secrets, task_types=task_types
    )


def check_workflow(
    workflow: Workflow,
    *,
    resolver: Resolver,
    vars_overrides: Mapping[str, Any] | None = None,
    secrets: SecretProvider | None = None,
    task_types: Collection[str] = (),
) -> WorkflowCheck:
    """Resolve every task's action and check wiring, vars, secrets (when a provider is given) and grants."""
    problems: list[Problem] = list(workflow.warnings)
    actions = _resolve(workflow, resolver=resolver, problems=problems)
    problems += _task_type_problems(workflow, task_types)
    uses = workflow.template_uses()
    variables = workflow.merged_vars(vars_overrides)
    problems += var_problems(uses, variables)
    if secrets is not None:
        problems += secret_problems(uses, secrets)
        problems += _short_secret_warnings(workflow, secrets)
    problems += wiring_problems(uses, actions, variables=variables)
    problems += _literal_input_problems(workflow, actions)
    problems += _literal_secret_warnings(workflow, actions)
    problems += workflow_grant_problems(workflow, actions, all_resolved=len(actions) == len(workflow.tasks))
    return WorkflowCheck(workflow, tuple(problems), MappingProxyType(actions))


def _literal_input_problems(workflow: Workflow, actions: Mapping[str, ResolvedAction]) -> list[Problem]:
    """Input values written in the file (no template) checked against the action's schema before any run.

    Inputs without templates are validated whole (required keys, unknown
    keys); with templates, each literal top-level value is checked against
    its own property schema, and the templated ones are typed wiring's job.
    """
    from ..plugins.manifest import thaw_manifest_data
    from ..schemas import compile_schema

    problems: list[Problem] = []
    validators: dict[int, Validator | None] = {}  # by action: tasks of one action share it (and its lookup)
    for task_id, resolved in actions.items():
        schema = resolved.action.inputs
        compiled = workflow.tasks[task_id].inputs
        if not isinstance(schema, Mapping) or not isinstance(compiled.tree, Mapping):
            continue
        where = ("tasks", task_id, "inputs")
        checks: list[tuple[tuple[str, ...], Validator | None, Any]]
        if not compiled.has_templates:
            if id(resolved.action) not in validators:
                validators[id(resolved.action)] = resolved.action.input_validator()
            checks = [((), validators[id(resolved.action)], compiled.tree)]
        else:
            properties = schema.get("properties", {})
            literal = {
                k: v for k, v in compiled.tree.items() if next(iter_templates(v), None) is None and k in properties
            }
            checks = [
                ((key,), compile_schema(thaw_manifest_data(properties[key])), value) for key, value in literal.items()
            ]
        for prefix, validator, data in checks:
            if validator is None:
                continue
            for violation in schema_violations(validator, data):
                path = (*where, *prefix, *violation.path)
                location = workflow.locate(path, key=violation.at_key)
                problems.append(Problem(f"{violation.message} (input of {resolved.ref})", location, violation.hint))
    return problems


def _literal_secret_warnings(workflow: Workflow, actions: Mapping[str, ResolvedAction]) -> list[Problem]:
    """A ``secret: true`` input given a value written in the file (or taken from vars), not a secret.

    Such a value is in the file for anyone who reads it, and the masker
    knows only secrets: logs, errors and the run record show it. The
    warning points at the value's line and never quotes it. A value from an
    upstream task's outputs is the plugins' business (a token one task makes
    for the next), so it is not warned about.
    """
    warnings: list[Problem] = []
    for task_id, resolved in actions.items():
        tree = workflow.tasks[task_id].inputs.tree
        if not isinstance(tree, Mapping):
            continue
        for name in resolved.action.secret_inputs:
            if name not in tree:
                continue
            scopes = {each.scope for template in iter_templates(tree[name]) for each in template.placeholders}
            if scopes & {Scope.SECRETS, Scope.TASKS}:
                continue
            source = "comes from vars, which are not secret" if scopes else "is written in the workflow"
            key = re.sub(r"[^A-Z0-9_]", "_", str(name).upper())
            warnings.append(
                Problem(
                    f"input '{name}' of {resolved.ref} is secret, but its value {source}; "
                    "it is not masked in logs, errors or the run record",
                    workflow.locate(("tasks", task_id, "inputs", name)),
                    f"keep the value out of the file, in a secret: {SECRET_ENV_PREFIX}{key}=... in the environment "
                    f'or {key}=... in a --secrets-file, and write {name}: "{{{{ secrets.{key} }}}}"',
                    Severity.WARNING,
                )
            )
    return warnings


def _task_type_problems(workflow: Workflow, task_types: Collection[str]) -> list[Problem]:
    """Tasks whose ``uses`` names an engine task type that no handler is registered for."""
    problems = []
    for task in workflow.tasks.values():
        if task.action is not None or task.uses in task_types:
            continue
        from .._util.suggestions import closest  # a hint for a mistake: loaded only then

        near = closest(str(task.uses), task_types)
        hint = f"did you mean {near}? " if near else ""
        if task_types:
            hint += f"this engine handles: {', '.join(sorted(task_types))}; "
        hint += "a plugin action is written namespace/name.action (e.g. acme/http.get)"
        where = workflow.locate(("tasks", task.id, "uses"))
        problems.append(Problem(f"unknown task type '{task.uses}' (task '{task.id}')", where, hint))
    return problems


def _short_secret_warnings(workflow: Workflow, secrets: SecretProvider) -> list[Problem]:
    """Secrets too short to mask, warned about at their first use."""
    first_use: dict[str, SourceLocation | None] = {}
    for use in workflow.template_uses():
        if use.placeholder.scope is Scope.SECRETS:
            first_use.setdefault(use.placeholder.name, use.location)
    if not first_use:
        return []
    from ..masking.masker import short_secret_warning  # the masker's modules: only for a workflow that uses secrets

    warnings = []
    for key, location in first_use.items():
        value = secrets.get(key)
        warning = None if value is None else short_secret_warning(key, value)
        if warning is not None:
            warnings.append(Problem(warning.message, location, warning.hint, warning.severity))
    return warnings


def _elsewhere(problem: Problem, path: Path) -> tuple[bool, int, int]:
    """Problems in the workflow file by line, then those located in other files (a broken plugin.yaml)."""
    where = problem.location or SourceLocation()
    return (where.file is not None and where.file != path, *file_position(problem))


def _resolve(workflow: Workflow, *, resolver: Resolver, problems: list[Problem]) -> dict[str, ResolvedAction]:
    """Each task's action; the problems of each failing reference once, located at its first task.

    A broken manifest gives every one of its problems (its hints say which task uses it).
    """
    actions: dict[str, ResolvedAction] = {}
    failed: dict[str, list[Problem]] = {}
    resolved: dict[str, ResolvedAction] = {}  # a 2,000-task workflow of one action resolves it once
    for task in workflow.tasks.values():
        ref = str(task.uses)
        if ref in resolved:
            actions[task.id] = resolved[ref]
            continue
        if ref in failed or task.action is None or task.action == UNPARSED_ACTION:
            continue
        where = workflow.locate(("tasks", task.id, "uses"))
        try:
            specifier = workflow.requires.get(task.action.plugin)
            actions[task.id] = resolved[ref] = resolver.resolve_action(task.action, specifier=specifier)
        except ManifestError as exc:
            used_by = f"used by task '{task.id}' at {where}"
            failed[ref] = [
                Problem(p.message, p.location, f"{p.hint}; {used_by}" if p.hint else used_by) for p in exc.problems
            ]
        except (PluginNotFoundError, ReferenceSyntaxError) as exc:
            failed[ref] = [Problem(exc.message, where, exc.hint)]
    problems += [problem for found in failed.values() for problem in found]
    return actions


def secret_keys(workflow: Workflow) -> list[str]:
    """The secret keys a workflow uses, in first-use order (what a run must collect and mask)."""
    keys = (use.placeholder.name for use in workflow.template_uses() if use.placeholder.scope is Scope.SECRETS)
    return list(dict.fromkeys(keys))
