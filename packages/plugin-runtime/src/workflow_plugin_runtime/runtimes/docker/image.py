"""Which code a plugin image holds: the content hash it was built from, compared before it runs.

``workflow plugin build`` labels each image with the content hash of the
plugin directory it was built from (:data:`BUILT_FROM_LABEL`,
:func:`..provenance.plugin_content_hash`). An image whose label differs from
the plugin's current hash holds old code; one without the label was built
by other means, and which code it holds is unknown. The Docker runtime
refuses both before it makes a container (:class:`.docker.DockerRuntime`),
and ``workflow validate`` warns about them (:mod:`..image_checks`), so a run
record never names code that did not run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ...errors import RuntimeUnavailableError

__all__ = [
    "BUILT_FROM_LABEL",
    "ImageIdentity",
    "ImageRefusal",
    "image_refusal",
    "inspect_image",
    "local_images",
    "rebuild_command",
]

BUILT_FROM_LABEL = "workflow-plugins.content-hash"


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """An image as the engine has it: the tag asked for, the image id it names, and its built-from hash."""

    tag: str
    id: str
    built_from: str | None

    def to_record(self) -> dict[str, str | None]:
        return {"tag": self.tag, "id": self.id, "built_from": self.built_from}


class ImageRefusal(NamedTuple):
    """Why an image must not run, and how to get one that may."""

    message: str
    hint: str


def inspect_image(api: Any, tag: str) -> ImageIdentity | None:
    """``tag``'s identity in the engine, or None when it has no such image.

    ``api`` is a low-level docker client; any other error of the daemon
    propagates (the caller words it).
    """
    import docker

    try:
        inspected = api.inspect_image(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    built_from = labels.get(BUILT_FROM_LABEL)
    return ImageIdentity(tag=tag, id=str(inspected["Id"]), built_from=built_from if built_from else None)


def local_images(tags: Iterable[str], *, wait_s: float) -> dict[str, ImageIdentity | None] | None:
    """Each tag's identity in the local engine (None: no such image); None when no Docker daemon answers.

    For checks that only warn (``workflow validate``): a daemon that is not
    there, or that fails, leaves them silent rather than failing them. Each
    request waits about ``wait_s`` (at least the runtime's minimum).
    """
    import docker
    import requests

    from .client import connect_bounded, daemon_deadline

    with daemon_deadline(time.monotonic() + wait_s):
        try:
            api = connect_bounded()
        except RuntimeUnavailableError:
            return None
        try:
            return {tag: inspect_image(api, tag) for tag in dict.fromkeys(tags)}
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None
        finally:
            api.close()


def rebuild_command(plugin_dir: Path | None, plugin_ref: str) -> str:
    """The command that (re)builds the plugin's image; the directory resolves from anywhere, a ref may not."""
    return f"`workflow plugin build {plugin_dir if plugin_dir is not None else plugin_ref}`"


def image_refusal(
    identity: ImageIdentity | None, *, tag: str, content_hash: str, plugin_ref: str, plugin_dir: Path | None
) -> ImageRefusal | None:
    """Why ``identity`` must not run for a plugin whose directory hashes to ``content_hash``.

    None when the image was built from exactly that content.
    """
    command = rebuild_command(plugin_dir, plugin_ref)
    if identity is None:
        return ImageRefusal(f"image {tag} is not in the local Docker engine", f"build it with {command}")
    if identity.built_from is None:
        return ImageRefusal(
            f"image {tag} has no {BUILT_FROM_LABEL} label: it was not built by `workflow plugin build`, so"
            " which code of the plugin it holds is unknown",
            f"build it with {command}",
        )
    if identity.built_from != content_hash:
        where = f" {plugin_dir}" if plugin_dir is not None else ""
        return ImageRefusal(
            f"image {tag} is stale: it was built from plugin content {identity.built_from}, but the plugin"
            f" directory{where} now hashes to {content_hash}, so the image would run old code",
            f"rebuild it with {command}",
        )
    return None
