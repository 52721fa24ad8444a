"""What `workflow run` of a trusted workflow loads of the runtime: only what runs a local process.

Run's fixed cost is mostly imports (docs/performance.md, "What `workflow
run` pays once"), so the modules a trusted one-task run imports are guarded
by name, not by timings: the run goes as a user runs it (a subprocess) and
writes, as its interpreter exits, every module it loaded, the worker
threads' imports included. The Docker runtime and the Docker SDK, the
sandbox, Dask, the warm pool, the fork server and the dead-run cleaner are
for other runs; the counterpart tests show the guard sees them when a run
does need them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
RUNTIME = "workflow_plugin_runtime"
RECORDING = """\
import atexit, json, runpy, sys

out, sys.argv = sys.argv[1], ["workflow", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("workflow_cli", run_name="__main__", alter_sys=True)
"""
"""The CLI as ``python -m workflow_cli`` runs it, writing ``sys.modules`` to the file named first when it exits."""

TRUSTED_RUN_MODULES = {
    "execution",
    "execution.containment",
    "execution.executor",
    "execution.handlers",
    "execution.manager",
    "execution.records",
    "execution.results",
    "execution.scheduler",
    "execution.task_executor",
    "execution.task_provenance",
    "runtimes",
    "runtimes.base",
    "runtimes.deadline",
    "runtimes.host_argv",
    "runtimes.outcome",
    "runtimes.prctl",
    "runtimes.process",
    "runtimes.proctree",
    "runtimes.reaper",
    "runtimes.registry",
    "runtimes.run_state",
    "runtimes.streams",
    "runtimes.supervise",
    "runtimes.supervised_result",
}
"""Every module of ``execution/`` and ``runtimes/`` a trusted one-task run needs; locking is validate's too."""
OTHER_RUNS = ("docker", "requests", "dask", "distributed", "packaging.specifiers")
"""Packages only a restricted, Dask or version-constrained run uses."""
UNUSED_STDLIB = ("tempfile", "shutil", "random", "bz2", "lzma", "encodings.ascii")
"""What a trusted run's scratch folders and state files never need: they are made with ``os.mkdir``, removed with
one ``rmdir`` when the plugin left them empty, and written in binary (``runtimes/run_state.py``); ``tempfile``
imports ``shutil``, ``random`` and the compression modules."""
NO_RUN = (
    "packaging",
    "uuid",
    "workflow_plugin_sdk._action",
    "workflow_plugin_sdk._context",
    "workflow_plugin_sdk._messages",
    "workflow_plugin_sdk._serve",
)
"""What a run of plugins seen before, with plain ``X.Y.Z`` versions, never needs: ``packaging`` (the record keeps
such a version as written; only a manifest read for the first time has its version checked by ``packaging``),
``uuid`` (a run id's random part is ``os.urandom``'s), the SDK's plugin-author API (the engine speaks only
the protocol) and the protocol's message classes (``TypedDict``s the engine names in annotations only)."""


@pytest.fixture
def loaded_by(run_probed):
    """``loaded_by("run", FLOW, ...)``: the finished command, and every module it imported."""

    def run(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
        done, modules = run_probed(RECORDING, *args)
        return done, set(modules)

    return run


def _runtime_modules(modules: set[str], *subpackages: str) -> set[str]:
    """The runtime's modules under ``subpackages``, named relative to the runtime package."""
    relative = {module.removeprefix(f"{RUNTIME}.") for module in modules if module.startswith(f"{RUNTIME}.")}
    return {module for module in relative if module.split(".")[0] in subpackages}


def _packages(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {name for name in names if any(module == name or module.startswith(f"{name}.") for module in modules)}


@pytest.fixture
def one_task(tmp_path: Path) -> Path:
    flow = tmp_path / f"one-task-{tmp_path.name}.yaml"
    flow.write_text("name: one\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 7}}\n", encoding="utf-8")
    return flow


@pytest.mark.parametrize("output", [(), ("--json",)], ids=["summary", "json"])
def test_a_trusted_one_task_run_loads_only_the_process_runtime(loaded_by, one_task, output):
    done, modules = loaded_by("run", str(one_task), "-p", str(PLUGINS), *output)

    assert done.returncode == 0, done.stderr
    if output:
        assert json.loads(done.stdout)["tasks"]["a"]["outputs"] == {"value": 7}
    assert _runtime_modules(modules, "execution", "runtimes") - {"execution.locking"} == TRUSTED_RUN_MODULES
    assert _packages(modules, OTHER_RUNS) == set()
    assert _packages(modules, UNUSED_STDLIB) == set()


def test_a_second_run_loads_neither_packaging_nor_uuid_nor_the_sdk_author_api(loaded_by, one_task):
    first, _ = loaded_by("run", str(one_task), "-p", str(PLUGINS), "--json")  # the plugin index and caches filled
    assert first.returncode == 0, first.stderr

    done, modules = loaded_by("run", str(one_task), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tasks"]["a"]["outputs"] == {"value": 7}
    assert _packages(modules, NO_RUN) == set()


def test_a_pooled_run_loads_the_pool_and_the_guard_sees_it(loaded_by, one_task):
    """The other side: what a trusted run leaves out is loaded by the run that needs it, and noticed."""
    done, modules = loaded_by("run", str(one_task), "-p", str(PLUGINS), "--pool", "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tasks"]["a"]["outputs"] == {"value": 7}
    assert "runtimes.pool" in _runtime_modules(modules, "runtimes") - TRUSTED_RUN_MODULES
    assert "shutil" in _packages(modules, UNUSED_STDLIB)  # the warm workers' module finds docker with it


def test_a_run_with_a_dead_run_registered_loads_the_cleaner(loaded_by, one_task, cli_env):
    """The cleaner of dead runs loads only when the state directory holds a registration (here: a dead one)."""
    dead = Path(cli_env["WORKFLOW_STATE_DIR"]) / "runs" / f"20260101T000000Z-{one_task.stem[-8:]}"
    dead.mkdir(parents=True)
    (dead / "owner.json").write_text("{}\n", encoding="utf-8")

    done, modules = loaded_by("run", str(one_task), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert "runtimes.leftovers" in _runtime_modules(modules, "runtimes") - TRUSTED_RUN_MODULES
    assert not dead.exists()


SECRET_FORMS = ("workflow_plugin_runtime.masking.forms", "bisect")
"""What the masker needs only for secrets: their forms, and the search of them in a stream's held-back tail."""


def test_a_run_without_secrets_builds_no_secret_forms_and_one_with_a_secret_does(loaded_by, one_task, cli_env):
    done, modules = loaded_by("run", str(one_task), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert _packages(modules, SECRET_FORMS) == set()

    secret = f"token-{one_task.stem[-8:]}-never-shown"
    cli_env["WORKFLOW_SECRET_TOKEN"] = secret
    echo = one_task.with_name(f"echo-{one_task.name}")
    task = "{uses: tests/e2e.echo, inputs: {value: '{{ secrets.TOKEN }}'}}"
    echo.write_text(f"name: echo\ntasks:\n  a: {task}\n", encoding="utf-8")

    done, modules = loaded_by("run", str(echo), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout and "***" in done.stdout
    assert "workflow_plugin_runtime.masking.forms" in modules  # the guard sees them where they are needed
