"""Whether a restricted backend can run here, asked before a run starts.

A restricted run on a backend that cannot work would start anyway and fail
every task the same way; asking first turns that into one clear error
before anything runs. Each backend has a probe, a function that says why
it cannot run on this machine (or nothing when it can), and ``auto`` takes
the first backend of :data:`~workflow_plugin_runtime.config.RESTRICTED_RUNTIMES`
whose probe passes. A backend is a :class:`~workflow_plugin_runtime.config.RuntimeKind`;
``auto`` is ``None``.

The sandbox's probe (:mod:`.sandbox.probe`) starts one real sandbox, once
per process; Docker's pings the daemon, each time it is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..config import RESTRICTED_RUNTIMES, RuntimeKind
from ..errors import RuntimeUnavailableError

__all__ = ["BACKEND_PROBES", "BackendProbe", "usable_backend"]

BackendProbe = Callable[[], RuntimeUnavailableError | None]
"""Why a backend cannot run here (its message and a hint saying how to get it), or None when it can."""


def _sandbox_problem() -> RuntimeUnavailableError | None:
    from .sandbox.probe import sandbox_problem

    return sandbox_problem()


def _docker_problem() -> RuntimeUnavailableError | None:
    import time

    from .docker.client import MIN_DAEMON_WAIT_S, connect_bounded, daemon_address, daemon_deadline, daemon_timed_out

    # A hung daemon is asked no longer than the least a task's request waits: the probe must not cost
    # the client library's default minute before the run is refused.
    with daemon_deadline(time.monotonic() + MIN_DAEMON_WAIT_S):
        try:
            client = connect_bounded()
        except RuntimeUnavailableError as exc:
            return _install_docker(exc)
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001 - docker/requests errors, which this module must not import
            answer = "did not answer" if daemon_timed_out(exc) else "did not answer a ping"
            return _install_docker(RuntimeUnavailableError(f"the Docker daemon at {daemon_address()} {answer}"))
        finally:
            client.close()
    return None


def _install_docker(exc: RuntimeUnavailableError) -> RuntimeUnavailableError:
    return RuntimeUnavailableError(
        exc.message,
        hint=f"install Docker (Debian: apt-get install docker.io) or {exc.hint}"
        if exc.hint
        else "install Docker (Debian: apt-get install docker.io) or start its daemon (docs/docker.md)",
    )


BACKEND_PROBES: Mapping[RuntimeKind, BackendProbe] = MappingProxyType(
    {RuntimeKind.SANDBOX: _sandbox_problem, RuntimeKind.DOCKER: _docker_problem}
)


def usable_backend(
    backend: RuntimeKind | None, *, probes: Mapping[RuntimeKind, BackendProbe] = BACKEND_PROBES
) -> RuntimeKind:
    """The backend a restricted run will use: ``backend``, or for ``auto`` (``None``) the first that works here.

    Raises :class:`RuntimeUnavailableError` naming the backend, why it
    cannot run here and how to get it (for ``auto``: why each one cannot).
    """
    candidates = RESTRICTED_RUNTIMES if backend is None else (backend,)
    problems: list[tuple[RuntimeKind, RuntimeUnavailableError]] = []
    for candidate in candidates:
        problem = probes[candidate]()
        if problem is None:
            return candidate
        problems.append((candidate, problem))
    if backend is not None:
        _, problem = problems[0]
        raise RuntimeUnavailableError(
            f"the restricted backend '{backend.value}' cannot run here: {problem.message}", hint=problem.hint
        )
    reasons = "; ".join(f"{candidate.value}: {problem.message}" for candidate, problem in problems)
    hints = "; ".join(f"{candidate.value}: {problem.hint}" for candidate, problem in problems if problem.hint)
    raise RuntimeUnavailableError(
        f"no restricted backend can run here (auto tried {', '.join(c.value for c in candidates)}): {reasons}",
        hint=hints or None,
    )
