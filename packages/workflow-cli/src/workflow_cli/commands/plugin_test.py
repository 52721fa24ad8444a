"""``workflow plugin test``: the conformance kit, a plugin's examples and protocol probes on a real runtime."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import JsonOption, PluginsPathOption, RefOrPathArgument

RUNTIMES = ("process", "sandbox", "docker")


def plugin_test(
    target: RefOrPathArgument,
    *,
    runtime: Annotated[
        str,
        typer.Option(
            "--runtime",
            "-r",
            metavar="process|sandbox|docker",
            help="Where to run the plugin: a local process, the bubblewrap sandbox, or its Docker image.",
        ),
    ] = "process",
    plugins_path: PluginsPathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check that a plugin speaks the wire protocol: run its examples and probe it.

    Each action's examples run as a workflow task runs them (inputs and
    outputs checked against the action's schemas, outputs compared with
    the example's). Then the probes: exactly one valid response on stdout,
    stdin read to its end, a malformed request and an unknown action
    answered with an error, the serve loop when runtime.serve claims it,
    SIGTERM honoured within the runtime's grace, and a value marked secret
    never coming back unmasked. Cold-start and warm-call times are shown.
    docs/protocol.md says what each check asks of a plugin in any language.

    For --runtime docker, build the image first (workflow plugin build).

    Exit codes: 0 every check passed; 1 a check failed; 2 bad arguments,
    plugin or manifest, or a runtime that cannot run here.

    Examples:

      workflow plugin test ./my-plugin

      workflow plugin test acme/http --runtime sandbox

      workflow plugin test acme/http --runtime docker --json | jq '.checks[] | select(.status == "failed")'
    """
    if runtime not in RUNTIMES:
        raise typer.BadParameter(
            f"{runtime!r} is not a runtime; use one of: {', '.join(RUNTIMES)}", param_hint="--runtime"
        )
    from workflow_plugin_runtime import RuntimeKind, check_plugin

    from ..errors import ExitCode
    from ..ui.conformance import print_conformance
    from ..ui.console import make_console
    from .plugin_common import emit_json, find_plugin
    from .plugin_views import json_ready

    manifest = find_plugin(target, plugins_path).manifest
    report = check_plugin(manifest, runtime=RuntimeKind(runtime))
    if as_json:
        emit_json(json_ready(report.to_json()))
    else:
        print_conformance(make_console(), report)
    if not report.ok:
        raise typer.Exit(ExitCode.FAILED)
