"""``workflow run``: check, run with live progress, record, summarise; exit 0, 1 or 2.

The command's body: Typer's signature and help are in :mod:`.signatures`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..errors import BadOptionValue, CommandExit, ErrorKind, ExitCode, InvalidInput
from ..terminal import echo, echo_json
from .workflow_common import check_against_lock, check_backend, load_and_check, report_problems

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from workflow_plugin_runtime import (
        DaskExecutor,
        ExecutorSettings,
        PluginExecutor,
        PluginManager,
        Problem,
        RuntimeKind,
        Workflow,
    )

    from ..ui.console import Screen
    from .workflow_common import LoadedWorkflow

__all__ = ["run"]


def run(
    file: Path,
    *,
    var: list[str] | None,
    vars_file: Path | None,
    secrets_file: Path | None,
    concurrency: int,
    pool: bool,
    backend: str | None,
    json_output: bool,
    plugins_path: list[Path] | None,
    executor: str | None,
    dask_address: str | None,
    no_lock: bool,
) -> None:
    """Check ``file``, run it with live progress, write its record; exit 0 succeeded, 1 failed or cancelled."""
    from workflow_plugin_runtime import ExecutorKind, restricted_backend

    from ..ui.console import make_screen, print_problem

    chosen_backend = None
    if backend is not None:
        try:
            chosen_backend = restricted_backend(backend)
        except ValueError as exc:
            raise BadOptionValue("--backend", str(exc)) from None
    errors = make_screen(stderr=True)
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
    progress_console = errors if json_output else make_screen()
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
    raise CommandExit(code)


def _executor_settings(configured: ExecutorSettings, *, kind: str | None, address: str | None) -> ExecutorSettings:
    """The config's ``executor`` section with ``--executor`` and ``--dask-address`` over it."""
    from workflow_plugin_runtime import ExecutorKind, ExecutorSettings

    chosen = configured.kind
    if kind is not None:
        try:
            chosen = ExecutorKind(kind)
        except ValueError:
            choices = ", ".join(member.value for member in ExecutorKind)
            raise BadOptionValue("--executor", f"{kind!r} is not one of {choices}") from None
    if address is not None and chosen is not ExecutorKind.DASK:
        raise BadOptionValue("--dask-address", "only the dask executor has a scheduler address")
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
    progress_console: Screen,
    errors: Screen,
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

    from ..entry import resume_cyclic_gc
    from ..terminal import exit_code_outlives_reader
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
        masked = problem.replace(message=masker.mask(problem.message))
        warnings.append(masked)
        print_problem(errors, masked)

    run_id = new_run_id()
    exit_code_outlives_reader()  # a closed pipe changes nothing of the run (docs/cli.md)
    with (
        _cancel_on_signals(cancel, errors),
        contained_run(run_id, workflow=workflow.path, report=lambda line: echo(neutralise_controls(line), err=True)),
        PluginManager(loaded.resolver, policy=policy, on_warning=warn) as manager,
        _task_executor(
            executor, manager=manager, workflow=workflow, concurrency=concurrency, secrets=known_secrets
        ) as task_executor,
        RunProgress(progress_console, total=len(workflow.tasks)) as progress,
    ):
        resume_cyclic_gc()  # start-up is over: what the tasks allocate is collected as usual
        scheduler = Scheduler(task_executor, concurrency=concurrency, observer=progress)
        result = scheduler.run(
            workflow, secrets=secrets, variables=loaded.variables, cancel=cancel, masker=masker, run_id=run_id
        )
    record = run_record(result, masker=masker, warnings=warnings, lock=lock)
    text = record_json(record)
    path: Path | None = None
    write_error: RecordWriteError | None = None
    try:
        path = write_run_record(record, workflow.directory, text=text)
    except RecordWriteError as exc:  # the run happened: still show it, and say the file is missing
        write_error = exc
    print_run_summary(progress_console, result, record_path=str(path) if path is not None else None)
    if json_output:
        echo_json(text)
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
def _cancel_on_signals(cancel: threading.Event, console: Screen) -> Iterator[None]:
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
