"""The docs-sample harness itself: a broken sample fails, a block that says nothing of itself fails, placeholders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .checks import ROOT
from .samples import expected_output_pattern

BROKEN_PAGE = """# A page with broken samples

```console
$ workflow validate examples/workflows/hello.yaml
examples/workflows/hello.yaml: valid (5 tasks, trusted mode); runs in: process (trusted mode)
```

```python
from workflow_plugin_runtime import Resolver

Resolver(["examples/plugins"]).resolve_action("examples/text.shout")
```

```text
a block that does not say what it is
```

```console
$ workflow validate examples/workflows/hello.yaml
examples/workflows/hello.yaml: valid (… tasks, trusted mode); runs in: process (trusted mode)
```
"""


def run_harness(docs_root: Path, *select: str) -> subprocess.CompletedProcess[str]:
    """The real harness, as nox runs it, over the pages under ``docs_root``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            str(Path(__file__).with_name("test_doc_samples.py")),
            *select,
        ],
        cwd=ROOT,
        env={**os.environ, "DOCS_SAMPLES_ROOT": str(docs_root)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_sample_broken_in_a_copy_of_a_real_page_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")  # a short page: the harness runs it whole
    shown = "wf.yaml: valid (1 task, trusted mode)"
    assert shown in page
    (tmp_path / "docs" / "security.md").write_text(
        page.replace(shown, shown.replace("1 task", "2 tasks")), encoding="utf-8"
    )
    before = page[: page.index(shown)]
    fence_line = before[: before.rindex("```")].count("\n") + 1

    done = run_harness(tmp_path, "-k", "security.md")

    assert done.returncode == 1, done.stdout
    failed = re.findall(r"^FAILED \S+\[(\S+)\]", done.stdout, re.MULTILINE)
    assert failed == [f"security.md:{fence_line}"], done.stdout
    assert "valid (1 task, trusted mode)" in done.stdout  # what the command really printed


def run_page(tmp_path: Path, name: str, text: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The harness over ``docs/NAME`` holding ``text`` (and a README with nothing to run): its run, the failed ids."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# nothing to run\n", encoding="utf-8")
    (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    done = run_harness(tmp_path)
    return done, re.findall(r"^FAILED \S+\[(\S+)\]", done.stdout, re.MULTILINE)


def test_each_kind_of_broken_block_fails_by_its_own_id(tmp_path: Path) -> None:
    done, failed = run_page(tmp_path, "broken.md", BROKEN_PAGE)

    assert done.returncode == 1, done.stdout
    assert failed == ["broken.md:3", "broken.md:8", "broken.md:14"], done.stdout
    assert "1 passed" in done.stdout
    assert "examples/text.shout" in done.stdout
    assert "no check for kind 'unspecified'" in done.stdout


SETUP_PAGE = """# Setting up a machine

<!-- sample: ci -->
```bash
sudo bash .ci/setup-isolation.sh
```

<!-- sample: ci -->
```bash
curl -fsSL https://get.docker.com | sh
```

```text
$ printf '%s\\n' one \\
    two
one
two
```
"""


def test_a_set_up_command_ci_does_not_run_fails_and_a_transcript_command_may_continue(tmp_path: Path) -> None:
    done, failed = run_page(tmp_path, "setup.md", SETUP_PAGE)

    assert done.returncode == 1, done.stdout
    assert failed == ["setup.md:9"], done.stdout
    assert "is not what .ci/run or .ci/setup-isolation.sh runs" in done.stdout
    assert "2 passed" in done.stdout


@pytest.mark.parametrize(
    ("expected", "printed", "matches"),
    [
        ("wrote …/a.lock.json (1 plugin)\n", "wrote /tmp/x/a.lock.json (1 plugin)\n", True),
        ("wrote …/a.lock.json (1 plugin)\n", "wrote /tmp/x/a.lock.json (2 plugins)\n", False),
        ("first\n...\nlast\n", "first\none\ntwo\nlast\n", True),
        ("first\n...\nlast\n", "first\nlast\n", True),
        ("first\nlast\n", "first\nmiddle\nlast\n", False),
        ("a ... b\n", "a anything b\n", True),
        ("a.b\n", "aXb\n", False),
    ],
)
def test_placeholders_stand_for_variable_text_only(expected: str, printed: str, matches: bool) -> None:
    assert (expected_output_pattern(expected).fullmatch(printed) is not None) is matches


CLUSTER_PAGE = """# A cluster on one machine

<!-- sample: shell port=8786 -->
```text
$ dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard &
$ dask worker tcp://127.0.0.1:8786 --host 127.0.0.1 --no-dashboard &
$ workflow run examples/workflows/hello.yaml --executor dask --dask-address tcp://127.0.0.1:8786
hello: failed
```

```text
$ sleep 600 &
```
"""


@pytest.mark.dask
@pytest.mark.slow
def test_a_failed_cluster_sample_leaves_no_process_and_only_dask_runs_in_the_background(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# nothing to run\n", encoding="utf-8")
    (tmp_path / "docs" / "cluster.md").write_text(CLUSTER_PAGE, encoding="utf-8")
    inner = tmp_path / "inner"

    done = run_harness(tmp_path, "--basetemp", str(inner))

    failed = re.findall(r"^FAILED \S+\[(\S+)\]", done.stdout, re.MULTILINE)
    assert failed == ["cluster.md:4", "cluster.md:11"], done.stdout
    assert "hello: succeeded" in done.stdout  # the cluster ran the workflow: only the expected text was wrong
    assert "only a Dask scheduler or worker runs in the background" in done.stdout
    logs = sorted(inner.glob("docs-cluster0/project-background-*/*.log"))
    assert len(logs) == 2, logs  # the scheduler and the worker ran, each logging next to the project
    assert "tcp://127.0.0.1:8786" not in logs[0].read_text()  # on a free port of its own
    left = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit() and _cwd_within(entry, inner)]
    assert left == [], left


def _cwd_within(process: Path, folder: Path) -> bool:
    try:
        return (process / "cwd").readlink().is_relative_to(folder)
    except OSError:  # ended meanwhile, or not ours to see
        return False
