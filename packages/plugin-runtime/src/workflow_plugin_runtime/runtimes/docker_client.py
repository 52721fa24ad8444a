"""Reaching the Docker daemon: one place that connects, and one way to say how to fix it.

Both the Docker runtime and image builds need a client that answered a ping,
and both must tell the operator the same thing when there is none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import RuntimeUnavailableError

__all__ = ["START_DOCKER_HINT", "connect_docker", "remove_labelled_containers"]

START_DOCKER_HINT = (
    "start the Docker daemon (as CI does: bash .ci/setup-docker.sh as root; see docs/docker.md) "
    "and check DOCKER_HOST if it listens elsewhere"
)


def _socket_path(host: str) -> Path | None:
    for scheme in ("unix://", "http+unix://"):
        if host.startswith(scheme):
            return Path("/" + host[len(scheme) :].lstrip("/"))
    return None


def connect_docker() -> Any:
    """A docker SDK client that answered a ping, or :class:`RuntimeUnavailableError` saying how to start Docker."""
    import docker
    import requests

    socket_path = _socket_path(os.environ.get("DOCKER_HOST") or docker.constants.DEFAULT_UNIX_SOCKET)
    if socket_path is not None and not socket_path.exists():
        raise RuntimeUnavailableError(f"no Docker daemon: nothing listens at {socket_path}", hint=START_DOCKER_HINT)
    client = None
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if client is not None:
            client.close()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeUnavailableError(f"cannot reach the Docker daemon: {reason}", hint=START_DOCKER_HINT) from exc
    return client


def remove_labelled_containers(label: str, value: str) -> int:
    """Force-remove every container, running or not, labelled ``label=value``; how many were removed.

    For the cleaner of dead runs (:mod:`workflow_plugin_runtime.leftovers`),
    which finds a run's containers by its label. Raises
    :class:`RuntimeUnavailableError` when the daemon cannot be reached or fails.
    """
    import docker
    import requests

    client = connect_docker()
    removed = 0
    try:
        for container in client.api.containers(all=True, filters={"label": f"{label}={value}"}):
            try:
                client.api.remove_container(container["Id"], force=True)
            except docker.errors.NotFound:  # removed meanwhile (its own run's clean-up, another cleaner)
                continue
            removed += 1
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeUnavailableError(f"Docker could not list or remove containers: {reason}") from exc
    finally:
        client.close()
    return removed
