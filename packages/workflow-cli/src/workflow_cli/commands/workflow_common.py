"""What ``run``, ``validate`` and ``lock`` share: the checked, loaded workflow, the lock, where plugins run.

Neither Typer nor the runtime is imported at module level: the entry point
runs these commands without Typer (:mod:`workflow_cli.fast_path`), and the
runtime loads inside the functions that need it.

Its records are named tuples, not dataclasses (``validate`` and ``run`` never
import ``dataclasses``, docs/performance.md), and at run time they are made
by ``collections.namedtuple``: ``typing.NamedTuple`` would import ``typing``
and compile each field's annotation, about 0.3 ms a class here. The type
checker reads the ``NamedTuple`` declarations under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from collections import namedtuple

from ..errors import ErrorKind, InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NamedTuple

    from workflow_plugin_runtime import (
        Config,
        Problem,
        Resolver,
        RuntimeKind,
        RuntimeUnavailableError,
        SecretProvider,
        SourceLocation,
        Workflow,
        WorkflowCheck,
    )

    from .plugin_views import RunsInView

__all__ = [
    "AUTO",
    "LoadedWorkflow",
    "Placement",
    "check_against_lock",
    "check_backend",
    "load_and_check",
    "place",
    "report_problems",
]

AUTO = "auto"
"""The ``restricted.backend`` setting (and ``--backend``) that lets each machine choose: no place of its own."""


if TYPE_CHECKING:

    class LoadedWorkflow(NamedTuple):
        """A workflow as every static check left it, with what checked it."""

        check: WorkflowCheck
        config: Config
        resolver: Resolver
        secrets: SecretProvider
        variables: dict[str, Any]

    class _PlacementFields(NamedTuple):
        workflow: Workflow
        backend: RuntimeKind | None = None
        runtime: RuntimeKind | None = None
        problem: RuntimeUnavailableError | None = None

else:
    LoadedWorkflow = namedtuple("LoadedWorkflow", ("check", "config", "resolver", "secrets", "variables"))
    _PlacementFields = namedtuple(
        "_PlacementFields", ("workflow", "backend", "runtime", "problem"), defaults=(None, None, None)
    )


def load_and_check(
    file: Path,
    *,
    plugins_paths: list[Path] | None,
    var_options: list[str] | None,
    vars_file: Path | None,
    secrets_file: Path | None,
    check_secrets: bool = True,
) -> LoadedWorkflow:
    """Every static check of ``file``; the project config is looked up from the file's folder."""
    from workflow_plugin_runtime import (
        Resolver,
        check_workflow_file,
        default_secret_provider,
        load_config,
        load_vars_file,
        merge_vars,
        parse_var_options,
    )

    variables = merge_vars(load_vars_file(vars_file) if vars_file else None, parse_var_options(var_options or ()))
    config = load_config(start=file.absolute().parent, plugins_paths=tuple(plugins_paths or ()))
    resolver = Resolver.from_config(config)
    provider = default_secret_provider(secrets_file=secrets_file)
    check = check_workflow_file(
        file, resolver=resolver, vars_overrides=variables, secrets=provider if check_secrets else None
    )
    if provider.warnings:  # a secrets file others can read: shown with the checks' findings, and recorded
        check = check.replace(problems=(*provider.warnings, *check.problems))
    return LoadedWorkflow(check, config, resolver, provider, variables)


def check_against_lock(
    loaded: LoadedWorkflow, *, runtime: RuntimeKind | None, enforce: bool = True
) -> dict[str, Any] | None:
    """The workflow's plugins against its lock file, before anything runs; the run record's ``lock`` block.

    None when there is no lock. A drifted plugin raises :class:`InvalidInput`
    (exit 2) with the report, unless ``enforce`` is off (``--no-lock``): then
    the report is a warning (on stderr) and the block says the lock was
    skipped. A malformed lock is refused the same way. ``runtime`` is where
    the plugins run here (images are compared only on Docker).
    """
    from workflow_plugin_runtime import Severity, WorkflowPluginError, check_lock, lock_path_for

    from ..ui.console import print_problems

    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    try:
        result = check_lock(loaded.check, runtime=runtime, project_root=loaded.config.project_root)
    except WorkflowPluginError as exc:
        if enforce:
            raise
        print_problems([exc.problem.replace(severity=Severity.WARNING)])
        return {"path": str(lock_path_for(workflow.path)), "matched": None, "skipped": True, "plugins": {}}
    if result is None:
        return None
    problems = result.problems()
    if problems and enforce:
        count = len(problems)
        summary = f"{count} plugin{'s' if count != 1 else ''} differ{'s' if count == 1 else ''} from the lock"
        raise InvalidInput(ErrorKind.LOCK, problems, summary=f"{summary}: nothing was run")
    print_problems([problem.replace(severity=Severity.WARNING) for problem in problems])
    return result.to_record(skipped=not enforce)


def report_problems(loaded: LoadedWorkflow) -> None:
    """The warnings on stderr; any error raises :class:`InvalidInput` with every problem (exit 2)."""
    from ..ui.console import print_problems

    errors = loaded.check.errors
    if errors:
        count = len(errors)
        summary = f"{count} error{'s' if count != 1 else ''}: nothing was run"
        raise InvalidInput(ErrorKind.WORKFLOW, loaded.check.problems, summary=summary)
    print_problems(loaded.check.problems)


class Placement(_PlacementFields):
    """Where a workflow's plugins run on this machine, decided as ``workflow run`` decides it.

    ``backend`` is the chosen setting (``None``: auto); ``runtime`` the
    place that gives here, ``None`` when it cannot run here (``problem``
    says why and how to get it).
    """

    __slots__ = ()

    def view(self) -> RunsInView:
        from workflow_plugin_runtime import SecurityMode

        from .plugin_views import problem_view

        restricted = self.workflow.security is SecurityMode.RESTRICTED
        warning = self.warning()
        return {
            "security": self.workflow.security.value,
            "backend": (AUTO if self.backend is None else self.backend.value) if restricted else None,
            "runtime": None if self.runtime is None else self.runtime.value,
            "unavailable": None if warning is None else problem_view(warning),
        }

    def warning(self) -> Problem | None:
        """What ``run`` would refuse, as a warning for the commands that only check (validate, plugin inspect)."""
        from workflow_plugin_runtime import Problem, Severity

        if self.problem is None:
            return None
        return Problem(self.problem.message, _security_location(self.workflow), self.problem.hint, Severity.WARNING)


def _security_location(workflow: Workflow) -> SourceLocation | None:
    return workflow.locate(("security",)) if "security" in workflow.document.data else None


def place(workflow: Workflow, backend: RuntimeKind | None) -> Placement:
    """Where ``workflow``'s plugins run here: a process when trusted, else what ``backend`` (None: auto) gives.

    A restricted backend's probe decides (the sandbox's once per process);
    nothing is started for a trusted workflow.
    """
    from workflow_plugin_runtime import RuntimeKind, SecurityMode

    if workflow.security is not SecurityMode.RESTRICTED:
        return Placement(workflow, runtime=RuntimeKind.PROCESS)
    from workflow_plugin_runtime import RuntimeUnavailableError, usable_backend  # the runtimes: only when restricted

    try:
        return Placement(workflow, backend, runtime=usable_backend(backend))
    except RuntimeUnavailableError as exc:
        return Placement(workflow, backend, problem=exc)


def check_backend(
    loaded: LoadedWorkflow, backend: RuntimeKind | None, *, flag: str | None
) -> tuple[RuntimeKind | None, list[Problem]]:
    """The backend a run uses, decided once; warns when ``--backend`` cannot apply.

    ``backend`` is the one chosen (``None``: auto); ``flag`` the ``--backend``
    value as given, if any. Returns the restricted backend the run's plugins
    use (``None`` for a trusted workflow) and the warnings to show and record.

    Raises :class:`RuntimeUnavailableError` (exit 2: nothing has run) naming
    the backend and how to get it.
    """
    from workflow_plugin_runtime import Problem, SecurityMode, Severity

    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    if workflow.security is SecurityMode.RESTRICTED:
        from workflow_plugin_runtime import usable_backend  # the backends' probes: only when restricted

        return usable_backend(backend), []
    if flag is None:
        return None, []
    return None, [
        Problem(
            f"--backend {flag} does not apply: workflow '{workflow.name}' is trusted, so its plugins run as "
            "local processes",
            location=_security_location(workflow),
            hint="set security: restricted in the workflow to run its plugins isolated, or drop --backend",
            severity=Severity.WARNING,
        )
    ]
