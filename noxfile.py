"""Every check the project runs: ``nox`` runs the default sessions, CI too.

``nox -s bench`` runs the benchmarks (not a default session: figures belong
in docs/performance.md, not in pass/fail).
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests_sdk", "tests_runtime", "tests_cli", "tests_cross"]

ROOT = Path(__file__).parent
SDK = "packages/plugin-sdk"
RUNTIME = "packages/plugin-runtime"
CLI = "packages/workflow-cli"
RUNTIME_DASK = f"{RUNTIME}[dask]"  # the runtime with Dask's distributed: the Dask executor's tests run, never skip
# pip: tests build and install real plugin distributions with it (uv-made virtualenvs have no pip).
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100", "pip"]


def _install(session: nox.Session, *packages: str, extra: tuple[str, ...] = ()) -> None:
    args: list[str] = []
    for package in packages:
        args += ["-e", package]
    session.install(*args, *extra)


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", *paths, *session.posargs, env={"PYTHONDONTWRITEBYTECODE": "1"})


@nox.session
def tests_sdk(session: nox.Session) -> None:
    """The SDK alone: it must work with nothing else of ours installed."""
    _install(session, SDK, extra=tuple(TEST_DEPS))
    _pytest(session, f"{SDK}/tests")


@nox.session
def tests_runtime(session: nox.Session) -> None:
    """The runtime, with real processes, Docker and bubblewrap where present."""
    # hatchling: the entry-point tests build a real plugin distribution without build isolation (offline).
    _install(session, SDK, RUNTIME_DASK, extra=(*TEST_DEPS, "hatchling>=1.24"))
    _pytest(session, f"{RUNTIME}/tests")


@nox.session
def tests_cli(session: nox.Session) -> None:
    """The CLI, driven as a user would: through subprocesses and Typer's runner (one test blocks distributed)."""
    _install(session, SDK, RUNTIME_DASK, CLI, extra=tuple(TEST_DEPS))
    _pytest(session, f"{CLI}/tests")


@nox.session
def tests_cross(session: nox.Session) -> None:
    """Tests across packages: examples, docs snippets (the Dask executor's among them), the Quickstart's main job."""
    _install(session, SDK, RUNTIME_DASK, CLI, extra=tuple(TEST_DEPS))
    _pytest(session, "tests")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format), the import-linter contracts (layers, no cycles), and proof they bite."""
    # Linters pinned: a new release's new rules should arrive in a commit, not fail CI one morning.
    _install(session, SDK, RUNTIME, CLI, extra=("ruff==0.17.6", "import-linter==2.17"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    session.run("python", "tools/check_contracts_bite.py")  # each contract shown to fail on a deliberate violation


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over all three packages; strict on the SDK."""
    _install(session, SDK, RUNTIME_DASK, CLI, extra=("mypy==2.4.1", "types-PyYAML", "pytest>=8", "hypothesis>=6.100"))
    session.run("mypy", f"{SDK}/src", f"{RUNTIME}/src", f"{CLI}/src")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints ratios against a floor measured in the same run."""
    _install(session, SDK, RUNTIME_DASK, CLI)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The Quickstart's main job, in a nox-managed environment."""
    _install(session, SDK, RUNTIME, CLI)
    session.run("workflow", "run", "examples/workflows/hello.yaml")
