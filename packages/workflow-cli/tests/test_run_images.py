"""`workflow run` and `validate` against a plugin's image: built from the plugin's current code, or refused.

The stamp plugin (``fixtures/images/stamp``) answers with a word written in
its ``main.py``. Each test copies it, gives it an image tag of its own,
builds it with ``workflow plugin build``, edits ``main.py`` and sees what
runs, through the real CLI and a real Docker engine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STAMP = Path(__file__).parent / "fixtures" / "images" / "stamp"
FLOW = """\
name: stamped
security: restricted
tasks:
  which: {uses: tests/stamp.which}
outputs:
  stamp: "{{ tasks.which.outputs.stamp }}"
"""


@dataclass(frozen=True)
class Stamp:
    plugins: Path
    plugin_dir: Path
    image: str
    flow: Path

    def edit(self, stamp: str) -> None:
        main = self.plugin_dir / "main.py"
        main.write_text(main.read_text().replace('STAMP = "original"', f'STAMP = "{stamp}"'))


@pytest.fixture
def stamp(tmp_path: Path) -> Iterator[Stamp]:
    plugins = tmp_path / "plugins"
    shutil.copytree(STAMP, plugins / "stamp", ignore=shutil.ignore_patterns("__pycache__"))
    image = f"workflow-plugins-test/stamp:{uuid.uuid4().hex[:12]}"
    manifest = plugins / "stamp" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("runtime:\n", f"runtime:\n  image: {image}\n", 1))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    yield Stamp(plugins, plugins / "stamp", image, flow)
    subprocess.run(["docker", "image", "rm", "--force", image], capture_output=True, check=False)


def build(run_cli, stamp: Stamp) -> str:
    """Build the image with the CLI; its id, as the engine has it."""
    done = run_cli("plugin", "build", str(stamp.plugin_dir), timeout=300)
    assert done.returncode == 0, done.stderr
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", stamp.image], capture_output=True, text=True, check=True
    )
    image_id = inspected.stdout.strip()
    assert f"built {stamp.image} ({image_id.removeprefix('sha256:')[:12]})" in done.stdout
    return image_id


def run(run_cli, stamp: Stamp, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = run_cli("run", str(stamp.flow), "--json", "-p", str(stamp.plugins), "--backend", "docker", *args)
    assert done.stdout.strip(), done.stderr
    return done, json.loads(done.stdout)


@pytest.mark.docker
def test_an_edited_plugin_is_refused_until_its_image_is_rebuilt(run_cli, stamp, created_since):
    first_id = build(run_cli, stamp)
    done, record = run(run_cli, stamp)
    assert done.returncode == 0, done.stderr
    assert record["outputs"] == {"stamp": "original"}
    provenance = record["tasks"]["which"]["provenance"]
    built_from = provenance["content_hash"]
    assert provenance["image"] == {"tag": stamp.image, "id": first_id, "built_from": built_from}

    stamp.edit("edited")
    started = time.time()
    refusals = [run(run_cli, stamp), run(run_cli, stamp, "--pool")]  # one-shot and warm containers

    assert created_since(started, "tests/stamp") == []
    for done, record in refusals:
        assert done.returncode == 1, done.stderr
        task = record["tasks"]["which"]
        error = task["error"]
        current = task["provenance"]["content_hash"]
        assert current != built_from
        assert error["kind"] == "runtime_unavailable"
        assert f"image {stamp.image} is stale: it was built from plugin content {built_from}" in error["message"]
        assert f"now hashes to {current}" in error["message"]
        assert f"rebuild it with `workflow plugin build {stamp.plugin_dir}`" in error["message"]
        assert task["provenance"]["image"] == {"tag": stamp.image, "id": first_id, "built_from": built_from}
        assert "Traceback" not in done.stderr

    second_id = build(run_cli, stamp)
    done, record = run(run_cli, stamp)

    assert done.returncode == 0, done.stderr
    assert record["outputs"] == {"stamp": "edited"}
    provenance = record["tasks"]["which"]["provenance"]
    assert second_id != first_id
    assert provenance["image"] == {"tag": stamp.image, "id": second_id, "built_from": provenance["content_hash"]}
    assert provenance["content_hash"] == current


@pytest.mark.docker
def test_validate_warns_about_a_missing_and_then_a_stale_image(run_cli, stamp):
    where = f"{stamp.flow}:4:"

    missing = run_cli("validate", str(stamp.flow), "-p", str(stamp.plugins))
    build(run_cli, stamp)
    fresh = run_cli("validate", str(stamp.flow), "-p", str(stamp.plugins))
    stamp.edit("edited")
    stale = run_cli("validate", str(stamp.flow), "-p", str(stamp.plugins))

    for done in (missing, fresh, stale):
        assert done.returncode == 0, done.stderr  # warnings: the image can be built before the run
        assert "valid (1 task, restricted mode)" in done.stdout
    assert f"warning: {where}" in missing.stderr
    assert f"image {stamp.image} is not in the local Docker engine" in missing.stderr
    assert f"hint: build it with `workflow plugin build {stamp.plugin_dir}`" in missing.stderr
    assert "warning" not in fresh.stderr
    assert f"warning: {where}" in stale.stderr
    assert f"image {stamp.image} is stale: it was built from plugin content sha256:" in stale.stderr
    assert "now hashes to sha256:" in stale.stderr
    assert f"hint: rebuild it with `workflow plugin build {stamp.plugin_dir}`" in stale.stderr


@pytest.mark.docker
def test_an_image_built_by_hand_is_refused_and_validate_says_so(run_cli, stamp):
    dockerfile = b'FROM python:3.11-slim\nCOPY . /plugin\nWORKDIR /plugin\nCMD ["python3", "main.py"]\n'
    subprocess.run(
        ["docker", "build", "-q", "-t", stamp.image, "-f", "-", str(stamp.plugin_dir)],
        input=dockerfile, capture_output=True, check=True,
    )  # fmt: skip

    checked = run_cli("validate", str(stamp.flow), "-p", str(stamp.plugins))
    done, record = run(run_cli, stamp)

    unknown = f"image {stamp.image} has no workflow-plugins.content-hash label"
    assert checked.returncode == 0 and unknown in checked.stderr
    assert done.returncode == 1
    error = record["tasks"]["which"]["error"]
    assert error["kind"] == "runtime_unavailable"
    assert unknown in error["message"]
    assert f"build it with `workflow plugin build {stamp.plugin_dir}`" in error["message"]


def test_validate_of_a_trusted_workflow_does_not_load_docker(run_cli, stamp):
    stamp.flow.write_text(FLOW.replace("security: restricted\n", ""), encoding="utf-8")

    done = run_cli("validate", str(stamp.flow), "-p", str(stamp.plugins), env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "valid (" in done.stdout and "workflow_plugin_runtime.workflows.checks" in imported  # the checks ran
    assert not {name for name in imported if name.split(".")[0] in ("docker", "requests")}
    assert not {name for name in imported if name.startswith("workflow_plugin_runtime.runtimes")}  # no runtime code


def test_validate_without_a_daemon_checks_no_image(run_cli, stamp, tmp_path):
    done = run_cli(
        "validate", str(stamp.flow), "-p", str(stamp.plugins), env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    )

    assert done.returncode == 0, done.stderr
    assert "image" not in done.stderr  # (where bubblewrap is missing too, it warns that no backend can run here)
