"""A transcript's commands that end in ``&``: a Dask scheduler and its workers, started as a reader starts them.

docs/scaling.md shows a cluster on one machine as the operator types it. Each
such command is run by bash in the page's project, in a session of its own,
its output in a file next to the project (``project-background-*/``). Before the transcript's next
command, the cluster is waited for by event: a client connects (Dask retries
until the scheduler listens) and waits until every worker started has joined.
When the sample is done, the scheduler shuts the cluster down (each worker
ends cleanly and removes its scratch folder); a process group still there
after that is killed, so nothing is left whatever the sample's outcome.

``port=N`` on a sample: N in its commands and output stands for a free port
on 127.0.0.1 found for this run, so runs in parallel never meet.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checks import Project

__all__ = ["BackgroundCluster", "background_cluster", "with_free_port"]

_STOP_TIMEOUT_S = 60


def with_free_port(text: str, port: str) -> str:
    """``text`` with each ``port`` (a whole number) replaced by a port of 127.0.0.1 that is free now."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free = probe.getsockname()[1]
    return re.sub(rf"(?<!\d){re.escape(port)}(?!\d)", str(free), text)


class BackgroundCluster:
    """The scheduler and workers a transcript started in the background, until :meth:`stop`."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._processes: list[subprocess.Popen[bytes]] = []
        self._scheduler: str | None = None
        self._workers = 0
        self._logs = project.root.parent / f"{project.root.name}-background-{uuid.uuid4().hex[:8]}"

    def start(self, command: str) -> None:
        """``command`` (a ``dask scheduler`` or ``dask worker`` line, less its ``&``) started in its own session."""
        words = shlex.split(command)
        role = words[words.index("dask") + 1] if "dask" in words else None
        assert role in ("scheduler", "worker"), f"{command!r}: only a Dask scheduler or worker runs in the background"
        if role == "scheduler":
            host = _option(words, "--host")
            assert host == "127.0.0.1", f"{command!r}: a sample's scheduler listens on 127.0.0.1 only"
            self._scheduler = f"tcp://{host}:{_option(words, '--port')}"
        else:
            self._workers += 1
        self._logs.mkdir(exist_ok=True)
        with (self._logs / f"{len(self._processes)}.log").open("wb") as output:
            self._processes.append(
                subprocess.Popen(
                    ["bash", "-c", command],
                    cwd=self._project.root,
                    env=self._project.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def wait(self) -> None:
        """Until the scheduler answers and every worker started has joined it (nothing to wait for: at once)."""
        if self._scheduler is None:
            return
        from distributed import Client

        with Client(self._scheduler, timeout=60) as client:
            client.wait_for_workers(self._workers, timeout=120)

    def stop(self) -> None:
        """The cluster shut down by its scheduler; what still runs after that is killed, session by session."""
        if self._scheduler is not None:
            from distributed import Client

            with contextlib.suppress(OSError, TimeoutError), Client(self._scheduler, timeout=10) as client:
                client.shutdown()
        for process in self._processes:
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # a worker's nanny and plugins share its session
                os.killpg(process.pid, signal.SIGKILL)


def _option(words: list[str], name: str) -> str:
    assert name in words, f"{shlex.join(words)!r}: say {name}"
    return words[words.index(name) + 1]


@contextlib.contextmanager
def background_cluster(project: Project) -> Iterator[BackgroundCluster]:
    """A :class:`BackgroundCluster` for one sample, stopped after it whatever its outcome."""
    cluster = BackgroundCluster(project)
    try:
        yield cluster
    finally:
        cluster.stop()
