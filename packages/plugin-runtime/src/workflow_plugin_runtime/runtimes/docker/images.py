"""Plugin images: the Dockerfile a plugin gets when it has none, and building it.

Restricted mode on Docker runs a plugin from its image (``runtime.image``,
by default ``namespace/name:version``), so an engine needs to build that
image from a plugin directory; this module does it without the CLI.

A plugin with its own ``Dockerfile`` is built from its directory with that
file unchanged. Otherwise the generated Dockerfile follows the conventions
of :mod:`.runtimes.docker`: the plugin in ``/plugin`` (the working
directory), the user ``65534:65534``, and a ``CMD`` that starts the plugin
the way the process runtime does (``python3 -E -s`` for a ``.py``
entrypoint, ``command`` as given), so the runtime's read-only root
filesystem, tmpfs ``/tmp`` and stdin/stdout protocol work unchanged. The
SDK and ``requirements.txt`` are installed with no package index and no
pip inside the image (:mod:`.image_context` explains how); they live in
:data:`DEPS_PATH`, put on ``sys.path`` by a ``.pth`` file, because the
runtime's ``-E`` flag ignores ``PYTHONPATH``.

Builds go through the docker SDK (imported here, lazily) with the legacy
builder: BuildKit is not available on every engine this must run on.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ImageBuildError, RuntimeUnavailableError
from ...plugins.manifest import PluginManifest
from ...plugins.provenance import plugin_content_hash
from ..host_argv import PYTHON_FLAGS
from .build_context import REQUIREMENTS_FILENAME, OutputCallback, copy_plugin, copy_sdk, install_requirements
from .client import START_DOCKER_HINT, connect_docker, daemon_error_detail
from .dockerfile import dockerfile_steps
from .image import BUILT_FROM_LABEL
from .image_programs import check_default_base_starts
from .runtime import CONTAINER_USER, PLUGIN_LABEL

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DEPS_PATH",
    "DOCKERFILE_NAME",
    "FAILED_STEP_LINES",
    "PLUGIN_WORKDIR",
    "VERSION_LABEL",
    "BuiltImage",
    "ImageSpec",
    "build_image",
    "check_image_tag",
    "generate_dockerfile",
    "image_command",
    "image_spec",
    "is_python_plugin",
    "prepare_context",
]

DEFAULT_BASE_IMAGE = "python:3.11-slim"
PLUGIN_WORKDIR = "/plugin"
DEPS_PATH = "/opt/workflow-plugin/site-packages"
DOCKERFILE_NAME = "Dockerfile"
VERSION_LABEL = "workflow-plugins.version"
FAILED_STEP_LINES = 30
"""How many output lines of the failing step an :class:`ImageBuildError` keeps."""

_PYTHON_PROGRAM = re.compile(r"python(\d+(\.\d+)?)?")
_STEP = re.compile(r"Step (\d+)/(\d+) : (.*)")
_BUILDER_CHATTER = re.compile(r" ---> |Removing intermediate container ")
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:localhost(?::[0-9]+)?|{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+)"
"""A registry host is told apart from a path component as Docker does: it has a '.' or a port, or is localhost."""
_IMAGE_TAG = re.compile(rf"(?:{_DOMAIN}/)?{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*(?::[\w][\w.-]{{0,127}})?")


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What ``build_image`` will build: the tag, and the Dockerfile (generated or the plugin's own).

    ``content_hash`` is the plugin directory's hash when the build was
    planned; the image carries it as its :data:`BUILT_FROM_LABEL`, which the
    Docker runtime compares with the plugin's hash before it runs the image.
    """

    plugin_ref: str
    version: str
    plugin_dir: Path
    tag: str
    dockerfile: str
    custom: bool
    python: bool
    content_hash: str
    requirements: Path | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {PLUGIN_LABEL: self.plugin_ref, VERSION_LABEL: self.version, BUILT_FROM_LABEL: self.content_hash}


@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    image_id: str
    custom: bool
    wheels: tuple[str, ...] = ()


def is_python_plugin(manifest: PluginManifest) -> bool:
    """Whether the image needs the SDK: a ``.py`` entrypoint, a ``python`` command, or a requirements.txt."""
    if manifest.runtime.entrypoint is not None and manifest.runtime.entrypoint.endswith(".py"):
        return True
    command = manifest.runtime.command or ()
    if command and _PYTHON_PROGRAM.fullmatch(Path(command[0]).name):
        return True
    return (manifest.plugin_dir / REQUIREMENTS_FILENAME).is_file()


def image_command(manifest: PluginManifest) -> tuple[str, ...]:
    """The image's CMD: what the process runtime would run, with paths inside :data:`PLUGIN_WORKDIR`."""
    runtime = manifest.runtime
    if runtime.command is not None:
        return tuple(runtime.command)
    assert runtime.entrypoint is not None
    path = f"{PLUGIN_WORKDIR}/{runtime.entrypoint}"
    if runtime.entrypoint.endswith(".py"):
        return ("python3", *PYTHON_FLAGS, path)
    return (path,)


def generate_dockerfile(manifest: PluginManifest, *, base_image: str = DEFAULT_BASE_IMAGE) -> str:
    """The Dockerfile for a plugin without one; its build context is laid out by :func:`prepare_context`."""
    lines = [
        f"# Generated by `workflow plugin build` for {manifest.ref} {manifest.version}.",
        "# A Dockerfile in the plugin directory replaces this one (its build context is the plugin directory).",
        f"FROM {base_image}",
    ]
    if is_python_plugin(manifest):
        pth = (
            "import pathlib, sysconfig; site = pathlib.Path(sysconfig.get_paths()['purelib']); "
            "site.mkdir(parents=True, exist_ok=True); "
            f"(site / 'workflow-plugin-deps.pth').write_text('{DEPS_PATH}\\n')"
        )
        lines += [
            "# The SDK and the plugin's dependencies, installed without pip or an index, on sys.path via a .pth file",
            f"COPY deps/ {DEPS_PATH}/",
            f"RUN {_exec_form(['python3', '-c', pth])}",
            f"COPY plugin/ {PLUGIN_WORKDIR}/",
            "# Bytecode now: at run time the root filesystem is read-only",
            f"RUN {_exec_form(['python3', '-m', 'compileall', '-q', DEPS_PATH, PLUGIN_WORKDIR])}",
        ]
    else:
        lines.append(f"COPY plugin/ {PLUGIN_WORKDIR}/")
    lines += [
        f"WORKDIR {PLUGIN_WORKDIR}",
        f"USER {CONTAINER_USER}",
        f"CMD {_exec_form(image_command(manifest))}",
    ]
    return "\n".join(lines) + "\n"


def _exec_form(argv: Iterable[str]) -> str:
    """The JSON (exec) form of RUN and CMD: no shell needed in the image, no quoting surprises."""
    return json.dumps(list(argv))


def check_image_tag(tag: str) -> None:
    """Raise :class:`ImageBuildError` unless ``tag`` is a valid Docker image reference (``name[:tag]``)."""
    if len(tag) > 255 or not _IMAGE_TAG.fullmatch(tag):
        raise ImageBuildError(
            f"{tag!r} is not a valid image tag",
            hint="write [registry/]name[:tag] in lowercase, e.g. acme/http:1.2.0",
        )


def image_spec(manifest: PluginManifest, *, base_image: str = DEFAULT_BASE_IMAGE, tag: str | None = None) -> ImageSpec:
    """Plan the build: the plugin's own Dockerfile when it has one, else a generated one.

    The tag defaults to ``runtime.image``, the name :class:`.runtimes.DockerRuntime`
    runs. ``base_image`` applies to generated Dockerfiles only. On the
    default base, a plugin that starts with a program the base lacks
    (``node``) raises :class:`ImageBuildError` (:mod:`.image_programs`).
    """
    chosen = tag or manifest.runtime.image
    check_image_tag(chosen)
    own = manifest.plugin_dir / DOCKERFILE_NAME
    requirements = manifest.plugin_dir / REQUIREMENTS_FILENAME
    custom = own.is_file()
    if not custom and base_image == DEFAULT_BASE_IMAGE:
        check_default_base_starts(manifest, base_image)
    return ImageSpec(
        plugin_ref=manifest.ref,
        version=str(manifest.version),
        plugin_dir=manifest.plugin_dir,
        tag=chosen,
        dockerfile=own.read_text(encoding="utf-8") if custom else generate_dockerfile(manifest, base_image=base_image),
        custom=custom,
        python=is_python_plugin(manifest),
        content_hash=plugin_content_hash(manifest.plugin_dir),
        requirements=requirements if requirements.is_file() else None,
    )


def prepare_context(spec: ImageSpec, context: Path, *, on_output: OutputCallback | None = None) -> tuple[str, ...]:
    """Lay out a generated image's build context in the empty folder ``context``; the wheels installed."""
    if spec.custom:
        raise ValueError("a plugin with its own Dockerfile is built from its own directory")
    (context / DOCKERFILE_NAME).write_text(spec.dockerfile, encoding="utf-8")
    copy_plugin(spec.plugin_dir, context)
    if not spec.python:
        return ()
    copy_sdk(context)
    if spec.requirements is None:
        return ()
    return tuple(install_requirements(spec.requirements, context, on_output=on_output))


def build_image(spec: ImageSpec, *, on_output: OutputCallback | None = None, client: Any = None) -> BuiltImage:
    """Build and tag the image; each build log line goes to ``on_output`` as it arrives.

    Raises :class:`ImageBuildError` with the failing step and its output, and
    :class:`RuntimeUnavailableError` when no Docker daemon answers.
    """
    docker_client = client if client is not None else connect_docker()
    try:
        with tempfile.TemporaryDirectory(prefix="workflow-image-") as scratch:
            wheels: tuple[str, ...] = ()
            if spec.custom:
                context = spec.plugin_dir
            else:
                context = Path(scratch)
                wheels = prepare_context(spec, context, on_output=on_output)
            image_id = _stream_build(docker_client.api, spec, context, on_output)
    finally:
        if client is None:
            docker_client.close()
    return BuiltImage(spec.tag, image_id, spec.custom, wheels)


def _stream_build(api: Any, spec: ImageSpec, context: Path, on_output: OutputCallback | None) -> str:
    import docker
    import requests

    log = _BuildLog(spec, on_output)
    try:
        chunks = api.build(
            path=str(context),
            dockerfile=DOCKERFILE_NAME,
            tag=spec.tag,
            labels=spec.labels,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in chunks:
            log.feed(chunk)
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"Docker refused to build {spec.tag} ({daemon_error_detail(exc)})") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RuntimeUnavailableError(
            f"the Docker daemon went away while building {spec.tag} ({daemon_error_detail(exc)})",
            hint=START_DOCKER_HINT,
        ) from exc
    return log.finish()


class _BuildLog:
    """Follows the legacy builder's JSON stream: lines out as they come, the current step kept for errors.

    An error does not stop the reading: the stream ends by itself after it,
    and leaving it unread would leak the daemon connection.
    """

    def __init__(self, spec: ImageSpec, on_output: OutputCallback | None) -> None:
        self.spec = spec
        self.on_output = on_output
        self.own_steps = dockerfile_steps(spec.dockerfile)
        self.step: tuple[int, str] | None = None
        self.step_output: deque[str] = deque(maxlen=FAILED_STEP_LINES)
        self.partial = ""
        self.image_id: str | None = None
        self.failure: ImageBuildError | None = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        if "error" in chunk or "errorDetail" in chunk:
            self._flush()
            detail = chunk.get("errorDetail") or {}
            if self.failure is None:
                self.failure = self._failure(
                    str(chunk.get("error") or detail.get("message") or "unknown error").strip()
                )
            return
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str):
            self.image_id = aux["ID"]
        text = chunk.get("stream")
        if text is None and "status" in chunk:
            text = f"{chunk['status']} {chunk.get('progress', '')}".rstrip() + "\n"
        if isinstance(text, str):
            self.partial += text
            *complete, self.partial = self.partial.split("\n")
            for line in complete:
                self._line(line.rstrip("\r"))

    def _flush(self) -> None:
        if self.partial:
            self._line(self.partial)
            self.partial = ""

    def _line(self, line: str) -> None:
        step = _STEP.fullmatch(line)
        if step is not None:
            self.step = (int(step.group(1)), step.group(3))
            self.step_output.clear()
            line = self._step_title(*self.step)
        elif line.strip() and not _BUILDER_CHATTER.match(line):
            self.step_output.append(line)
        if self.on_output is not None:
            self.on_output(line)

    def _step_title(self, number: int, instruction: str) -> str:
        """``Step 3/3 : RUN ...`` counting the Dockerfile's own steps only, not the labels the build adds."""
        if number > len(self.own_steps):
            return f"Step {number} (added by workflow plugin build) : {instruction}"
        return f"Step {number}/{len(self.own_steps)} : {instruction}"

    def _failure(self, error: str) -> ImageBuildError:
        """The failing step as the author knows it: its number among the Dockerfile's own steps, and its line."""
        tag = self.spec.tag
        if self.step is None:
            return ImageBuildError(f"building {tag} failed before its first step: {error}", output=self.step_output)
        number, instruction = self.step
        where = "the plugin's Dockerfile" if self.spec.custom else "the generated Dockerfile"
        if number > len(self.own_steps):
            return ImageBuildError(
                f"building {tag} failed at a step `workflow plugin build` adds after {where} ({instruction}): {error}",
                step=self._step_title(number, instruction),
                output=self.step_output,
                hint="the build labels the image after the Dockerfile's own steps; run it again, "
                "and check the Docker engine (`docker info`) if it fails the same way",
            )
        line = self.own_steps[number - 1].line
        return ImageBuildError(
            f"building {tag} failed at step {number}/{len(self.own_steps)} of {where} "
            f"(line {line}: {instruction}): {error}",
            step=self._step_title(number, instruction),
            output=self.step_output,
            hint=self._hint(instruction, line),
        )

    def _hint(self, instruction: str, line: int) -> str:
        keyword = instruction.split(maxsplit=1)[0].upper() if instruction.strip() else ""
        if keyword == "FROM":
            return (
                "the base image is not in the local Docker engine and could not be pulled; `docker images` lists"
                " what is there (CI makes python:3.11-slim with .ci/setup-isolation.sh); "
                + (
                    "change the FROM line of the plugin's Dockerfile"
                    if self.spec.custom
                    else "choose one with --base-image"
                )
            )
        if not self.spec.custom:
            return "the generated Dockerfile needs python3 in the base image; --print-dockerfile shows it"
        dockerfile = self.spec.plugin_dir / DOCKERFILE_NAME
        if keyword in ("COPY", "ADD"):
            return (
                f"{keyword} reads from the plugin directory {self.spec.plugin_dir}, minus what its .dockerignore "
                f"excludes: check the source named at line {line} of {dockerfile}"
            )
        if keyword == "RUN":
            return f"the command at line {line} of {dockerfile} failed; its output, if any, is above"
        return f"check line {line} of {dockerfile}"

    def finish(self) -> str:
        """The built image's id, or the first error the stream reported (read to its end, so nothing leaks)."""
        self._flush()
        if self.failure is not None:
            raise self.failure
        if self.image_id is None:
            raise ImageBuildError(f"Docker finished building {self.spec.tag} without reporting an image id")
        return self.image_id
