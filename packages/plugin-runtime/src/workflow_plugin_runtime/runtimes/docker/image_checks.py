"""Warnings about the images a restricted workflow would run: missing, stale, or of unknown content.

The Docker runtime refuses such an image when the task runs
(:mod:`.image`); ``workflow validate`` says so before, at
the first task that uses the plugin. Only a restricted workflow that may
run on Docker asks the engine, and only when a daemon answers: a trusted
workflow pays nothing (not even the ``docker`` import), and no daemon means
no warning rather than a failed check. These are warnings, not errors: the
image can be built between ``validate`` and ``run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ...config import RuntimeKind
from ...errors import Problem, RuntimeUnavailableError, Severity
from ...plugins.provenance import plugin_content_hash
from ...workflows.checks import WorkflowCheck
from ...workflows.permissions import SecurityMode

if TYPE_CHECKING:
    from ...plugins.manifest import PluginManifest
    from .image import ImageIdentity

__all__ = ["VALIDATE_DAEMON_WAIT_S", "image_problems", "locked_images", "refuse_unusable_image"]

VALIDATE_DAEMON_WAIT_S = 5.0
"""How long ``validate`` waits for each answer of the daemon before it leaves the images unchecked."""


def image_problems(check: WorkflowCheck, *, backend: RuntimeKind | None = None) -> list[Problem]:
    """A warning for each plugin of a restricted workflow whose image the Docker runtime would refuse.

    ``backend`` is the configured one (``None``: auto, which may run on Docker).
    """
    workflow = check.workflow
    if workflow is None or workflow.security is not SecurityMode.RESTRICTED or backend is RuntimeKind.SANDBOX:
        return []
    from .image import image_refusal, local_images

    first_use: dict[Path, str] = {}
    for task_id, resolved in check.actions.items():
        first_use.setdefault(resolved.manifest.plugin_dir, task_id)
    if not first_use:
        return []
    tasks = {plugin_dir: check.actions[task_id] for plugin_dir, task_id in first_use.items()}
    images = local_images((action.manifest.runtime.image for action in tasks.values()), wait_s=VALIDATE_DAEMON_WAIT_S)
    if images is None:
        return []
    problems = []
    for plugin_dir, task_id in first_use.items():
        manifest = tasks[plugin_dir].manifest
        tag = manifest.runtime.image
        refusal = image_refusal(
            images[tag],
            tag=tag,
            content_hash=plugin_content_hash(plugin_dir),
            plugin_ref=manifest.ref,
            plugin_dir=plugin_dir,
        )
        if refusal is not None:
            message, hint = refusal
            problems.append(
                Problem(
                    f"{message}; a run on Docker refuses it (plugin {manifest.ref}, first used by task '{task_id}')",
                    workflow.locate(("tasks", task_id, "uses")),
                    hint,
                    Severity.WARNING,
                )
            )
    return problems


def locked_images(manifests: Iterable[PluginManifest]) -> dict[str, ImageIdentity]:
    """The local images of ``manifests``' plugins, by tag, for a lock; a tag with no image is left out.

    Raises :class:`RuntimeUnavailableError` when no daemon answers: a lock
    of a workflow that runs on Docker must name its images.
    """
    from .image import local_images

    tags = [manifest.runtime.image for manifest in manifests]
    if not tags:
        return {}
    found = local_images(tags, wait_s=VALIDATE_DAEMON_WAIT_S)
    if found is None:
        raise RuntimeUnavailableError(
            "no Docker daemon answers, so the images of the workflow's plugins cannot be locked or checked",
            hint="start Docker, or choose the sandbox backend (restricted: {backend: sandbox})",
        )
    return {tag: identity for tag, identity in found.items() if identity is not None}


def refuse_unusable_image(image: ImageIdentity | None, *, manifest: PluginManifest, content_hash: str) -> None:
    """Raise :class:`RuntimeUnavailableError` if a run would refuse ``image`` (missing, unlabelled, stale)."""
    from .image import image_refusal

    refusal = image_refusal(
        image,
        tag=manifest.runtime.image,
        content_hash=content_hash,
        plugin_ref=manifest.ref,
        plugin_dir=manifest.plugin_dir,
    )
    if refusal is not None:
        raise RuntimeUnavailableError(f"{refusal.message}: it cannot be locked", hint=refusal.hint)
