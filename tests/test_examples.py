"""The examples the docs point to run, and say what the docs say they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_example(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_embedding_example_runs_cold_warm_and_masks_its_secret():
    done = run_example("embed.py")
    assert done.returncode == 0, done.stderr
    assert "cold: {'words': ['engines', 'embed', 'the', 'runtime'], 'count': 4}" in done.stdout
    assert "[log] counted 4 words" in done.stdout
    assert "failure: action - cannot render the template: KeyError('***')" in done.stdout
    assert "tok-1234-secret" not in done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("first 1\nwarm 2\nwarm 3")


def test_the_embedding_doc_shows_the_example_as_it_is():
    doc = (ROOT / "docs" / "embedding.md").read_text()
    source = (ROOT / "examples" / "embed.py").read_text()
    body = source[source.index("PLUGINS = ") : source.index("\n\nif __name__")]
    assert body in doc


def test_the_quickstart_main_job_runs_the_example_workflow(tmp_path):
    import json
    import shutil

    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns(".workflow"))
    shutil.copytree(ROOT / "examples" / ".workflow", examples / ".workflow", ignore=shutil.ignore_patterns("runs"))
    done = subprocess.run(
        [sys.executable, "-m", "workflow_cli", "run", "examples/workflows/hello.yaml", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["outputs"] == {
        "greeting": "Hello, plugin authors: plugins speak JSON over stdin and stdout! (10 words)",
        "words": 10,
    }
    assert (examples / "workflows" / ".workflow" / "runs" / f"{record['run_id']}.json").is_file()


def test_the_sdk_demo_shows_the_protocol():
    done = run_example("demo.py")
    assert done.returncode == 0, done.stderr
    assert 'one-shot call  -> {"ok": true, "outputs": {"words": ["plugins", "speak"' in done.stdout
    assert "warm worker speaks the serve loop; actions: echo, render, words" in done.stdout
