"""``workflow plugin build``: the plugin's image, from its own Dockerfile or a generated one."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import PluginsPathOption

DEFAULT_BASE_IMAGE_TEXT = "python:3.11-slim"
"""Shown in --help without importing the runtime; a test keeps it equal to images.DEFAULT_BASE_IMAGE."""


def plugin_build(
    target: Annotated[
        str,
        typer.Argument(
            metavar="NAME_OR_PATH",
            help="namespace/name (resolved on plugins.paths) or a plugin directory such as ./my-plugin.",
            show_default=False,
        ),
    ],
    *,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            metavar="TAG",
            show_default=False,
            help="Tag the image TAG instead of the manifest's runtime.image (the image the Docker runtime runs).",
        ),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            metavar="IMAGE",
            show_default=False,
            help=f"FROM image of a generated Dockerfile (default {DEFAULT_BASE_IMAGE_TEXT}); needs python3.",
        ),
    ] = None,
    print_dockerfile: Annotated[
        bool, typer.Option("--print-dockerfile", help="Print the Dockerfile that would be built; build nothing.")
    ] = False,
    plugins_path: PluginsPathOption = None,
) -> None:
    """Build the Docker image restricted workflows run the plugin in.

    A plugin with a Dockerfile in its directory is built from that directory
    with its Dockerfile unchanged. Otherwise a Dockerfile is generated: the
    plugin in /plugin (the working directory), the SDK and the pure-Python
    wheels of requirements.txt installed without a package index or pip in
    the image, user 65534, and a CMD that starts the plugin as the runtime
    expects. The image is tagged with the manifest's runtime.image (default
    namespace/name:version) unless --tag is given. The build log streams to
    stderr; the result line goes to stdout.

    Exit codes: 0 built; 1 the build failed (the failing step and its output
    are shown) or no Docker daemon answers; 2 bad arguments or plugin.

    Examples:

      workflow plugin build acme/http

      workflow plugin build ./plugins/http --tag registry.local/acme-http:dev

      workflow plugin build acme/http --print-dockerfile
    """
    from workflow_plugin_runtime import (
        DEFAULT_BASE_IMAGE,
        ImageBuildError,
        RuntimeUnavailableError,
        build_image,
        image_spec,
        neutralise_controls,
    )

    from ..errors import ExitCode
    from ..ui.build_log import build_progress, print_build_failure
    from ..ui.console import make_console, print_error_text, print_problem, print_text
    from .plugin_common import find_plugin

    manifest = find_plugin(target, plugins_path).manifest
    errors = make_console(stderr=True)
    try:
        spec = image_spec(manifest, base_image=base_image or DEFAULT_BASE_IMAGE, tag=tag)
    except ImageBuildError as exc:
        print_problem(errors, exc.problem)
        raise typer.Exit(ExitCode.INVALID) from exc
    if spec.custom:
        print_text(errors, f"using the plugin's own Dockerfile: {spec.plugin_dir / 'Dockerfile'}")
        if base_image is not None:
            print_error_text(errors, "--base-image applies to generated Dockerfiles only; the plugin has its own")
            raise typer.Exit(ExitCode.INVALID)
    if print_dockerfile:
        typer.echo(neutralise_controls(spec.dockerfile), nl=False)  # a plugin's own Dockerfile is its text
        return
    with build_progress(errors, f"building {spec.tag} for {spec.plugin_ref} {spec.version}") as show_line:
        try:
            built = build_image(spec, on_output=show_line)
        except ImageBuildError as exc:
            print_build_failure(errors, str(exc.message), step=exc.step, output=exc.output, hint=exc.hint)
            raise typer.Exit(ExitCode.FAILED) from exc
        except RuntimeUnavailableError as exc:
            print_problem(errors, exc.problem)
            raise typer.Exit(ExitCode.FAILED) from exc
    if built.wheels:
        print_text(errors, f"installed from requirements.txt: {', '.join(built.wheels)}")
    if spec.tag != manifest.runtime.image:
        print_text(
            errors,
            f"note: the Docker runtime runs {manifest.runtime.image}; set runtime.image to {spec.tag} to run this one",
        )
    typer.echo(f"built {spec.tag} ({built.image_id.removeprefix('sha256:')[:12]})")
