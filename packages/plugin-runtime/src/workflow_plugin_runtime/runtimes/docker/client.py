"""Reaching the Docker daemon: one place that connects, and one way to say how to fix it.

Both the Docker runtime and image builds need a client that answered the
daemon's first request, and both must tell the operator the same thing when
there is none.

A task's calls to the daemon must not outlive the task: the client library
waits 60 s for each answer by default, whatever the task's timeout. The
runtime's client (:func:`connect_bounded`) therefore waits, for each
request, what is left of the calling thread's deadline
(:func:`daemon_deadline`), and at least :data:`MIN_DAEMON_WAIT_S`, so a
daemon that accepts and never answers fails the task on time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import RuntimeUnavailableError

__all__ = [
    "DEFAULT_DAEMON_WAIT_S",
    "MIN_DAEMON_WAIT_S",
    "START_DOCKER_HINT",
    "connect_bounded",
    "connect_docker",
    "daemon_address",
    "daemon_deadline",
    "daemon_error_detail",
    "daemon_timed_out",
    "remove_labelled_containers",
]

DEFAULT_DAEMON_WAIT_S = 60.0
"""What a request waits outside any deadline (the client library's own default)."""
MIN_DAEMON_WAIT_S = 5.0
"""The least a request waits, even when the deadline is (nearly) past: a kill after a timeout, a daemon
slowed by a busy machine. A hung daemon fails a task at most this long after its timeout."""

_bounds = threading.local()

START_DOCKER_HINT = (
    "start the Docker daemon (as CI does: bash .ci/setup-isolation.sh as root; see docs/docker.md) "
    "and check DOCKER_HOST if it listens elsewhere"
)


def _socket_path(host: str) -> Path | None:
    for scheme in ("unix://", "http+unix://"):
        if host.startswith(scheme):
            return Path("/" + host[len(scheme) :].lstrip("/"))
    return None


def _require_socket(address: str) -> None:
    """Say "no daemon" at once when nothing is at a Unix socket address (the client would say it less clearly)."""
    socket_path = _socket_path(address)
    if socket_path is not None and not socket_path.exists():
        raise RuntimeUnavailableError(f"no Docker daemon: nothing listens at {socket_path}", hint=START_DOCKER_HINT)


def connect_docker() -> Any:
    """A docker SDK client that answered a ping, or :class:`RuntimeUnavailableError` saying how to start Docker."""
    import docker
    import requests

    _require_socket(daemon_address())
    client = None
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if client is not None:
            client.close()
        raise RuntimeUnavailableError(
            f"cannot reach the Docker daemon at {daemon_address()} ({daemon_error_detail(exc)})", hint=START_DOCKER_HINT
        ) from exc
    return client


def daemon_address() -> str:
    """Where the daemon is expected (``DOCKER_HOST``, else the default socket), as an operator writes it."""
    import docker

    return os.environ.get("DOCKER_HOST") or docker.constants.DEFAULT_UNIX_SOCKET.replace("http+unix://", "unix://")


@contextlib.contextmanager
def daemon_deadline(deadline: float) -> Iterator[None]:
    """Bound each request this thread makes through a :func:`connect_bounded` client by ``deadline`` (monotonic).

    Nested uses replace the bound for their extent (removing a container
    after a timeout gets its own).
    """
    previous = getattr(_bounds, "deadline", None)
    _bounds.deadline = deadline
    try:
        yield
    finally:
        _bounds.deadline = previous


def _request_wait_s(default: float) -> float:
    deadline: float | None = getattr(_bounds, "deadline", None)
    if deadline is None:
        return default
    return max(deadline - time.monotonic(), MIN_DAEMON_WAIT_S)


@functools.cache
def _bounded_client_class() -> type:
    import docker

    class BoundedAPIClient(docker.APIClient):  # type: ignore[misc]  # docker has no type hints
        """The low-level client, whose request timeout is what the calling thread's deadline leaves."""

        @property
        def timeout(self) -> float:
            return _request_wait_s(self._default_wait_s)

        @timeout.setter
        def timeout(self, value: float) -> None:
            self._default_wait_s = value

    return BoundedAPIClient


def connect_bounded() -> Any:
    """A low-level client (``docker.APIClient``) bounded by :func:`daemon_deadline`, configured from the environment.

    Making it asks the daemon its API version, within the current deadline;
    raises :class:`RuntimeUnavailableError` naming the daemon when there is
    no answer.
    """
    import docker
    import requests

    address = daemon_address()
    _require_socket(address)
    started = time.monotonic()
    try:
        return _bounded_client_class()(timeout=DEFAULT_DAEMON_WAIT_S, **docker.utils.kwargs_from_env())
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if daemon_timed_out(exc):
            message = f"the Docker daemon at {address} did not answer within {time.monotonic() - started:.1f} s"
        else:
            message = f"cannot reach the Docker daemon at {address} ({daemon_error_detail(exc)})"
        raise RuntimeUnavailableError(message, hint=START_DOCKER_HINT) from exc


def daemon_timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a request to the daemon that got no answer in time."""
    import requests
    import urllib3

    # A timed-out stream comes as requests' ConnectionError with urllib3's error among its arguments.
    # urllib3's NewConnectionError is a ConnectTimeoutError by descent, yet means refused, not slow.
    timeouts = requests.exceptions.Timeout | TimeoutError | urllib3.exceptions.TimeoutError
    causes = list(_causes(exc))
    if any(isinstance(cause, urllib3.exceptions.NewConnectionError | ConnectionRefusedError) for cause in causes):
        return False
    return any(isinstance(cause, timeouts) for cause in causes)


_MAX_DETAIL_CHARS = 300


def daemon_error_detail(exc: BaseException) -> str:
    """The daemon's own words about a failed request, as a quoted detail for the end of a message of ours.

    The client library's messages read ``400 Client Error for
    http+docker://localhost/v1.47/containers/create: Bad Request ("...")``
    or ``('Connection aborted.', FileNotFoundError(2, ...))``: its URL,
    status line and exception reprs mean nothing to an operator. An answer
    of the daemon keeps only its explanation; a request that got no answer
    says what went wrong with the connection.
    """
    import docker

    if isinstance(exc, docker.errors.APIError):
        said = exc.explanation
        if isinstance(said, bytes):
            said = said.decode("utf-8", errors="replace")
        text = _one_line(str(said or "")) or (exc.response.reason if exc.response is not None else "")
        status = f" {exc.status_code}" if exc.status_code is not None else ""
        return f'the daemon answered{status}: "{text}"' if text else f"the daemon answered{status}"
    if daemon_timed_out(exc):
        return "the daemon did not answer in time"
    causes = list(_causes(exc))
    if not any(isinstance(cause, OSError) for cause in causes):  # requests' errors are OSErrors too
        return f'the docker client said: "{_one_line(str(exc))}"'  # a check of its own (TLS settings, a missing file)
    reason = next((cause.strerror for cause in causes if isinstance(cause, OSError) and cause.strerror), None)
    return f"no answer from the daemon: {reason or 'the connection failed'}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps, through causes, contexts and exceptions passed as arguments (how urllib3 nests)."""
    pending = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [link for link in (current.__cause__, current.__context__) if link is not None]


def _one_line(text: str) -> str:
    """Whitespace collapsed and the length capped: a detail inside a message, not a dump."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_DETAIL_CHARS else flat[: _MAX_DETAIL_CHARS - 1] + "…"


def remove_labelled_containers(label: str, value: str) -> int:
    """Force-remove every container, running or not, labelled ``label=value``; how many were removed.

    For the cleaner of dead runs (:mod:`workflow_plugin_runtime.runtimes.leftovers`),
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
        raise RuntimeUnavailableError(
            f"Docker could not list or remove containers ({daemon_error_detail(exc)})"
        ) from exc
    finally:
        client.close()
    return removed
