"""Lock files: what they record for each used plugin, their stable text, reading them back, and drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import WorkflowFileError
from workflow_plugin_runtime.execution.locking import (
    DriftKind,
    LockCheck,
    PluginDrift,
    check_lock,
    lock_path_for,
    lock_text,
    locked_plugins,
    read_lock,
    write_lock,
)
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.checks import WorkflowCheck, check_workflow_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plugins"
WORKFLOW = """\
name: locked
tasks:
  fetch:
    uses: acme/http.get
    inputs: {url: "http://127.0.0.1:1/"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workflow in a project folder, with the plugin it uses in ``plugins/``."""
    root = tmp_path / "project"
    (root / "plugins").mkdir(parents=True)
    shutil.copytree(FIXTURES / "acme-http", root / "plugins" / "http")
    (root / "release.yaml").write_text(WORKFLOW)
    return root


def _check(project: Path, *, paths: list[Path] | None = None, text: str = WORKFLOW) -> WorkflowCheck:
    (project / "release.yaml").write_text(text)
    check = check_workflow_file(project / "release.yaml", resolver=Resolver(paths or [project / "plugins"]))
    assert check.ok, check.problems
    return check


def _lock(project: Path) -> Path:
    path = lock_path_for(project / "release.yaml")
    write_lock(path, locked_plugins(_check(project), runtime=None, project_root=project))
    return path


def test_the_lock_sits_next_to_the_workflow_and_is_named_after_it() -> None:
    assert lock_path_for(Path("/w/release.yaml")) == Path("/w/release.lock.json")
    assert lock_path_for(Path("ci.yml")) == Path("ci.lock.json")


def test_the_lock_text_is_sorted_indented_versioned_and_ends_with_a_newline(project: Path) -> None:
    path = _lock(project)
    text = path.read_text()
    document = json.loads(text)

    assert text.endswith("}\n") and text.startswith('{\n  "format": 1,\n')
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    entry = document["plugins"]["acme/http"]
    assert set(entry) == {"version", "source", "content_hash", "files"}
    assert entry["version"] == "1.2.0"
    assert entry["source"] == "plugins/http"  # relative: the lock moves with the project
    assert sorted(entry["files"]) == ["main.py", "plugin.yaml"]
    assert entry["content_hash"].startswith("sha256:")


def test_writing_twice_gives_the_same_bytes(project: Path) -> None:
    first = _lock(project).read_bytes()
    assert _lock(project).read_bytes() == first


def test_a_plugin_outside_the_project_is_recorded_by_absolute_path(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shared-plugins"
    shutil.copytree(project / "plugins", outside)
    (entry,) = locked_plugins(_check(project, paths=[outside]), runtime=None, project_root=project).values()

    assert entry.source == str((outside / "http").resolve())


def test_a_plugin_installed_from_a_distribution_records_its_name_and_version(
    project: Path, installed_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_dist))
    text = "name: locked\ntasks:\n  say:\n    uses: acme/echo.echo\n"
    (entry,) = locked_plugins(_check(project, text=text), runtime=None, project_root=project).values()

    assert entry.distribution == ("acme-echo-plugin", "0.3.0")
    assert entry.to_record()["distribution"] == {"name": "acme-echo-plugin", "version": "0.3.0"}
    assert entry.source == str(installed_dist / "acme_echo_plugin")


def test_what_is_read_back_is_what_was_written(project: Path) -> None:
    check = _check(project)
    written = locked_plugins(check, runtime=None, project_root=project)
    path = lock_path_for(project / "release.yaml")
    write_lock(path, written)

    assert read_lock(path) == written
    assert lock_text(read_lock(path)) == path.read_text()


def test_no_lock_file_is_no_check(project: Path) -> None:
    assert check_lock(_check(project), runtime=None, project_root=project) is None


def test_an_unchanged_plugin_matches(project: Path) -> None:
    path = _lock(project)

    locked_hash = json.loads(path.read_text())["plugins"]["acme/http"]["content_hash"]

    assert check_lock(_check(project), runtime=None, project_root=project) == LockCheck(
        path, (), {"acme/http": locked_hash}
    )


def test_changed_added_and_removed_files_are_named(project: Path) -> None:
    _lock(project)
    plugin = project / "plugins" / "http"
    (plugin / "main.py").write_text((plugin / "main.py").read_text() + "# changed\n")
    (plugin / "extra.py").write_text("")
    (plugin / "sub").mkdir()
    (plugin / "sub" / "deep.py").write_text("")

    result = check_lock(_check(project), runtime=None, project_root=project)

    assert result is not None and not result.matched
    (drift,) = result.drift
    assert (drift.kind, drift.added, drift.removed, drift.changed) == (
        DriftKind.CHANGED,
        ("extra.py", "sub/deep.py"),
        (),
        ("main.py",),
    )
    assert drift.lines() == ["added: extra.py", "added: sub/deep.py", "changed: main.py"]
    assert result.plugins == {"acme/http": None}


def test_a_new_version_is_reported_with_the_manifest_change(project: Path) -> None:
    _lock(project)
    manifest = project / "plugins" / "http" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.2.0", "version: 1.3.0"))

    result = check_lock(_check(project), runtime=None, project_root=project)

    assert result is not None
    (drift,) = result.drift
    assert drift.version == ("1.2.0", "1.3.0")
    assert drift.lines() == ["version 1.2.0 -> 1.3.0", "changed: plugin.yaml"]


def test_the_same_code_at_another_path_is_no_drift(project: Path, tmp_path: Path) -> None:
    _lock(project)
    moved = tmp_path / "moved"
    shutil.copytree(project / "plugins", moved)

    result = check_lock(_check(project, paths=[moved]), runtime=None, project_root=project)

    assert result is not None and result.matched


def test_a_plugin_missing_from_the_lock_and_an_entry_no_longer_used_are_both_drift(project: Path) -> None:
    path = _lock(project)
    shutil.copytree(FIXTURES / "acme-text", project / "plugins" / "text")
    text = "name: locked\ntasks:\n  say:\n    uses: acme/text.render\n    inputs: {status: 200}\n"

    result = check_lock(_check(project, text=text), runtime=None, project_root=project)

    assert result == LockCheck(
        path,
        (PluginDrift("acme/text", DriftKind.MISSING), PluginDrift("acme/http", DriftKind.UNUSED)),
        {"acme/text": None},
    )
    assert [problem.message.splitlines()[1].strip() for problem in result.problems()] == [
        "used by the workflow but not in the lock",
        "in the lock but no longer used by the workflow",
    ]
    assert all(str(problem.location) == str(path) for problem in result.problems())
    assert all("`workflow lock " in (problem.hint or "") for problem in result.problems())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "expected JSON"),
        ("[]", 'expected an object with "format": 1 and "plugins"'),
        ('{"format": 99, "plugins": {}}', 'expected an object with "format": 1'),
        ('{"format": 1}', 'expected "plugins": an object of plugin entries by ref'),
        ('{"format": 1, "plugins": {"acme/http": []}}', "expected plugins.acme/http: an object"),
        ('{"format": 1, "plugins": {"acme/http": {"version": 1}}}', "version, source and content_hash as strings"),
        (
            '{"format": 1, "plugins": {"a/b": {"version": "1", "source": "s", "content_hash": "h", "files": []}}}',
            "expected plugins.a/b.files: an object of file entries",
        ),
    ],
)
def test_a_malformed_lock_is_one_message_with_the_file_and_the_fix(project: Path, content: str, expected: str) -> None:
    path = lock_path_for(project / "release.yaml")
    path.write_text(content)

    with pytest.raises(WorkflowFileError) as raised:
        check_lock(_check(project), runtime=None, project_root=project)

    assert expected in raised.value.problem.message
    assert str(raised.value.problem.location) == str(path)
    assert raised.value.problem.hint == f"write it again with `workflow lock {project / 'release.yaml'}`"
