"""What ``run`` and ``validate`` share: their options and the checked, loaded workflow.

Only Typer is imported at module level; the runtime loads inside functions
so ``workflow --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ErrorKind, InvalidInput

if TYPE_CHECKING:
    from workflow_plugin_runtime import Config, Problem, Resolver, RuntimeKind, SecretProvider, WorkflowCheck

    from ..ui.console import Console

WorkflowFileArgument = Annotated[
    Path, typer.Argument(metavar="FILE", help="The workflow file (YAML).", show_default=False)
]
VarOption = Annotated[
    list[str] | None,
    typer.Option(
        "--var", metavar="NAME=VALUE", help="Set a var (repeatable); wins over --vars-file and the file's vars."
    ),
]
VarsFileOption = Annotated[
    Path | None, typer.Option("--vars-file", metavar="FILE", help="A YAML mapping of vars.", show_default=False)
]
SecretsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--secrets-file",
        metavar="FILE",
        help="A dotenv file of secrets (KEY=value); WORKFLOW_SECRET_<KEY> variables are read too.",
        show_default=False,
    ),
]
PluginsPathOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--plugins-path",
        "-p",
        metavar="DIR",
        show_default=False,
        help="Search DIR for plugins before the configured paths (repeatable; also WORKFLOW_PLUGINS_PATH).",
    ),
]


@dataclass(frozen=True, slots=True)
class LoadedWorkflow:
    check: WorkflowCheck
    config: Config
    resolver: Resolver
    secrets: SecretProvider
    variables: dict[str, Any]


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
        check = replace(check, problems=(*provider.warnings, *check.problems))
    return LoadedWorkflow(check, config, resolver, provider, variables)


def report_problems(console: Console, loaded: LoadedWorkflow) -> None:
    """The warnings on ``console``; any error raises :class:`InvalidInput` with every problem (exit 2)."""
    from ..ui.console import print_problem

    errors = loaded.check.errors
    if errors:
        count = len(errors)
        summary = f"{count} error{'s' if count != 1 else ''}: nothing was run"
        raise InvalidInput(ErrorKind.WORKFLOW, loaded.check.problems, summary=summary)
    for problem in loaded.check.problems:
        print_problem(console, problem)


def check_backend(loaded: LoadedWorkflow, backend: RuntimeKind | None, *, flag: str | None) -> list[Problem]:
    """Refuse a restricted run whose backend cannot run here; warn when ``--backend`` cannot apply.

    ``backend`` is the one chosen (``None``: auto); ``flag`` the ``--backend`` value as given, if any.

    Raises :class:`RuntimeUnavailableError` (exit 2: nothing has run) naming
    the backend and how to get it; returns the warnings to show and record.
    """
    from workflow_plugin_runtime import Problem, SecurityMode, Severity, usable_backend

    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    if workflow.security is SecurityMode.RESTRICTED:
        usable_backend(backend)
        return []
    if flag is None:
        return []
    return [
        Problem(
            f"--backend {flag} does not apply: workflow '{workflow.name}' is trusted, so its plugins run as "
            "local processes",
            location=workflow.locate(("security",)) if "security" in workflow.document.data else None,
            hint="set security: restricted in the workflow to run its plugins isolated, or drop --backend",
            severity=Severity.WARNING,
        )
    ]
