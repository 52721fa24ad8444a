"""Restricted mode on Docker: each invocation runs in a fresh, locked-down container.

The container gets no network (``none``) unless the invocation is granted
network, then :attr:`DockerRuntime.granted_network` (``host`` by default:
the only other network an engine started with ``--bridge=none`` has). Its
root filesystem is read-only with a tmpfs ``/tmp``; it runs as uid/gid
65534 with every capability dropped and ``no-new-privileges``; memory, CPU
and process count are capped; only the given mounts are visible. The image
brings the plugin: its WORKDIR (``/plugin`` by convention) is the working
directory and its CMD/ENTRYPOINT starts the plugin, unless the invocation
gives ``container_command``.

The ``docker`` package is imported here only, on first use, so importing
the runtime never pays for it. Every container carries the label
:data:`INVOCATION_LABEL` and is removed when the call ends, whatever ends it:
a killed ``docker`` client would leave it running, so this module kills it.

The warm pool's containers (:meth:`DockerRuntime.create_serving_container`)
are made by the same code as a one-shot call's, so both get the same
lockdown; only the serve-loop switch in their environment differs. That
code also resolves and re-checks every mount source at the moment the
container is made and binds the resolved path (:mod:`...workflows.mount_sources`), and
turns the engine's log driver off: we read the streams ourselves, and a
driver would keep (or ship off the host) the plugin's unmasked output.
Every request to the daemon waits at most what is left of the task's
deadline (:func:`.client.daemon_deadline`).

An invocation that carries the plugin's ``content_hash`` runs only an image
built from exactly that content (:mod:`.image`): the image is
inspected once per runtime, a stale or unlabelled one is refused as
``runtime_unavailable``, and the container is made from the inspected image
id, so what runs is what was checked (:meth:`DockerRuntime.checked_image`
tells provenance which image that was). The daemon's own words reach a
message only as a quoted detail (:func:`.client.daemon_error_detail`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from workflow_plugin_sdk.protocol import SERVE_ENV_VAR, encode_message

from ...errors import Failure, FailureKind, PermissionDeniedError, RuntimeUnavailableError
from ...workflows.mount_sources import bind_sources
from ..base import Invocation, InvocationResult, LogCallback, Metrics, RuntimeKind, Timings, refuse_other_kinds
from ..deadline import KILL_GRACE_S
from ..outcome import Ending, Termination, classify
from ..run_state import run_labels
from ..streams import BoundedStdout, LogStream
from .attach import AttachStream, ContainerWatch
from .client import (
    MIN_DAEMON_WAIT_S,
    connect_bounded,
    daemon_address,
    daemon_deadline,
    daemon_error_detail,
    daemon_timed_out,
)
from .image import ImageIdentity, image_refusal, inspect_image, rebuild_command

__all__ = [
    "CONTAINER_ENV",
    "CONTAINER_USER",
    "DEFAULT_GRANTED_NETWORK",
    "INVOCATION_LABEL",
    "PLUGIN_LABEL",
    "REMOVE_WAIT_S",
    "DockerRuntime",
]

INVOCATION_LABEL = "workflow-plugins.invocation"
PLUGIN_LABEL = "workflow-plugins.plugin"
CONTAINER_USER = "65534:65534"
DEFAULT_GRANTED_NETWORK = "host"
CONTAINER_ENV = {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}  # noqa: S108 - inside the container
"""The base environment inside a container; PATH comes from the image."""
REMOVE_WAIT_S = 15.0
"""How long removing a container may wait for the daemon, past any deadline: giving up leaves it behind."""


class _DaemonUnavailable(Exception):
    """The Docker daemon or the image cannot be used; the message says how to fix it."""


class DockerRuntime:
    """Runs each invocation in a new container of the plugin's image.

    ``client`` is a ready ``docker.DockerClient`` for engines that configure
    their own (TLS, another host; its own request timeout applies); by
    default a client is made from the environment (``DOCKER_HOST``) on first
    use, whose every request waits at most what is left of the task's
    deadline. ``granted_network`` is the network of a call granted network
    access.
    """

    kind = RuntimeKind.DOCKER

    def __init__(
        self,
        *,
        granted_network: str = DEFAULT_GRANTED_NETWORK,
        kill_grace_s: float = KILL_GRACE_S,
        client: Any = None,
    ) -> None:
        self.granted_network = granted_network
        self.kill_grace_s = kill_grace_s
        self._client = client
        self._api_client: Any = None if client is None else client.api
        self._client_lock = threading.Lock()
        self._images: dict[str, ImageIdentity] = {}
        self._images_lock = threading.Lock()

    def _api(self) -> Any:
        """The low-level client, created on first use (one round trip saved per call over the high-level one)."""
        with self._client_lock:
            if self._api_client is None:
                try:
                    self._api_client = connect_bounded()
                except RuntimeUnavailableError as exc:
                    raise _DaemonUnavailable(f"{exc.message}; {exc.hint}") from exc
            return self._api_client

    def close(self) -> None:
        with self._client_lock:
            owned = self._client if self._client is not None else self._api_client
            self._client = self._api_client = None
        if owned is not None:
            owned.close()

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        refuse_other_kinds(invocation, RuntimeKind.DOCKER)
        started = time.monotonic()
        try:
            with daemon_deadline(started + invocation.timeout_s):
                return self._run(self._api(), invocation, on_log, started)
        except _DaemonUnavailable as exc:
            failure = Failure(kind=FailureKind.RUNTIME_UNAVAILABLE, message=f"{invocation.plugin_ref}: {exc}")
        except PermissionDeniedError as exc:  # a mount source refused when the container was made
            message = f"{invocation.plugin_ref}: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else "")
            failure = Failure(kind=FailureKind.PERMISSION, message=message)
        # Most of these fail making or starting the container; one the daemon failed mid-call counts as start-up too.
        duration_s = time.monotonic() - started
        metrics = Metrics(duration_s=duration_s, runtime=RuntimeKind.DOCKER, timings=Timings.not_started(duration_s))
        return InvocationResult(response=None, failure=failure, metrics=metrics)

    def create_serving_container(self, invocation: Invocation, *, serve: bool = True) -> str:
        """Create (not start) a container that runs the plugin as a pooled worker; its id.

        Everything but the serve-loop switch (``SERVE_ENV_VAR=1``) is what a
        one-shot call's container gets; ``serve=False`` leaves it out, for a
        caller that drives a one-shot container's pipes itself (the
        conformance kit's probes). Raises :class:`RuntimeUnavailableError`
        when the daemon or the image cannot be used (within the invocation's
        timeout), :class:`PermissionDeniedError` when a mount source is refused.
        """
        refuse_other_kinds(invocation, RuntimeKind.DOCKER)
        try:
            with daemon_deadline(time.monotonic() + invocation.timeout_s):
                return self._create(self._api(), invocation, serve=serve)
        except _DaemonUnavailable as exc:
            raise RuntimeUnavailableError(f"{invocation.plugin_ref}: {exc}") from exc

    def remove_container(self, container_id: str) -> None:
        """Kill and remove a container, whatever its state; one already gone is no error."""
        with contextlib.suppress(_DaemonUnavailable), daemon_deadline(time.monotonic()):
            _remove(self._api(), container_id)

    def checked_image(self, tag: str) -> ImageIdentity | None:
        """The image this runtime checked for ``tag`` and makes its containers from (None: none checked yet)."""
        with self._images_lock:
            return self._images.get(tag)

    def _image_to_run(self, api: Any, invocation: Invocation) -> str:
        """The image id to make the container from, refused unless built from ``invocation.content_hash``.

        Inspected once per tag for the runtime's life (a run's); without a
        content hash the tag runs unchecked, as an engine's own images do.
        """
        import docker
        import requests

        tag = invocation.image
        assert tag is not None  # a docker invocation is refused without one
        if invocation.content_hash is None:
            return tag
        identity = self.checked_image(tag)
        if identity is None:
            try:
                identity = inspect_image(api, tag)
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                raise _daemon_failure(exc, f"Docker could not inspect image {tag}") from exc
            if identity is not None:
                with self._images_lock:
                    identity = self._images.setdefault(tag, identity)
        refusal = image_refusal(
            identity,
            tag=tag,
            content_hash=invocation.content_hash,
            plugin_ref=invocation.plugin_ref,
            plugin_dir=invocation.plugin_dir,
        )
        if refusal is not None:
            raise _DaemonUnavailable("; ".join(refusal))
        assert identity is not None
        return identity.id

    def oom_killed(self, container_id: str) -> bool:
        """Whether the engine killed the container at its memory limit (False when it cannot say)."""
        import docker
        import requests

        try:
            with daemon_deadline(time.monotonic() + MIN_DAEMON_WAIT_S):
                return _oom_killed(self._api(), container_id)
        except (_DaemonUnavailable, docker.errors.APIError, requests.exceptions.RequestException):
            return False

    def signal_container(self, container_id: str, signal_name: str) -> None:
        """Signal a container's process through the engine (a warm worker's stop); a stopped one is no error."""
        import docker
        import requests

        with contextlib.suppress(_DaemonUnavailable, docker.errors.APIError, requests.exceptions.RequestException):
            self._api().kill(container_id, signal=signal_name)

    def exit_code(self, container_id: str) -> int | None:
        """A stopped container's exit code, as a one-shot call records it (None while it runs or unknown)."""
        import docker
        import requests

        try:
            state = self._api().inspect_container(container_id).get("State", {})
        except (_DaemonUnavailable, docker.errors.APIError, requests.exceptions.RequestException):
            return None
        code = state.get("ExitCode")
        return None if state.get("Running") or not isinstance(code, int) else code

    def _create(self, api: Any, invocation: Invocation, *, serve: bool = False) -> str:
        """The one place a plugin's container and its lockdown are defined (one-shot and serving alike)."""
        import docker
        import requests

        limits = invocation.limits
        image = self._image_to_run(api, invocation)
        mounts = bind_sources(invocation.mounts)  # now, not when the grants were checked: paths change
        host_config = api.create_host_config(
            network_mode=self.granted_network if invocation.network else "none",
            read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,mode=1777"},  # noqa: S108 - a private tmpfs in the container
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids,
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            nano_cpus=int(limits.cpus * 1e9),
            init=True,
            mounts=[docker.types.Mount(m.target, str(m.source), type="bind", read_only=m.read_only) for m in mounts],
            log_config=docker.types.LogConfig(type=docker.types.LogConfig.types.NONE),
        )
        try:
            created = api.create_container(
                image,
                command=list(invocation.container_command) if invocation.container_command else None,
                stdin_open=True,
                tty=False,
                user=CONTAINER_USER,
                environment={**CONTAINER_ENV, **invocation.env, **({SERVE_ENV_VAR: "1"} if serve else {})},
                labels={INVOCATION_LABEL: os.urandom(16).hex(), PLUGIN_LABEL: invocation.plugin_ref, **run_labels()},
                host_config=host_config,
                # With no network, also skip the engine's network setup: the container still gets
                # its own empty network namespace (only lo), ~90 ms sooner than with "none" alone.
                network_disabled=not invocation.network,
            )
        except docker.errors.ImageNotFound as exc:
            command = rebuild_command(invocation.plugin_dir, invocation.plugin_ref)
            raise _DaemonUnavailable(
                f"image {invocation.image} is not in the local Docker engine; build it with {command}"
            ) from exc
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise _daemon_failure(exc, f"Docker could not create the container of {invocation.image}") from exc
        container_id: str = created["Id"]
        return container_id

    def _run(self, api: Any, invocation: Invocation, on_log: LogCallback | None, started: float) -> InvocationResult:
        import docker
        import requests

        container_id = self._create(api, invocation)
        stream: AttachStream | None = None
        try:
            try:
                stream = AttachStream(
                    api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
                )
                api.start(container_id)
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                raise _daemon_failure(exc, "Docker could not start the container") from exc
            ready = time.monotonic()  # created, attached and started: the request goes out now
            stdout = BoundedStdout(invocation.max_stdout_bytes)
            logs = LogStream(invocation.max_stderr_bytes, on_log)
            watch = ContainerWatch(
                api, container_id, invocation=invocation, kill_grace_s=self.kill_grace_s, started=started
            )
            watch.follow(stream, request=encode_message(invocation.request), stdout=stdout, logs=logs)
            answered = watch.deadline_watch.action_ended_at(answered=watch.answered_at, over=time.monotonic())
            exit_code = watch.wait_exit()
            oom = exit_code != 0 and watch.termination is Termination.COMPLETED and _oom_killed(api, container_id)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise _daemon_failure(exc, "the Docker daemon failed during the call") from exc
        finally:
            try:
                if stream is not None:
                    stream.close()
            finally:
                _remove(api, container_id)
        ended = time.monotonic()
        if not logs.overflowed:
            logs.finish()
        response, failure = classify(
            Ending(
                plugin_ref=invocation.plugin_ref,
                stdout=stdout.value(),
                termination=watch.termination,
                exit_code=exit_code,
                signal=None,
                stderr_tail=logs.tail(),
                timeout_s=invocation.timeout_s,
                killed="its container",
                stdout_limit=invocation.max_stdout_bytes,
                stderr_limit=invocation.max_stderr_bytes,
                oom_limit_bytes=invocation.limits.memory_bytes if oom else None,
                not_found_fix=_not_found_fix(invocation),
            )
        )
        metrics = Metrics(
            duration_s=ended - started,
            runtime=RuntimeKind.DOCKER,
            exit_code=exit_code,
            timings=Timings.between(spawned=started, ready=ready, answered=answered, ended=ended),
        )
        return InvocationResult(
            response=response, failure=failure, metrics=metrics, logs=logs.records, stderr_tail=logs.tail()
        )


def _not_found_fix(invocation: Invocation) -> str:
    """What to do when the container's init could not find the program to start (exit 127)."""
    where = invocation.plugin_dir if invocation.plugin_dir is not None else "<plugin dir>"
    return (
        f"the image {invocation.image} does not have it: build the image on a base that has it "
        f"(`workflow plugin build {where} --base-image IMAGE`), or give the plugin a Dockerfile that installs it"
    )


def _oom_killed(api: Any, container_id: str) -> bool:
    state = api.inspect_container(container_id).get("State", {})
    return bool(state.get("OOMKilled"))


def _remove(api: Any, container_id: str) -> None:
    import docker
    import requests

    with (
        contextlib.suppress(docker.errors.NotFound, docker.errors.APIError, requests.exceptions.RequestException),
        daemon_deadline(time.monotonic() + REMOVE_WAIT_S),
    ):
        api.remove_container(container_id, force=True)


def _daemon_failure(exc: Exception, what: str) -> _DaemonUnavailable:
    """A request that got no answer in time names the daemon; any other failure says ``what`` and the daemon's words."""
    if daemon_timed_out(exc):
        return _DaemonUnavailable(
            f"the Docker daemon at {daemon_address()} did not answer in time (a request waits what is left of the"
            f" task's timeout, at least {MIN_DAEMON_WAIT_S:g} s)"
        )
    return _DaemonUnavailable(f"{what} ({daemon_error_detail(exc)})")
