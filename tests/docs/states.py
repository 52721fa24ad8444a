"""Situations a sample's message is printed in, built for real in a page's project (``state=NAME``).

Each state is a context manager taking the page's project: it builds the
situation before the sample runs and undoes what would disturb the page's
later samples, or leave anything behind, when the sample is done. What is
printed is then the sample's own command's, compared with the block.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checks import Project

__all__ = ["STATES"]

FIXTURES = Path(__file__).with_name("fixtures")
"""Small real plugin directories, workflows and files the states copy into a project."""


@contextmanager
def release_workflow(project: Project) -> Iterator[None]:
    """``release.yaml`` with a var and a secret, and ``.env`` holding the secret (only its owner may read it)."""
    shutil.copy(FIXTURES / "release.yaml", project.root)
    project.save(".env", "API_TOKEN=release-token-1234\n").chmod(0o600)
    yield


@contextmanager
def stale_image(project: Project) -> Iterator[None]:
    """The project's ``examples/plugins/http`` built, then edited and the edit accepted into the example's lock.

    Built from the copy as it came, the image is the examples' own (the same
    content), and it now holds old code. The edit and the lock are undone
    afterwards, so later samples and other tests find that image current.
    """
    main = project.root / "examples/plugins/http/main.py"
    lock = project.root / "examples/workflows/http-restricted.lock.json"
    original, locked = main.read_text(encoding="utf-8"), lock.read_text(encoding="utf-8")
    built = project.shell("workflow plugin build examples/plugins/http")
    assert built.returncode == 0, built.stdout
    main.write_text(original + "# edited after the build\n", encoding="utf-8")
    try:
        accepted = project.shell(
            "mkdir -p examples/workflows/out && workflow lock examples/workflows/http-restricted.yaml"
        )
        assert accepted.returncode == 0, accepted.stdout
        yield
    finally:
        main.write_text(original, encoding="utf-8")
        lock.write_text(locked, encoding="utf-8")


@contextmanager
def docker_project(project: Project) -> Iterator[None]:
    """``docker/``: a project whose restricted workflows run on Docker, and the image of the HTTP example built."""
    shutil.copytree(FIXTURES / "docker-project", project.root / "docker")
    built = project.shell("workflow plugin build examples/plugins/http")  # the examples' own image: the same content
    assert built.returncode == 0, built.stdout
    yield


@contextmanager
def inspected_plugin(project: Project) -> Iterator[None]:
    """``plugins/acme-http``: a plugin with a warm pool and mount and env needs, while the sample inspects it."""
    shutil.copytree(FIXTURES / "plugins/acme-http", project.root / "plugins/acme-http")
    try:
        yield
    finally:  # the page's later samples list the project's plugins
        shutil.rmtree(project.root / "plugins/acme-http")


@contextmanager
def failing_build(project: Project) -> Iterator[None]:
    """``plugins/http``: the HTTP example with its own Dockerfile, whose ``RUN`` fails (no ``requests`` there)."""
    plugin = project.root / "plugins/http"
    shutil.copytree(project.root / "examples/plugins/http", plugin, dirs_exist_ok=True)
    shutil.copy(FIXTURES / "failing-build.Dockerfile", plugin / "Dockerfile")
    try:
        yield
    finally:
        (plugin / "Dockerfile").unlink()


@contextmanager
def dead_run(project: Project) -> Iterator[None]:
    """A run of a waiting plugin killed outright (SIGKILL) while its task runs, and another one still running."""
    shutil.copytree(FIXTURES / "plugins/waiting", project.root / "plugins/waiting")
    shutil.copy(FIXTURES / "waiting.yaml", project.root)
    runs = [_waiting_run(project), _waiting_run(project)]
    runs[0].kill()
    runs[0].wait()
    try:
        yield
    finally:
        runs[1].send_signal(signal.SIGTERM)  # cancelled as Ctrl-C cancels it: its plugin killed, its record written
        runs[1].wait(timeout=60)
        for run in runs:
            assert run.stdout is not None
            run.stdout.close()
        project.shell("workflow clean")  # whatever the sample's `workflow clean` left behind
        shutil.rmtree(project.root / "plugins/waiting")  # the page's later samples list the project's plugins


def _waiting_run(project: Project) -> subprocess.Popen[str]:
    """``workflow run waiting.yaml``, returned once its plugin has said it is waiting (its log line is shown)."""
    run = subprocess.Popen(
        [sys.executable, "-m", "workflow_cli", "run", "waiting.yaml"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    seen = []
    for line in run.stdout:
        seen.append(line)
        if line.strip() == "wait | waiting":
            return run
    run.wait()
    raise AssertionError(f"the waiting plugin never said so:\n{''.join(seen)}")


@contextmanager
def relinked_mount(project: Project) -> Iterator[None]:
    """``steal/steal.yaml``: its first task, granted ``./out`` read-write, re-points ``./data``'s target."""
    shutil.copytree(FIXTURES / "plugins/relink", project.root / "plugins/relink")
    folder = project.root / "steal"
    (folder / "shared").mkdir(parents=True)
    shutil.copy(FIXTURES / "steal.yaml", folder)
    (folder / "out").mkdir(mode=0o777)
    (folder / "out").chmod(0o777)  # whatever the umask: the plugin runs as uid 65534
    (folder / "out/link").symlink_to(folder / "shared")
    (folder / "data").symlink_to("out/link")
    try:
        yield
    finally:  # the page's later samples list the project's plugins
        shutil.rmtree(project.root / "plugins/relink")


@contextmanager
def no_bwrap(project: Project) -> Iterator[None]:
    """``PATH`` as it is, less ``bwrap``: its folders' other programs are reached through links."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    links = project.root.parent / f"{project.root.name}-path-without-bwrap"
    links.mkdir(exist_ok=True)
    for folder in filter(None, folders):
        if (Path(folder) / "bwrap").exists():
            for program in Path(folder).iterdir():
                if program.name != "bwrap" and not (links / program.name).exists():
                    (links / program.name).symlink_to(program)
    kept = [str(links) if (Path(folder) / "bwrap").exists() else folder for folder in folders]
    project.extra_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *kept])
    try:
        yield
    finally:
        del project.extra_env["PATH"]


@contextmanager
def worker_copy(project: Project) -> Iterator[None]:
    """``other/``: a second project, as another machine's, whose copy of the examples' text plugin is edited."""
    other = project.root / "other"
    (other / ".workflow").mkdir(parents=True)
    shutil.copy(project.root / ".workflow/config.yaml", other / ".workflow")
    shutil.copytree(project.root / "examples/plugins/text", other / "examples/plugins/text")
    with (other / "examples/plugins/text/main.py").open("a", encoding="utf-8") as main:
        main.write("# edited on this worker only\n")
    try:
        yield
    finally:  # the page's later samples run against the project's own copy
        shutil.rmtree(other)


STATES: dict[str, Callable[[Project], AbstractContextManager[None]]] = {
    "release-workflow": release_workflow,
    "stale-image": stale_image,
    "docker-project": docker_project,
    "inspected-plugin": inspected_plugin,
    "failing-build": failing_build,
    "dead-run": dead_run,
    "relinked-mount": relinked_mount,
    "no-bwrap": no_bwrap,
    "worker-copy": worker_copy,
}
