"""The parsed-workflow cache: a later process loads an unchanged file without PyYAML, and never a stale one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTLE_S = 0.15  # just over the 100 ms racy-entry margin (plugins.index.settled): files this old get recorded
PROBE = """
import json, sys
from pathlib import Path
from workflow_plugin_runtime.workflows.loading import read_workflow
workflow, problems = read_workflow(Path(sys.argv[1]))
document = workflow.document
print(json.dumps({
    "data": document.data,
    "values": sorted([list(path), at.line, at.column] for path, at in document.values.items()),
    "keys": sorted([list(path), at.line, at.column] for path, at in document.keys.items()),
    "problems": [str(problem) for problem in problems],
    "located": str(workflow.locate(("tasks", "b", "uses"))),
    "order": list(workflow.tasks),
    "yaml_imported": "yaml" in sys.modules,
}))
"""
WORKFLOW = """\
name: cached
vars: {greeting: hello, count: 3, ratio: 0.5, on: true, nothing: null}
tasks:
  b:
    uses: acme/echo.say
    inputs: {text: "{{ vars.greeting }}", list: [1, two, {three: 3}]}
  a:
    uses: acme/echo.say
    needs: [b]
"""


def load(path: Path, cache: Path | str) -> dict[str, object]:
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def settled_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    time.sleep(SETTLE_S)
    return path


def test_an_unchanged_file_loads_from_the_cache_without_yaml_and_alike(tmp_path: Path) -> None:
    flow = settled_file(tmp_path / "flow.yaml", WORKFLOW)
    parsed = load(flow, tmp_path / "cache")
    assert parsed["yaml_imported"] is True
    assert parsed["order"] == ["b", "a"] and parsed["problems"] == []
    assert len(list((tmp_path / "cache" / "workflow-documents").glob("*.bin"))) == 1
    cached = load(flow, tmp_path / "cache")
    assert cached == {**parsed, "yaml_imported": False}
    assert cached["located"] == f"{flow}:5:11: tasks.b.uses"


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    flow = settled_file(tmp_path / "flow.yaml", WORKFLOW)
    load(flow, tmp_path / "cache")
    same_size = WORKFLOW.replace("hello", "howdy")
    flow.write_text(same_size, encoding="utf-8")  # same size; a new mtime and ctime
    changed = load(flow, tmp_path / "cache")
    assert changed["yaml_imported"] is True
    assert changed["data"]["vars"]["greeting"] == "howdy"  # type: ignore[index]


def test_a_file_with_problems_is_never_kept(tmp_path: Path) -> None:
    flow = settled_file(tmp_path / "flow.yaml", WORKFLOW + "name: twice\n")
    first = load(flow, tmp_path / "cache")
    again = load(flow, tmp_path / "cache")
    assert again == first
    assert again["yaml_imported"] is True
    assert any("duplicate key 'name'" in problem for problem in again["problems"])  # type: ignore[union-attr]
    assert not (tmp_path / "cache" / "workflow-documents").exists()


def test_a_file_not_yet_settled_is_not_recorded(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW, encoding="utf-8")
    later_ns = time.time_ns() + 60_000_000_000  # stamped a minute ahead: still within its tick when loaded
    os.utime(flow, ns=(later_ns, later_ns))
    assert load(flow, tmp_path / "cache")["yaml_imported"] is True
    assert not (tmp_path / "cache" / "workflow-documents").exists()


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    flow = settled_file(tmp_path / "flow.yaml", WORKFLOW)
    parsed = load(flow, tmp_path / "cache")
    (entry,) = (tmp_path / "cache" / "workflow-documents").glob("*.bin")
    entry.write_bytes(b"\x00garbage")
    assert load(flow, tmp_path / "cache") == parsed
    assert load(flow, tmp_path / "cache") == {**parsed, "yaml_imported": False}


def test_an_empty_cache_setting_keeps_nothing(tmp_path: Path) -> None:
    flow = settled_file(tmp_path / "flow.yaml", WORKFLOW)
    assert load(flow, "")["yaml_imported"] is True
    assert load(flow, "")["yaml_imported"] is True
    assert [path.name for path in tmp_path.iterdir()] == ["flow.yaml"]
