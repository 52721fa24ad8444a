"""Run the real ``workflow`` command as a user would: a subprocess, captured."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

RunCli = Callable[..., subprocess.CompletedProcess[str]]
RunWorkflow = Callable[..., tuple[subprocess.CompletedProcess[str], Any]]
FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
INTRUDER = Path(__file__).parent / "fixtures" / "restricted" / "intruder"
TIMING = Path(__file__).parent / "fixtures" / "restricted" / "timing"
PRINTABLE_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HOSTILE_CHARACTERS = st.one_of(
    PRINTABLE_ASCII,
    st.sampled_from(
        ["[bold]", "[/x]", "\x1b", "\x07", "\x7f", "\x9b", "\u202e", "\t", "\n", "\r", "\u2028", "\xa0", "[b]x[/b]"]
    ),
    st.sampled_from(["界", "é", "e\u0301", "\u200d", "\U0001f600", "\ufe0f", "\u3000"]),  # wide, combining, joiners
    st.characters(),
)
"""Text from outside at its worst, a piece at a time: markup, controls, bidi, wide and combining characters."""


def cli_environment(home: Path, *, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment the CLI runs with in tests: no colour, user dirs and run registrations under ``home``."""
    full_env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "WORKFLOW_STATE_DIR": str(home / "state"),
        **(env or {}),
    }
    if env is None or "WORKFLOW_PLUGINS_PATH" not in env:
        full_env.pop("WORKFLOW_PLUGINS_PATH", None)
    for name in unset:  # e.g. NO_COLOR and COLUMNS, to see the defaults
        full_env.pop(name, None)
    return full_env


def run_workflow_cli(
    *args: str,
    home: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    python: Path | None = None,
    prefix: tuple[str, ...] = (),
    preexec_fn: Callable[[], None] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess (for fixtures wider than one test).

    ``prefix`` goes before the interpreter (a command that drops privileges);
    ``preexec_fn`` runs in the child before exec (a resource limit that stops root too).
    """
    return subprocess.run(
        [*prefix, str(python or sys.executable), "-m", "workflow_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or home,
        env=cli_environment(home, env=env, unset=unset),
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def run_entry_point(
    module: str, *args: str, home: Path, columns: int = 100, argv0: str = "workflow", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``module.main()`` with ``args`` as a console script named ``argv0`` sees them, in ``home``.

    Its stderr ends with ``typer loaded`` or ``typer not loaded``: whether the command imported Typer.
    """
    code = (
        "import atexit, sys; "
        "atexit.register(lambda: print('typer ' + ('loaded' if 'typer' in sys.modules else 'not loaded'), "
        "file=sys.stderr)); "
        f"sys.argv = [{argv0!r}, *sys.argv[1:]]; from {module} import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=home,
        env=cli_environment(
            home,
            env={"COLUMNS": str(columns), **(env or {})},
            unset=() if env and "_WORKFLOW_COMPLETE" in env else ("_WORKFLOW_COMPLETE",),  # not the one running us
        ),
        timeout=120,
        check=False,
    )


@pytest.fixture
def run_main(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_main("workflow_cli.entry", "--help")``: :func:`run_entry_point` in tmp_path."""
    return functools.partial(run_entry_point, home=tmp_path)


@pytest.fixture(scope="session")
def workflow_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``workflow_cli(*args, home=folder)``: the CLI for module- and session-wide fixtures (``run_cli`` is per test)."""
    return run_workflow_cli


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment ``run_cli`` gives the CLI, for tests that start it themselves."""
    return cli_environment(tmp_path)


RunProbed = Callable[..., tuple[subprocess.CompletedProcess[str], Any]]


@pytest.fixture
def run_probed(cli_env: dict[str, str], tmp_path: Path) -> RunProbed:
    """``run_probed(SCRIPT, "run", FLOW, ...)``: the CLI run by a probe script, and the JSON the probe wrote.

    ``SCRIPT`` is Python run with ``-c``, given the file to write as its first
    argument and the command line after it; it runs ``workflow_cli.entry.main``
    with what it watches around it (the modules imported, the collector's counts).
    """

    def run(script: str, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
        written = tmp_path / f"probe-{uuid.uuid4().hex[:8]}.json"
        done = subprocess.run(
            [sys.executable, "-c", script, str(written), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=cli_env,
            timeout=120,
            check=False,
        )
        assert written.is_file(), f"the probe wrote nothing (exit {done.returncode}):\n{done.stderr}"
        return done, json.loads(written.read_text(encoding="utf-8"))

    return run


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs under tmp_path.

    Takes the options of :func:`run_workflow_cli` (``cwd``, ``env``, ``python``, ``prefix``, ``unset``...).
    """
    return functools.partial(run_workflow_cli, home=tmp_path)


@pytest.fixture
def workflow_in_a_project(tmp_path: Path) -> Path:
    """A workflow inside a project (under tmp_path/project) whose config finds its plugin; the CLI runs outside it.

    ``run``/``validate`` of the file find the plugin because the project is
    looked up from the file's folder; the working directory (tmp_path) is in
    no project at all.
    """
    project = tmp_path / "project"
    (project / ".workflow").mkdir(parents=True)
    (project / ".workflow" / "config.yaml").write_text("plugins: {paths: [vendor]}\n")
    shutil.copytree(
        Path(__file__).resolve().parent / "fixtures" / "plugins_a" / "greeter", project / "vendor" / "greeter"
    )
    (project / "flows").mkdir()
    workflow = project / "flows" / "hello.yaml"
    workflow.write_text("name: hello\ntasks:\n  hello:\n    uses: acme/greeter.greet\n    inputs: {name: world}\n")
    return workflow


@pytest.fixture
def run_workflow(run_cli: RunCli, tmp_path: Path) -> RunWorkflow:
    """``run_workflow(text, "--pool")``: write ``flow.yaml``, run it with ``--json`` on the fixture plugins.

    Returns the finished process and the run record it printed (None when it printed none).
    """

    def run(
        text: str, *args: str, env: dict[str, str] | None = None, plugins: Path = FIXTURE_PLUGINS
    ) -> tuple[subprocess.CompletedProcess[str], Any]:
        path = tmp_path / "flow.yaml"
        path.write_text(text, encoding="utf-8")
        done = run_cli("run", str(path), "--json", "-p", str(plugins), *args, env=env)
        return done, json.loads(done.stdout) if done.stdout.strip() else None

    return run


def containers_created_since(started: float, plugin_ref: str) -> list[str]:
    """The containers the engine made for ``plugin_ref`` since ``started`` (its event log, not what is left)."""
    found = subprocess.run(
        [
            "docker", "events", "--since", f"{started:.3f}", "--until", f"{time.time():.3f}",
            "--filter", "event=create", "--filter", f"label=workflow-plugins.plugin={plugin_ref}",
            "--format", "{{.Actor.ID}}",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return found.stdout.split()


@pytest.fixture
def created_since() -> Callable[[float, str], list[str]]:
    """``created_since(started, plugin_ref)``: the containers made for a plugin since ``started`` (time.time())."""
    return containers_created_since


# --- Restricted mode on each backend ------------------------------------------------------------------


@dataclass(frozen=True)
class FixturePlugin:
    """A fixture plugin in a plugins folder of its own, with an image tag unique to this test session."""

    plugins: Path
    image: str


def copy_fixture_plugin(source: Path, tmp_path_factory: pytest.TempPathFactory) -> FixturePlugin:
    """``source`` copied into a new plugins folder, its manifest naming an image tag of this session (not built)."""
    plugins = tmp_path_factory.mktemp("plugins")
    image = f"workflow-plugins-test/{source.name}:{uuid.uuid4().hex[:12]}"
    shutil.copytree(source, plugins / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = plugins / source.name / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("runtime:\n", f"runtime:\n  image: {image}\n", 1))
    return FixturePlugin(plugins, image)


def built_fixture_plugin(plugin: FixturePlugin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixturePlugin]:
    """For a session fixture: ``plugin`` built into its image (``workflow plugin build``), removed afterwards."""
    folder = next(plugin.plugins.iterdir())
    built = run_workflow_cli("plugin", "build", str(folder), home=tmp_path_factory.mktemp("build-home"), timeout=300)
    assert built.returncode == 0, built.stderr
    yield plugin
    subprocess.run(["docker", "image", "rm", "--force", plugin.image], capture_output=True, check=False)


Intruder = FixturePlugin


@pytest.fixture(scope="session")
def intruder_plugins(tmp_path_factory: pytest.TempPathFactory) -> Intruder:
    """The intruder plugin, ready for the sandbox (a plugin folder is all it needs); its image is not built."""
    return copy_fixture_plugin(INTRUDER, tmp_path_factory)


@pytest.fixture(scope="session")
def intruder(intruder_plugins: Intruder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intruder]:
    """The intruder plugin built into its image (with ``workflow plugin build``); the image is removed afterwards."""
    yield from built_fixture_plugin(intruder_plugins, tmp_path_factory)


@pytest.fixture(scope="session")
def timing_plugin(tmp_path_factory: pytest.TempPathFactory) -> FixturePlugin:
    """The timing plugin (a slow start, a nap, a lingering exit), ready for processes and the sandbox."""
    return copy_fixture_plugin(TIMING, tmp_path_factory)


@pytest.fixture(scope="session")
def timing_image(timing_plugin: FixturePlugin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixturePlugin]:
    """The timing plugin built into its image; the image is removed afterwards."""
    yield from built_fixture_plugin(timing_plugin, tmp_path_factory)


@dataclass(frozen=True)
class Backend:
    """A restricted backend a test runs on (``--backend``), with the intruder plugin ready for it."""

    name: str
    intruder: Intruder

    @property
    def args(self) -> tuple[str, ...]:
        return ("-p", str(self.intruder.plugins), "--backend", self.name)


@pytest.fixture(
    params=[
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def restricted_backend(request: pytest.FixtureRequest) -> Backend:
    """Each restricted backend in turn (the test runs once on each): required in CI, skipped with why elsewhere."""
    ready = request.getfixturevalue("intruder" if request.param == "docker" else "intruder_plugins")
    return Backend(request.param, ready)


def _containers_from(image: str) -> list[str]:
    """The containers, running or not, made from ``image``: none may outlive a run."""
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True, check=True
    )
    return found.stdout.split()


@pytest.fixture
def image_containers() -> Callable[[str], list[str]]:
    """``image_containers(image)``: the containers made from an image that still exist."""
    return _containers_from


def _sandbox_cgroups(engine: int) -> list[Path]:
    """The cgroups an engine made for its sandboxes, in every controller (empty where sandboxes get none)."""
    from workflow_plugin_runtime.runtimes.sandbox.limits import CGROUP_PREFIX, cgroup_parents

    parents = cgroup_parents()
    if parents is None:
        return []
    return sorted(
        directory
        for parent in set(parents.values())
        for directory in parent.iterdir()
        if directory.name.startswith(f"{CGROUP_PREFIX}{engine}-")
    )


@pytest.fixture
def sandbox_cgroups_of() -> Callable[[int], list[Path]]:
    """``sandbox_cgroups_of(engine_pid)``: the sandbox cgroups an engine made that still exist."""
    return _sandbox_cgroups


def _processes_with(marker: str) -> list[int]:
    """The live processes whose command line holds ``marker`` (a container's too: they are the host's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if marker.encode() in (entry / "cmdline").read_bytes() and stat[stat.rfind(")") + 2] != "Z":
                    found.append(int(entry.name))
    return found


@pytest.fixture
def processes_marked() -> Callable[[str], list[int]]:
    """``processes_marked(marker)``: the live processes whose command line holds ``marker``."""
    return _processes_with
