"""What Typer sees of the commands the entry point also runs without it: their options, help and usage.

``run``, ``validate``, ``lock``, ``plugin list`` and ``plugin inspect``
are each split in two. Here is the signature Typer reads (each option's
declaration, and the docstring that is the command's help); the body is a
function of the same parameters in the command's own module, which imports
neither Typer nor Click, so :mod:`workflow_cli.fast_path` can call it
directly for a command line it fully understands. Each signature only
hands its values to the body. The fast path's table of these command lines
(:mod:`workflow_cli.command_lines`) is derived from what Typer makes of
these signatures, and a test keeps the two equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import (
    JsonOption,
    PluginsPathOption,
    RefOrPathArgument,
    SecretsFileOption,
    VarOption,
    VarsFileOption,
    WorkflowFileArgument,
    workflow_option,
)

__all__ = ["lock", "plugin_inspect", "plugin_list", "run", "validate"]


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
    from . import run as command

    command.run(
        file,
        var=var,
        vars_file=vars_file,
        secrets_file=secrets_file,
        concurrency=concurrency,
        pool=pool,
        backend=backend,
        json_output=json_output,
        plugins_path=plugins_path,
        executor=executor,
        dask_address=dask_address,
        no_lock=no_lock,
    )


def validate(
    file: WorkflowFileArgument,
    *,
    var: VarOption = None,
    vars_file: VarsFileOption = None,
    secrets_file: SecretsFileOption = None,
    plugins_path: PluginsPathOption = None,
    skip_secrets: Annotated[
        bool, typer.Option("--skip-secrets", help="Do not require the secrets the workflow uses to be set.")
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the result as one JSON document on stdout; warnings go to stderr too."),
    ] = False,
) -> None:
    """Check a workflow without running anything.

    Schema, task graph (unknown needs, cycles), templates, plugins resolving
    (with requires), typed wiring between tasks, vars and secrets being set,
    and in restricted mode every capability granted and every mount source
    present. It says where the plugins would run on this machine: local
    processes (trusted), or the restricted backend (config's
    restricted.backend; auto takes the sandbox where bubblewrap works, else
    Docker). Warnings (broad grants, short secrets, a restricted backend that
    cannot run here, and in restricted mode a plugin image that is missing
    or stale, when a Docker daemon answers) are shown but do not fail. When
    the workflow has a lock file (see `workflow lock`), every plugin must
    match it. Exit 0 valid, 2 invalid.

    Examples:

      workflow validate release.yaml

      workflow validate release.yaml --var version=1.2.0 --skip-secrets

      workflow validate release.yaml --json | jq -r .runs_in.runtime
    """
    from . import validate as command

    command.validate(
        file,
        var=var,
        vars_file=vars_file,
        secrets_file=secrets_file,
        plugins_path=plugins_path,
        skip_secrets=skip_secrets,
        json_output=json_output,
    )


def lock(
    file: WorkflowFileArgument,
    *,
    check: Annotated[
        bool, typer.Option("--check", help="Compare the plugins with the lock and write nothing; exit 1 on drift.")
    ] = False,
    var: VarOption = None,
    vars_file: VarsFileOption = None,
    plugins_path: PluginsPathOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")] = False,
) -> None:
    """Write a workflow's lock file, or check its plugins against it.

    FILE's lock goes next to it (release.yaml -> release.lock.json). It
    holds, for each plugin the workflow uses, its ref, version, source,
    content hash and per-file digests; for an installed plugin the
    distribution and its version; and when the plugins run on Docker here,
    each image's id and the hash it was built from. While a lock exists,
    `workflow run` and `workflow validate` refuse a plugin that differs from
    it (`workflow run --no-lock` runs anyway).

    Exit codes: 0 written, or --check found no drift; 1 --check found drift;
    2 invalid input (a workflow that fails its checks, a malformed lock).

    Examples:

      workflow lock release.yaml

      workflow lock release.yaml --check
    """
    from . import lock as command

    command.lock(file, check=check, var=var, vars_file=vars_file, plugins_path=plugins_path, json_output=json_output)


def plugin_list(
    *,
    plugins_path: PluginsPathOption = None,
    workflow: Annotated[
        Path | None,
        workflow_option("List what FILE's runs find: the project is looked up from FILE's folder, as run FILE does."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the plugins found on plugins.paths, in resolution order.

    The first copy of a namespace/name along the search path wins; the copies
    it hides are listed under it as shadowed. A broken plugin.yaml is reported
    on stderr and skipped: it never stops the listing. With nothing found, the
    command says each place it looked and where that place came from.

    Search order: --plugins-path, WORKFLOW_PLUGINS_PATH, the project's
    .workflow/config.yaml, the user's config.yaml, then .workflow/plugins,
    plugins and the user data dir's plugins. The project is the one of the
    working directory, or with --workflow FILE the one of FILE's folder (as
    workflow run FILE finds its plugins).

    Examples:

      workflow plugin list

      workflow plugin list --workflow examples/workflows/hello.yaml

      workflow plugin list --plugins-path ./vendor/plugins

      workflow plugin list --json | jq -r '.[].ref'
    """
    from . import plugin_list as command

    command.plugin_list(plugins_path=plugins_path, workflow=workflow, as_json=as_json)


def plugin_inspect(
    target: RefOrPathArgument,
    *,
    workflow: Annotated[
        Path | None,
        workflow_option(
            "Compare FILE's permissions with what this plugin needs: missing, unneeded and dangerous grants."
            " Plugins are then found as FILE's runs find them (the project is looked up from FILE's folder)."
        ),
    ] = None,
    plugins_path: PluginsPathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a plugin's actions, their inputs and outputs, and the permissions it needs.

    Each action's inputs and outputs are shown field by field: type, whether
    it is required, its default, and secret inputs marked. The recommended
    permissions block is ready to paste into a workflow that runs with
    security: restricted. Requests for dangerous host paths are warned about.

    With --workflow FILE the workflow's grants are compared with the plugin's
    needs: grants it lacks, grants nothing needs, and broad ones (the host's
    /, a home directory, /etc, /proc, /sys, the Docker socket, a read-write
    mount of the workflow's own folder, network: true, env: '*'). The exit
    code is 1 when the workflow could not run this plugin as written (a
    missing grant, the Docker socket in restricted mode); warnings alone
    leave it 0. It also says where the workflow's plugins would run on this
    machine: local processes when trusted, else its restricted backend (or
    why none can run here).

    Examples:

      workflow plugin inspect acme/http

      workflow plugin inspect ./plugins/http --workflow release.yaml

      workflow plugin inspect acme/http --json | jq .recommended_permissions
    """
    from . import plugin_inspect as command

    command.plugin_inspect(target, workflow=workflow, plugins_path=plugins_path, as_json=as_json)
