"""``workflow run``: check, run with live progress, record, summarise; exit 0, 1 or 2."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ErrorKind, ExitCode, InvalidInput
from .workflow_common import (
    PluginsPathOption,
    SecretsFileOption,
    VarOption,
    VarsFileOption,
    WorkflowFileArgument,
    check_against_lock,
    check_backend,
    load_and_check,
    report_problems,
)

if TYPE_CHECKING:
    from pathlib import Path

    from workflow_plugin_runtime import (
        DaskExecutor,
        ExecutorSettings,
        PluginExecutor,
        PluginManager,
        Problem,
        RuntimeKind,
        Workflow,
    )

    from ..ui.console import Console
    from .workflow_common import LoadedWorkflow


def run(
    file: WorkflowFileArgument,
    *,
    var: VarOption = None,
    vars_file: VarsFileOption = None,
    secrets_file: SecretsFileOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Tasks run at once.")] = 4,
    pool: Annotated[
        bool, typer.Option("--pool", help="Keep warm workers for every plugin that speaks the serve loop.")
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            metavar="auto|sandbox|docker",
            help="Where restricted workflows run (default: config, else auto).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the run record as JSON on stdout; progress goes to stderr.")
    ] = False,
    plugins_path: PluginsPathOption = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            metavar="local|dask",
            help="Where plugin tasks run: here, or on a Dask cluster's workers (default: config, else local).",
            show_default=False,
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            metavar="ADDRESS",
            help="The Dask scheduler, e.g. tls://HOST:8786 (default: config, else a local cluster).",
            show_default=False,
        ),
    ] = None,
    no_lock: Annotated[
        bool,
        typer.Option(
            "--no-lock", help="Run even when a plugin differs from the workflow's lock; the run record says so."
        ),
    ] = False,
) -> None:
    """Run a workflow file.

    Every static check runs first (as `workflow validate`); then tasks start
    as soon as what they need has succeeded, up to --concurrency at once. The
    run record is written to .workflow/runs/ next to the file. Ctrl-C stops
    the run cleanly: running plugins are killed, unfinished tasks are marked
    cancelled, and the record is still written. When the record cannot be
    written (a full disk, a runs path that is not a folder), that is reported
    as an error, the summary and --json still show the record, and the exit
    code is still the run's own. When the workflow has a lock file (see
    `workflow lock`), a plugin that differs from it is refused before
    anything runs, unless --no-lock is given. With --executor dask, each
    plugin task runs on a worker of a Dask cluster (a local one without
    --dask-address); every worker is first asked for the plugins it holds.

    Exit codes: 0 succeeded, 1 failed or cancelled, 2 invalid input.

    Examples:

      workflow run release.yaml

      workflow run release.yaml --var version=1.2.0 --secrets-file .env

      workflow run release.yaml --pool --concurrency 8 --json > record.json

      workflow run release.yaml --executor dask --dask-address tls://scheduler:8786
    """
    from workflow_plugin_runtime import ExecutorKind, restricted_backend

    from ..ui.console import make_console, print_problem

    chosen_backend = None
    if backend is not None:
        try:
            chosen_backend = restricted_backend(backend)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--backend") from None
    errors = make_console(stderr=True)
    loaded = load_and_check(
        file, plugins_paths=plugins_path, var_options=var, vars_file=vars_file, secrets_file=secrets_file
    )
    report_problems(loaded)
    settings = _executor_settings(loaded.config.executor, kind=executor, address=dask_address)
    if backend is None:
        chosen_backend = loaded.config.backend
    backend_warnings: list[Problem] = []
    used_backend = chosen_backend  # on a remote cluster, the workers' resources decide auto (docs/scaling.md)
    if settings.kind is not ExecutorKind.DASK or settings.address is None:
        # The backend probed now (here, where a local cluster's workers run too) is the one the run uses:
        # auto is decided once, not again by the manager.
        used_backend, backend_warnings = check_backend(loaded, chosen_backend, flag=backend)
    for warning in backend_warnings:
        print_problem(errors, warning)
    lock = check_against_lock(loaded, runtime=used_backend, enforce=not no_lock)
    progress_console = errors if json_output else make_console()
    code = _execute(
        loaded,
        progress_console=progress_console,
        errors=errors,
        concurrency=concurrency,
        pool=pool,
        backend=used_backend,
        json_output=json_output,
        warnings=[*loaded.check.warnings, *backend_warnings],
        lock=lock,
        executor=settings,
    )
    raise typer.Exit(code)


def _executor_settings(configured: ExecutorSettings, *, kind: str | None, address: str | None) -> ExecutorSettings:
    """The config's ``executor`` section with ``--executor`` and ``--dask-address`` over it."""
    from workflow_plugin_runtime import ExecutorKind, ExecutorSettings

    chosen = configured.kind
    if kind is not None:
        try:
            chosen = ExecutorKind(kind)
        except ValueError:
            choices = ", ".join(member.value for member in ExecutorKind)
            raise typer.BadParameter(f"{kind!r} is not one of {choices}", param_hint="--executor") from None
    if address is not None and chosen is not ExecutorKind.DASK:
        raise typer.BadParameter("only the dask executor has a scheduler address", param_hint="--dask-address")
    return ExecutorSettings(
        chosen,
        address if address is not None else configured.address,
        project_dir=configured.project_dir,
        tls_ca=configured.tls_ca,
        tls_cert=configured.tls_cert,
        tls_key=configured.tls_key,
    )


def _execute(
    loaded: LoadedWorkflow,
    *,
    progress_console: Console,
    errors: Console,
    concurrency: int,
    pool: bool,
    backend: RuntimeKind | None,
    json_output: bool,
    warnings: list[Problem],
    lock: dict[str, Any] | None,
    executor: ExecutorSettings,
) -> int:
    """Run and record; ``warnings`` (already shown) go into the record with those the run itself raises.

    ``lock`` is the record's lock block (None: the workflow has no lock).
    """
    from workflow_plugin_runtime import (
        ExecutionPolicy,
        Masker,
        PluginManager,
        RecordWriteError,
        RunStatus,
        Scheduler,
        collect_secrets,
        contained_run,
        every_secret,
        neutralise_controls,
        new_run_id,
        record_json,
        run_record,
        write_run_record,
    )

    from ..ui.console import print_problem
    from ..ui.progress import RunProgress, print_run_summary

    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    secrets = collect_secrets(workflow.template_uses(), loaded.secrets)
    # Every secret the CLI can see, used or not, so one a plugin finds elsewhere is masked too. Short
    # secrets the workflow uses were already warned about, with their place, by the checks.
    known_secrets = {**every_secret(loaded.secrets), **secrets}
    masker = Masker(known_secrets)
    policy = ExecutionPolicy(
        security=workflow.security,
        permissions=workflow.permissions,
        backend=backend,
        pool=pool or loaded.config.pool_enabled,
        pool_defaults=loaded.config.pool,
    )
    cancel = threading.Event()

    def warn(problem: Problem) -> None:  # a runtime's warning (a plugin that cannot be kept warm), once each
        masked = replace(problem, message=masker.mask(problem.message))
        warnings.append(masked)
        print_problem(errors, masked)

    run_id = new_run_id()
    with (
        _cancel_on_signals(cancel, errors),
        contained_run(
            run_id, workflow=workflow.path, report=lambda line: typer.echo(neutralise_controls(line), err=True)
        ),
        PluginManager(loaded.resolver, policy=policy, on_warning=warn) as manager,
        _task_executor(
            executor, manager=manager, workflow=workflow, concurrency=concurrency, secrets=known_secrets
        ) as task_executor,
        RunProgress(progress_console, total=len(workflow.tasks)) as progress,
    ):
        scheduler = Scheduler(task_executor, concurrency=concurrency, observer=progress)
        result = scheduler.run(
            workflow, secrets=secrets, variables=loaded.variables, cancel=cancel, masker=masker, run_id=run_id
        )
    record = run_record(result, masker=masker, warnings=warnings, lock=lock)
    path: Path | None = None
    write_error: RecordWriteError | None = None
    try:
        path = write_run_record(record, workflow.directory)
    except RecordWriteError as exc:  # the run happened: still show it, and say the file is missing
        write_error = exc
    print_run_summary(progress_console, result, record_path=str(path) if path is not None else None)
    if json_output:
        typer.echo(record_json(record))
    if write_error is not None:
        print_problem(errors, write_error.problem)
    return ExitCode.OK if result.status is RunStatus.SUCCEEDED else ExitCode.FAILED


@contextmanager
def _task_executor(
    settings: ExecutorSettings,
    *,
    manager: PluginManager,
    workflow: Workflow,
    concurrency: int,
    secrets: Mapping[str, str],
) -> Iterator[PluginExecutor | DaskExecutor]:
    """Where the run's plugin tasks go; a Dask cluster is first asked whether every worker holds their plugins.

    A worker missing a plugin, or holding another copy, stops the run before
    it starts: one report of them all (exit 2).
    """
    from workflow_plugin_runtime import ExecutorKind, FailureKind, PluginExecutor, Problem

    if settings.kind is not ExecutorKind.DASK:
        yield PluginExecutor(manager)
        return
    try:
        from workflow_plugin_runtime import dask_executor
    except ModuleNotFoundError as exc:
        if exc.name not in ("distributed", "dask"):
            raise
        problem = Problem(
            "the dask executor needs Dask's distributed, which is not installed here",
            hint="pip install 'workflow-plugin-runtime[dask]' (or run with --executor local)",
        )
        raise InvalidInput(ErrorKind.INVALID, [problem]) from None
    with dask_executor(settings, manager=manager, concurrency=concurrency, secrets=secrets) as executor:
        problems = executor.preflight(workflow)
        if problems:
            count = len(problems)
            summary = f"{count} problem{'s' if count != 1 else ''} with the Dask workers' plugins: nothing was run"
            raise InvalidInput(FailureKind.NOT_FOUND.value, problems, summary=summary)
        yield executor


@contextmanager
def _cancel_on_signals(cancel: threading.Event, console: Console) -> Iterator[None]:
    """SIGINT and SIGTERM cancel the run (running plugins are killed) instead of killing us mid-way."""

    def stop(signum: int, _frame: object) -> None:
        if not cancel.is_set():
            console.print(f"{signal.Signals(signum).name}: cancelling the run; running plugins are being stopped")
        cancel.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
