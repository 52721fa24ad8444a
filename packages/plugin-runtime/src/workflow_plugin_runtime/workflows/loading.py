"""Loading a workflow file into its model (:mod:`.workflow`), with every check that needs no plugin.

Loading checks, in one pass: safe YAML with positions (a duplicate key is
reported, not fatal), the shipped JSON Schema
(``schemas/workflow.schema.json``), then what a schema cannot say: action
references parse, ``needs`` name known tasks and form no cycle, templates
parse, each sits where it may (secrets only in task inputs), and a task reads
only the outputs of tasks it transitively needs. The structural checks run on
every part the schema accepted (a field the schema refused is left out of
them), and every problem of every check is reported at once, in file order
(``ValidationFailed``), so a user fixes a file in one go. Checks that need
the plugins (resolution, typed wiring, permissions against capabilities)
live in :mod:`.checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._util.yaml_document import FieldPath, YamlDocument
from ..errors import (
    Problem,
    ReferenceSyntaxError,
    Severity,
    TemplateError,
    ValidationFailed,
    file_position,
)
from ..plugins.references import ActionRef, PluginRef, parse_action_ref, parse_plugin_ref
from ..schemas import shipped_validator
from ..schemas.violations import schema_violations, violation_problems
from .document_cache import load_workflow_document
from .graph import Upstream, find_cycles, format_cycle, run_order
from .permissions import SecurityMode, parse_permissions
from .template_values import CompiledValue, TemplateUse, compile_value
from .templates import Scope
from .workflow import UNPARSED_ACTION, RetryPolicy, Task, Workflow, is_task_type

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from ..schemas.explanations import SchemaViolation

__all__ = ["load_workflow", "read_workflow"]

_INPUTS_ONLY_HINT = (
    "pass the secret as an input of the action that needs it; secrets never travel in environment variables,"
    " vars or outputs"
)


def load_workflow(path: Path | str) -> Workflow:
    """Load and check a workflow file.

    Raises :class:`WorkflowFileError` when the file cannot be read or is not
    YAML, and :class:`ValidationFailed` with every problem found (duplicate
    keys, schema, structure), in file order.
    """
    workflow, problems = read_workflow(path)
    if any(p.severity is Severity.ERROR for p in problems):
        raise ValidationFailed(problems)
    return workflow


def read_workflow(path: Path | str) -> tuple[Workflow, list[Problem]]:
    """The model and every problem of the file, in file order; the model is only usable without errors.

    For checks that go on after the file's own problems (resolving each
    task's plugin), so that one ``validate`` reports everything it can.
    Raises :class:`WorkflowFileError` when the file cannot be read or is not YAML.
    """
    path = Path(path).absolute()
    document = load_workflow_document(path)
    violations = schema_violations(shipped_validator("workflow"), document.data)
    problems = [*document.problems, *violation_problems(violations, document)]
    builder = _WorkflowBuilder(document, path, data=_schema_valid_parts(document.data, violations))
    workflow = builder.build()
    reported = {file_position(p) for p in problems}
    problems += [p for p in builder.problems if file_position(p) not in reported]  # not twice for one mistake
    return workflow, sorted(problems, key=file_position)


def _schema_valid_parts(data: dict[str, Any], violations: list[SchemaViolation]) -> dict[str, Any]:
    """``data`` without the fields the schema refused, for the structural checks.

    A refused value goes with its top-level field, or within a task with
    that task's field (``tasks.a.timeout``); a task that is not a mapping
    stays known, as an empty one, so ``needs`` naming it are not reported
    too. An unknown key at the top level or in a task needs nothing removed
    (the model never reads it); deeper, its field goes (``retries: {cont: 2}``).
    """
    kept = dict(data)
    tasks = dict(kept["tasks"]) if isinstance(kept.get("tasks"), dict) else None
    for violation in violations:
        path = violation.path[:-1] if violation.at_key else violation.path  # at a key: the mapping holding it
        if not path or (violation.at_key and (path == ("tasks",) or _is_task(path))):
            continue
        if path[0] != "tasks" or len(path) == 1 or tasks is None:
            kept.pop(str(path[0]), None)
            continue
        task_id = str(path[1])
        task = tasks.get(task_id)
        if _is_task(path) or not isinstance(task, dict):
            tasks[task_id] = dict(task) if isinstance(task, dict) else {}
        else:
            tasks[task_id] = {k: v for k, v in task.items() if k != path[2]}
    if tasks is not None and "tasks" in kept:
        kept["tasks"] = tasks
    return kept


def _is_task(path: FieldPath) -> bool:
    """``tasks.ID`` itself."""
    return len(path) == 2 and path[0] == "tasks"


class _WorkflowBuilder:
    """Turns schema-valid data into the model, collecting every structural problem."""

    def __init__(self, document: YamlDocument, path: Path, *, data: dict[str, Any]) -> None:
        self.document = document
        self.data = data
        self.path = path
        self.problems: list[Problem] = []
        self._refs: dict[str, ActionRef] = {}
        """Parsed ``uses`` by text: a large workflow repeats a few actions (a reference is immutable)."""
        self._policies: dict[int, RetryPolicy] = {}
        """``retries: N`` by count, made once each (a policy is immutable)."""

    def report(self, problem: Problem) -> None:
        self.problems.append(problem)

    def error(self, path: FieldPath, message: str, *, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.document.location(path), hint))

    def compile(self, value: Any, path: FieldPath) -> CompiledValue:
        return compile_value(value, path=path, locate=self.document.location, on_error=self._template_error)

    def _template_error(self, exc: TemplateError) -> None:
        self.problems.append(exc.problem)

    def _task_value(self, raw: Mapping[str, Any], field: str, task_id: str) -> CompiledValue:
        """A task's ``inputs`` or ``env``; most tasks of a large workflow have none, which need no walk."""
        value = raw.get(field, {})
        if not value:
            return CompiledValue(value, (), False)
        return self.compile(value, ("tasks", task_id, field))

    def build(self) -> Workflow:
        data = self.data
        security = SecurityMode(data.get("security", SecurityMode.TRUSTED.value))
        permissions = parse_permissions(
            data.get("permissions"), base_dir=self.path.parent, locate=self.document.location, report=self.report
        )
        self._check_vars(data.get("vars", {}))
        env = self.compile(data.get("env", {}), ("env",))
        tasks = {task_id: self._task(task_id, raw) for task_id, raw in data.get("tasks", {}).items()}
        needs = {task_id: task.needs for task_id, task in tasks.items()}
        self._check_needs(needs)
        upstream = Upstream(needs)
        outputs = self.compile(data.get("outputs", {}), ("outputs",))
        self._check_placement(env, tasks=tasks, outputs=outputs, upstream=upstream)
        requires = self._requires(data.get("requires", {}), tasks)
        return Workflow(
            name=data.get("name", ""),
            path=self.path,
            security=security,
            permissions=permissions,
            vars=MappingProxyType(dict(data.get("vars", {}))),
            env=env,
            tasks=MappingProxyType(tasks),
            outputs=outputs,
            requires=MappingProxyType(requires),
            order=run_order(needs),
            upstream=upstream,
            document=self.document,
            description=data.get("description", ""),
            warnings=tuple(p for p in self.problems if p.severity is Severity.WARNING),
        )

    def _task(self, task_id: str, raw: Mapping[str, Any]) -> Task:
        where: FieldPath = ("tasks", task_id)
        uses: ActionRef | str
        text = raw.get("uses")
        if text is None:  # the schema reported it
            uses = UNPARSED_ACTION
        elif "/" not in text and is_task_type(text):
            uses = text  # an engine task type, checked against the registered handlers
        elif text in self._refs:
            uses = self._refs[text]
        else:
            try:
                uses = self._refs[text] = parse_action_ref(text)
            except ReferenceSyntaxError:  # parsed again with its place, which only a message needs
                uses = UNPARSED_ACTION
                try:
                    parse_action_ref(text, location=self.document.location((*where, "uses")))
                except ReferenceSyntaxError as exc:
                    self.report(exc.problem)
        needs = raw.get("needs", ())
        retries = raw.get("retries", 0)
        if isinstance(retries, int):
            policy = self._policies.get(retries) or self._policies.setdefault(retries, RetryPolicy(count=retries))
        else:
            policy = RetryPolicy(
                retries.get("count", 0), float(retries.get("backoff", 1.0)), retries.get("on_timeout", False)
            )
        timeout = raw.get("timeout")
        return Task(
            id=task_id,
            uses=uses,
            needs=(needs,) if isinstance(needs, str) else tuple(needs),
            inputs=self._task_value(raw, "inputs", task_id),
            env=self._task_value(raw, "env", task_id),
            timeout_s=None if timeout is None else float(timeout),
            retries=policy,
            description=raw.get("description", ""),
            location=self.document.location(where, key=True),
        )

    def _needs_path(self, task_id: str, index: int) -> FieldPath:
        raw = self.data["tasks"][task_id].get("needs")
        return ("tasks", task_id, "needs") if isinstance(raw, str) else ("tasks", task_id, "needs", index)

    def _check_needs(self, needs: Mapping[str, tuple[str, ...]]) -> None:
        for task_id, deps in needs.items():
            for index, dep in enumerate(deps):
                if dep == task_id:
                    self.error(self._needs_path(task_id, index), f"task '{task_id}' needs itself")
                elif dep not in needs:
                    from .._util.suggestions import closest  # a hint for a mistake: loaded only then

                    near = closest(dep, [t for t in needs if t != task_id])
                    hint = f"did you mean '{near}'?" if near else f"known tasks: {', '.join(needs)}"
                    self.error(
                        self._needs_path(task_id, index), f"task '{task_id}' needs unknown task '{dep}'", hint=hint
                    )
        for cycle in find_cycles({t: [d for d in deps if d != t] if t in deps else deps for t, deps in needs.items()}):
            self.error(
                ("tasks", cycle[0], "needs"),
                f"cycle in needs: {format_cycle(cycle)}",
                hint="tasks in a cycle can never start; remove one of these needs",
            )

    def _check_vars(self, variables: Mapping[str, Any]) -> None:
        for use in self.compile(variables, ("vars",)).uses:
            if use.placeholder.scope is Scope.SECRETS:
                message = f"{use.placeholder.source} is not allowed in vars: secrets may only be used in task inputs"
                self.report(Problem(message, use.location, _INPUTS_ONLY_HINT))
            else:
                self.report(
                    Problem(
                        f"vars are literal values: {use.placeholder.source} is not allowed here",
                        use.location,
                        r'write \{{ for a literal "{{"',
                    )
                )

    def _check_placement(
        self,
        env: CompiledValue,
        *,
        tasks: Mapping[str, Task],
        outputs: CompiledValue,
        upstream: Upstream,
    ) -> None:
        def secret_not_here(use: TemplateUse, place: str) -> None:
            message = f"{use.placeholder.source} is not allowed in {place}: secrets may only be used in task inputs"
            self.report(Problem(message, use.location, _INPUTS_ONLY_HINT))

        for use in env.uses:
            if use.placeholder.scope is Scope.SECRETS:
                secret_not_here(use, "the workflow's env")
            elif use.placeholder.scope is Scope.TASKS:
                self.report(
                    Problem(
                        f"the workflow's env cannot read task outputs: {use.placeholder.source}",
                        use.location,
                        "set it in the env of the task that needs it",
                    )
                )
        for task in tasks.values():
            if not (task.inputs.uses or task.env.uses):
                continue
            for use in task.env.uses:
                if use.placeholder.scope is Scope.SECRETS:
                    secret_not_here(use, f"the env of task '{task.id}'")
            for use in (*task.inputs.uses, *task.env.uses):
                if use.placeholder.scope is Scope.TASKS:
                    self._check_task_placeholder(use, tasks, reader=task, upstream=upstream)
        for use in outputs.uses:
            if use.placeholder.scope is Scope.SECRETS:
                secret_not_here(use, "the workflow's outputs")
            elif use.placeholder.scope is Scope.TASKS:
                self._check_task_placeholder(use, tasks, reader=None, upstream=upstream)

    def _check_task_placeholder(
        self, use: TemplateUse, tasks: Mapping[str, Task], *, reader: Task | None, upstream: Upstream
    ) -> None:
        name = use.placeholder.name

        def report(message: str, hint: str | None) -> None:
            self.report(Problem(message, use.location, hint))

        if name not in tasks:
            from .._util.suggestions import closest  # a hint for a mistake: loaded only then

            near = closest(name, list(tasks))
            hint = f"did you mean '{near}'?" if near else f"known tasks: {', '.join(tasks)}"
            report(f"unknown task '{name}' in {use.placeholder.source}", hint)
        elif reader is not None and name == reader.id:
            report(f"task '{name}' cannot read its own outputs ({use.placeholder.source})", None)
        elif reader is not None and not upstream.reaches(reader.id, name):
            wanted = ", ".join([*reader.needs, name])
            report(
                f"task '{reader.id}' reads {use.placeholder.source} but does not need '{name}'",
                f"add it to the task's needs: needs: [{wanted}]",
            )

    def _requires(self, raw: Mapping[str, str], tasks: Mapping[str, Task]) -> dict[PluginRef, SpecifierSet]:
        requires: dict[PluginRef, SpecifierSet] = {}
        if not raw:
            return requires
        from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only a workflow with requires needs it

        used = {task.action.plugin for task in tasks.values() if task.action is not None}
        for text, spec in raw.items():
            where: FieldPath = ("requires", text)
            try:
                ref = parse_plugin_ref(text, location=self.document.location(where, key=True))
            except ReferenceSyntaxError as exc:
                self.report(exc.problem)
                continue
            try:
                requires[ref] = SpecifierSet(spec)
            except InvalidSpecifier:
                self.error(
                    where, f"{spec!r} is not a valid version requirement", hint="use PEP 440 specifiers: '>=1.2,<2'"
                )
                continue
            if ref not in used:
                self.report(
                    Problem(
                        f"requires {ref}, but no task uses it",
                        self.document.location(where, key=True),
                        "remove the requirement or fix the plugin name",
                        Severity.WARNING,
                    )
                )
        return requires
