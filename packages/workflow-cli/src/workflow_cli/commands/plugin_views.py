"""What ``plugin list``, ``plugin inspect`` and ``validate`` show, as JSON-ready data.

One shape serves both outputs: ``--json`` prints it, the terminal renders
it (:mod:`workflow_cli.ui.render`), so the two can never disagree. Building
these imports the runtime; this module is only imported inside commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from workflow_plugin_runtime import ListedPlugin, PluginCopy, PluginManifest, Problem, Severity


class CopyView(TypedDict):
    path: str
    version: str | None
    source: str


class ListEntry(TypedDict):
    """One resolved plugin; ``shadowed`` holds the paths of the copies it hides, ``shadowed_copies`` more."""

    ref: str
    version: str
    description: str
    path: str
    source: str
    actions: list[str]
    shadowed: list[str]
    shadowed_copies: list[CopyView]


class ProblemView(TypedDict):
    severity: Severity  # a StrEnum: JSON shows its value
    message: str
    location: str | None
    hint: str | None


class RuntimeView(TypedDict):
    entrypoint: str | None
    command: list[str] | None
    image: str
    timeout: float
    pool: dict[str, float | None] | None
    serve: bool
    start: str


class ActionView(TypedDict):
    description: str
    timeout: float
    inputs: Any
    outputs: Any
    secret_inputs: list[str]
    examples: int


class FilesystemView(TypedDict):
    path: str
    access: str


class CapabilitiesView(TypedDict):
    network: bool
    filesystem: list[FilesystemView]
    env: list[str]


class RunsInView(TypedDict):
    """Where a workflow's plugins would run here, as ``validate --json`` and ``plugin inspect --json`` show it.

    ``backend`` is the restricted-mode setting (``auto``, ``sandbox``,
    ``docker``; ``None`` for a trusted workflow); ``runtime`` the place it
    gives on this machine (``process``, ``sandbox``, ``docker``), ``None``
    when no restricted backend can run here, and ``unavailable`` then says
    why and how to get one (what ``workflow run`` would refuse the run with).
    """

    security: str
    backend: str | None
    runtime: str | None
    unavailable: ProblemView | None


class Inspection(TypedDict):
    ref: str
    version: str
    description: str
    path: str
    source: str
    runtime: RuntimeView
    actions: dict[str, ActionView]
    capabilities: CapabilitiesView
    recommended_permissions: dict[str, Any]
    recommended_permissions_yaml: str
    workflow: str | None
    runs_in: RunsInView | None
    warnings: list[ProblemView]


def copy_view(copy: PluginCopy) -> CopyView:
    return {
        "path": str(copy.plugin_dir),
        "version": None if copy.manifest is None else copy.manifest.version_text,
        "source": copy.location.origin,
    }


def list_entry(listed: ListedPlugin) -> ListEntry:
    manifest = listed.manifest
    return {
        "ref": manifest.ref,
        "version": manifest.version_text,
        "description": manifest.description,
        "path": str(manifest.plugin_dir),
        "source": listed.location.origin,
        "actions": list(manifest.actions),
        "shadowed": [str(copy.plugin_dir) for copy in listed.shadowed],
        "shadowed_copies": [copy_view(copy) for copy in listed.shadowed],
    }


def problem_view(problem: Problem) -> ProblemView:
    location = str(problem.location) if problem.location is not None and str(problem.location) else None
    return {"severity": problem.severity, "message": problem.message, "location": location, "hint": problem.hint}


def inspection(
    manifest: PluginManifest,
    *,
    source: str,
    warnings: Iterable[Problem] = (),
    workflow: str | None = None,
    runs_in: RunsInView | None = None,
) -> Inspection:
    """The report of ``plugin inspect``; with ``workflow``, where that workflow's plugins run here (``runs_in``)."""
    from workflow_plugin_runtime import permissions_yaml, recommended_permissions, thaw_manifest_data

    runtime = manifest.runtime
    pool = runtime.pool
    recommended = recommended_permissions(manifest.ref, manifest.capabilities)
    return {
        "ref": manifest.ref,
        "version": str(manifest.version),
        "description": manifest.description,
        "path": str(manifest.plugin_dir),
        "source": source,
        "runtime": {
            "entrypoint": runtime.entrypoint,
            "command": None if runtime.command is None else list(runtime.command),
            "image": runtime.image,
            "timeout": runtime.timeout,
            "pool": None
            if pool is None
            else {"size": pool.size, "idle_timeout": pool.idle_timeout, "recycle_after": pool.recycle_after},
            "serve": runtime.serve,
            "start": runtime.start.value,
        },
        "actions": {
            name: {
                "description": action.description,
                "timeout": action.timeout if action.timeout is not None else runtime.timeout,
                "inputs": thaw_manifest_data(action.inputs),
                "outputs": thaw_manifest_data(action.outputs),
                "secret_inputs": list(action.secret_inputs),
                "examples": len(action.examples),
            }
            for name, action in manifest.actions.items()
        },
        "capabilities": {
            "network": manifest.capabilities.network,
            "filesystem": [
                {"path": need.path, "access": need.access.value} for need in manifest.capabilities.filesystem
            ],
            "env": list(manifest.capabilities.env),
        },
        "recommended_permissions": recommended,
        "recommended_permissions_yaml": permissions_yaml(recommended) if recommended else "",
        "workflow": workflow,
        "runs_in": runs_in,
        "warnings": [problem_view(problem) for problem in warnings],
    }


def json_ready(document: Mapping[str, Any] | list[Any]) -> str:
    """The ``--json`` document: the manifest's text exactly, with no raw control character a terminal would obey."""
    from json.encoder import encode_basestring  # json's C function where available, as json.dumps uses

    from workflow_plugin_runtime import escape_controls_in_json

    chunks: list[str] = []
    try:
        _indented(document, chunks, newline="\n", quote=encode_basestring)
        text = "".join(chunks)
    except (TypeError, RecursionError):  # what only json itself says (or refuses) the same way
        import json

        text = json.dumps(document, indent=2, ensure_ascii=False)
    return escape_controls_in_json(text)


def _indented(value: Any, chunks: list[str], *, newline: str, quote: Callable[[str], str]) -> None:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, chunk by chunk, at C speed for every string.

    json's own indented output is written by its pure-Python encoder (the C
    one does no indenting): about 7 ms for ``plugin list --json`` of 500
    plugins, where this takes 3 ms. Strings go through json's own C escaping, numbers
    through the ``repr`` json uses; any other type, a non-string key or a
    float that is not finite raises TypeError, and json writes the whole
    document instead.
    """
    if isinstance(value, str):
        chunks.append(quote(value))
    elif isinstance(value, dict):
        if not value:
            chunks.append("{}")
            return
        inner = newline + "  "
        opening = "{"
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(key)
            chunks.append(f"{opening}{inner}{quote(key)}: ")
            opening = ","
            _indented(item, chunks, newline=inner, quote=quote)
        chunks.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            chunks.append("[]")
            return
        inner = newline + "  "
        opening = "["
        for item in value:
            chunks.append(opening + inner)
            opening = ","
            _indented(item, chunks, newline=inner, quote=quote)
        chunks.append(newline + "]")
    else:
        chunks.append(_scalar(value))


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and value - value == 0:  # finite: json writes NaN and Infinity its own way
        return float.__repr__(value)
    raise TypeError(value)


def runs_in_text(view: RunsInView) -> str:
    """``sandbox (backend auto)``: where a workflow's plugins run, in words, from the view ``--json`` prints."""
    if view["backend"] is None:
        return f"{view['runtime']} ({view['security']} mode)"
    if view["runtime"] is None:
        return f"nothing here (backend {view['backend']} cannot run on this machine)"
    return f"{view['runtime']} (backend {view['backend']})"
