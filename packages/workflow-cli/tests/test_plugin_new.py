"""``workflow plugin new``: the scaffold works end to end (inspect, its own test, build, a run in Docker)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from workflow_cli.scaffold import scaffold_files
from workflow_plugin_runtime import DockerRuntime, Invocation, RuntimeKind, load_manifest
from workflow_plugin_sdk.protocol import make_request


def run_pytest(folder: Path, *, command: Sequence[str] = (), env: Mapping[str, str] | None = None):
    """The scaffold's tests, as its author would run them: ``command``, or pytest in the plugin folder.

    This session's ``PYTEST_*`` settings are left out, and so is the cache.
    """
    env = {key: value for key, value in (env or os.environ).items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        [*(command or (sys.executable, "-m", "pytest", "tests")), "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_new_writes_a_plugin_into_the_default_plugins_path(run_cli, tmp_path):
    done = run_cli("plugin", "new", "acme/hello")

    assert done.returncode == 0, done.stderr
    folder = tmp_path / "plugins" / "hello"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "main.py",
        "plugin.yaml",
        "pytest.ini",
        "tests/test_main.py",
    ]
    assert done.stdout.splitlines()[0] == "created acme/hello in plugins/hello:"
    assert "  workflow plugin inspect acme/hello" in done.stdout.splitlines()
    manifest = load_manifest(folder)
    assert (manifest.ref, str(manifest.version), list(manifest.actions)) == ("acme/hello", "0.1.0", ["greet"])


def test_new_uses_the_project_root_from_a_subfolder(run_cli, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text("plugins: {paths: []}\n")
    (tmp_path / "sub").mkdir()

    done = run_cli("plugin", "new", "acme/hello", cwd=tmp_path / "sub")

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plugins" / "hello" / "plugin.yaml").is_file()


def test_dir_puts_it_elsewhere(run_cli, tmp_path):
    done = run_cli("plugin", "new", "acme/hello", "--dir", "vendor/hello")

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "vendor" / "hello" / "plugin.yaml").is_file()
    assert "  workflow plugin inspect vendor/hello" in done.stdout.splitlines()


def test_a_non_empty_directory_is_never_overwritten(run_cli, tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    done = run_cli("plugin", "new", "acme/hello", "--dir", str(target))

    assert done.returncode == 2
    assert f"{target} exists and is not empty; nothing was written" in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_an_empty_directory_is_fine(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()

    done = run_cli("plugin", "new", "acme/hello", "--dir", "empty")

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "empty" / "main.py").is_file()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("acme", "'acme' is missing the '/' between namespace and name"),
        ("Acme/Hello", "uppercase"),
        ("acme/hello.greet", "may not contain '.'"),
        ("a/b/c", "'/'"),
    ],
)
def test_an_invalid_ref_is_refused_with_exit_2(run_cli, tmp_path, ref, expected):
    done = run_cli("plugin", "new", ref)

    assert done.returncode == 2
    assert expected in done.stderr
    assert not (tmp_path / "plugins").exists()


def test_the_scaffold_text_names_the_plugin():
    files = scaffold_files("acme", "hello")

    assert "namespace: acme\nname: hello\n" in files["plugin.yaml"]
    assert "uses: acme/hello.greet" in files["README.md"]
    assert '"""Tests of the acme/hello plugin' in files["tests/test_main.py"]


def test_the_scaffold_is_inspectable_and_its_own_test_passes(run_cli, tmp_path):
    assert run_cli("plugin", "new", "acme/hello").returncode == 0

    inspected = run_cli("plugin", "inspect", "acme/hello", "--json")
    tested = run_pytest(tmp_path / "plugins" / "hello")

    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["source"] == "default"
    assert report["actions"]["greet"]["inputs"]["required"] == ["name"]
    assert report["recommended_permissions"] == {}
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout


def test_the_scaffolds_test_fails_when_the_action_is_broken(run_cli, tmp_path):
    assert run_cli("plugin", "new", "acme/hello").returncode == 0
    main = tmp_path / "plugins" / "hello" / "main.py"
    main.write_text(main.read_text().replace('f"Hello, ', 'f"Bye, '))

    tested = run_pytest(tmp_path / "plugins" / "hello")

    assert tested.returncode == 1
    assert "2 failed" in tested.stdout


@pytest.mark.docker
def test_new_then_build_then_run_in_docker(run_cli, tmp_path):
    assert run_cli("plugin", "new", "acme/hello").returncode == 0
    tag = f"workflow-cli-test/scaffold:{uuid.uuid4().hex[:12]}"
    runtime = DockerRuntime()
    try:
        built = run_cli("plugin", "build", "acme/hello", "--tag", tag)
        assert built.returncode == 0, built.stderr

        result = runtime.invoke(
            Invocation(
                kind=RuntimeKind.DOCKER,
                plugin_ref="acme/hello",
                request=make_request("greet", {"name": "container"}),
                image=tag,
                timeout_s=60,
            )
        )

        assert result.ok, (result.failure, result.stderr_tail)
        assert result.outputs == {"greeting": "Hello, container!"}
    finally:
        runtime.close()
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)


def next_step(stdout: str, marker: str) -> str:
    """The one "next:" step of ``plugin new``'s output that contains ``marker``."""
    steps = stdout.split("next:\n", 1)[1].splitlines()
    [step] = [line.strip() for line in steps if marker in line]
    return step


def test_the_printed_test_command_works_where_the_virtualenv_is_not_activated(run_cli, tmp_path, env_not_activated):
    # A project around the plugin with pytest settings and a conftest.py of its own (as this repository has)
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = ["-p", "no_such_plugin"]\n')
    (tmp_path / "conftest.py").write_text("import no_such_module_here\n")
    made = run_cli("plugin", "new", "acme/hello", env={"PATH": env_not_activated["PATH"]})
    assert made.returncode == 0, made.stderr
    command = next_step(made.stdout, "-m pytest")
    assert "pip install" not in made.stdout  # pytest is installed here

    tested = run_pytest(tmp_path, command=shlex.split(command), env=env_not_activated)

    assert tested.returncode == 0, f"{command}:\n{tested.stdout}{tested.stderr}"
    assert "2 passed" in tested.stdout


@pytest.fixture
def python_without_pytest(tmp_path: Path) -> Path:
    """A real virtualenv holding everything this one does except pytest (as the Quickstart's .venv is)."""
    venv = tmp_path / "venv-without-pytest"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("pytest", "_pytest")):
            (target / entry.name).symlink_to(entry)
    return python


def test_without_pytest_the_next_steps_say_how_to_get_it(run_cli, python_without_pytest, tmp_path):
    from importlib.metadata import metadata

    from packaging.requirements import Requirement

    made = run_cli("plugin", "new", "acme/hello", python=python_without_pytest)

    assert made.returncode == 0, made.stderr
    python = next_step(made.stdout, "-m pytest").split(" -m ")[0]
    install = next_step(made.stdout, "pip install")
    assert install == f"{python} -m pip install 'workflow-plugin-sdk[test]'   # the tests need pytest"
    assert tmp_path / python == python_without_pytest  # shown relative to the working directory
    sdk = metadata("workflow-plugin-sdk")
    assert "test" in sdk.get_all("Provides-Extra", [])
    requirements = [Requirement(text) for text in sdk.get_all("Requires-Dist", [])]
    assert [
        str(r.specifier)
        for r in requirements
        if r.name == "pytest" and r.marker and r.marker.evaluate({"extra": "test"})
    ] == [">=8"]


def test_a_malformed_name_gets_a_suggestion_that_is_then_accepted(run_cli, tmp_path):
    refused = run_cli("plugin", "new", "Acme/Bad_Name")
    assert refused.returncode == 2
    suggestion = re.search(r"write '([^']+)'", refused.stderr)
    assert suggestion is not None, refused.stderr

    accepted = run_cli("plugin", "new", suggestion.group(1))

    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith(f"created {suggestion.group(1)} in plugins/")
