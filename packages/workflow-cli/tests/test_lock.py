"""`workflow lock`, and `run`/`validate` refusing plugin code that is not the code the lock names.

Every test goes through the real CLI on a real project folder: the greeter
plugin under ``vendor/`` (found through the project's config), the workflow
under ``flows/``. Version requirements among shadowed copies are here too:
they decide which copy a lock names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
STAMP = FIXTURES / "images" / "stamp"


def _lock_of(workflow: Path) -> Path:
    return workflow.with_name(workflow.stem + ".lock.json")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def locked(run_cli, workflow_in_a_project: Path) -> Path:
    """The project's workflow with its lock written by ``workflow lock``."""
    done = run_cli("lock", str(workflow_in_a_project))
    assert done.returncode == 0, done.stderr
    return workflow_in_a_project


def _runs(workflow: Path) -> list[Path]:
    runs = workflow.parent / ".workflow" / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


def test_lock_writes_a_stable_sorted_lock_next_to_the_workflow(run_cli, workflow_in_a_project: Path) -> None:
    done = run_cli("lock", str(workflow_in_a_project))

    assert done.returncode == 0, done.stderr
    lock = _lock_of(workflow_in_a_project)
    assert lock.name == "hello.lock.json"
    assert done.stdout.startswith(f"wrote {lock} (1 plugin)\n")
    text = lock.read_text()
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert document["format"] == 1
    (entry,) = document["plugins"].values()
    assert list(document["plugins"]) == ["acme/greeter"]
    assert entry["version"] == "2.0.0"
    assert entry["source"] == "../vendor/greeter"  # relative to the workflow's folder: inside the project
    assert entry["content_hash"].startswith("sha256:")
    assert sorted(entry["files"]) == ["main.py", "plugin.yaml"]
    assert all(value.startswith(("file sha256:", "exec sha256:")) for value in entry["files"].values())

    again = run_cli("lock", str(workflow_in_a_project), "--json")
    assert again.returncode == 0, again.stderr
    assert lock.read_text() == text  # the same plugins, the same bytes
    assert json.loads(again.stdout) == {"lock": str(lock), "plugins": document["plugins"]}


def test_check_passes_then_names_each_changed_added_and_removed_file_and_writes_nothing(run_cli, locked: Path) -> None:
    ok = run_cli("lock", str(locked), "--check")
    assert (ok.returncode, ok.stdout) == (0, f"{_lock_of(locked)}: every plugin matches (1 plugin)\n")

    plugin = locked.parent.parent / "vendor" / "greeter"
    lock_before = _lock_of(locked).read_bytes()
    _edit(plugin / "main.py", "Hello", "Howdy")
    (plugin / "helper.py").write_text("")
    (plugin / "main.py~").write_text("an editor's backup is not the plugin")

    drift = run_cli("lock", str(locked), "--check")

    assert drift.returncode == 1, drift.stderr
    assert drift.stdout.splitlines() == [
        f"{_lock_of(locked)}: 1 plugin differs from the lock",
        "  acme/greeter:",
        "    added: helper.py",
        "    changed: main.py",
    ]
    assert _lock_of(locked).read_bytes() == lock_before
    as_json = run_cli("lock", str(locked), "--check", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {
        "lock": str(_lock_of(locked)),
        "matched": False,
        "drift": [
            {
                "ref": "acme/greeter",
                "kind": "changed",
                "version": None,
                "distribution": None,
                "files": {"added": ["helper.py"], "removed": [], "changed": ["main.py"]},
                "image": None,
            }
        ],
    }


def test_a_version_change_is_drift(run_cli, locked: Path) -> None:
    _edit(locked.parent.parent / "vendor" / "greeter" / "plugin.yaml", "version: 2.0.0", "version: 2.0.1")

    done = run_cli("lock", str(locked), "--check")

    assert done.returncode == 1
    assert "    version 2.0.0 -> 2.0.1\n    changed: plugin.yaml\n" in done.stdout


@pytest.mark.parametrize("command", ["run", "validate"])
def test_run_and_validate_refuse_a_drifted_plugin_before_anything_runs(run_cli, locked: Path, command: str) -> None:
    _edit(locked.parent.parent / "vendor" / "greeter" / "main.py", "Hello", "Howdy")

    done = run_cli(command, str(locked))

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {_lock_of(locked)}: plugin acme/greeter does not match the lock:\n"
        "  changed: main.py\n"
        f"  hint: review the change, then accept it with `workflow lock {locked}`; `workflow run --no-lock` runs"
        " anyway\n"
        "1 plugin differs from the lock: nothing was run\n"
    )
    assert _runs(locked) == []
    as_json = run_cli(command, str(locked), "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["kind"] == "lock"


def test_a_matching_lock_is_recorded_in_the_run_and_in_each_tasks_provenance(run_cli, locked: Path) -> None:
    done = run_cli("run", str(locked), "--json")

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["lock"] == {"path": str(_lock_of(locked)), "matched": True, "skipped": False}
    assert record["tasks"]["hello"]["provenance"]["lock_matched"] is True
    validated = run_cli("validate", str(locked))
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.rstrip().endswith(f"plugins match {_lock_of(locked)}")


def test_no_lock_runs_a_drifted_plugin_and_the_record_says_so(run_cli, locked: Path) -> None:
    _edit(locked.parent.parent / "vendor" / "greeter" / "main.py", "Hello", "Howdy")

    done = run_cli("run", str(locked), "--json", "--no-lock")

    assert done.returncode == 0, done.stderr
    assert f"warning: {_lock_of(locked)}: plugin acme/greeter does not match the lock:\n" in done.stderr
    record = json.loads(done.stdout)
    assert record["tasks"]["hello"]["outputs"]["greeting"].startswith("Howdy")
    assert record["lock"] == {"path": str(_lock_of(locked)), "matched": False, "skipped": True}
    assert record["tasks"]["hello"]["provenance"]["lock_matched"] is False
    written = json.loads(_runs(locked)[0].read_text())
    assert written["lock"] == record["lock"]


def test_a_workflow_without_a_lock_records_none(run_cli, workflow_in_a_project: Path) -> None:
    done = run_cli("run", str(workflow_in_a_project), "--json")

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["lock"] is None
    assert record["tasks"]["hello"]["provenance"]["lock_matched"] is None


def test_a_plugin_missing_from_the_lock_and_one_no_longer_used_are_drift(run_cli, locked: Path) -> None:
    project = locked.parent.parent
    shutil.copytree(FIXTURES / "plugins_b" / "rawecho", project / "vendor" / "rawecho")
    locked.write_text("name: hello\ntasks:\n  echo:\n    uses: acme/rawecho.echo\n")

    done = run_cli("lock", str(locked), "--check")

    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "  acme/rawecho:",
        "    used by the workflow but not in the lock",
        "  acme/greeter:",
        "    in the lock but no longer used by the workflow",
    ]
    refused = run_cli("run", str(locked))
    assert refused.returncode == 2
    assert "2 plugins differ from the lock: nothing was run" in refused.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{", "expected JSON"), ('{"format": 7, "plugins": {}}', 'expected an object with "format": 1')],
)
def test_a_malformed_lock_is_one_clear_message_and_exit_2(
    run_cli, workflow_in_a_project: Path, content: str, expected: str
) -> None:
    lock = _lock_of(workflow_in_a_project)
    lock.write_text(content)

    for args in (("run",), ("validate",), ("lock", "--check")):
        done = run_cli(args[0], str(workflow_in_a_project), *args[1:])
        assert done.returncode == 2, args
        assert done.stderr.startswith(f"error: {lock}: the lock file is malformed: {expected}"), done.stderr
        assert f"hint: write it again with `workflow lock {workflow_in_a_project}`" in done.stderr
        assert "Traceback" not in done.stderr
    assert run_cli("run", str(workflow_in_a_project), "--no-lock").returncode == 0  # run anyway, as asked


def test_check_without_a_lock_says_how_to_write_one(run_cli, workflow_in_a_project: Path) -> None:
    done = run_cli("lock", str(workflow_in_a_project), "--check")

    assert done.returncode == 2
    assert f"there is no lock to check\n  hint: write it with `workflow lock {workflow_in_a_project}`" in done.stderr


def test_a_workflow_that_fails_its_checks_is_not_locked(run_cli, tmp_path: Path) -> None:
    flow = tmp_path / "bad.yaml"
    flow.write_text("name: bad\ntasks:\n  x: {uses: acme/nowhere.go}\n")

    done = run_cli("lock", str(flow), "-p", str(tmp_path))

    assert done.returncode == 2
    assert not _lock_of(flow).exists()


# --- Version requirements among shadowed copies ------------------------------------------------------


@pytest.fixture
def shadowed(tmp_path: Path) -> tuple[Path, Path]:
    """greeter 2.0.0 (plugins_a) shadows greeter 1.0.0 (plugins_b): both search paths, in that order."""
    return FIXTURES / "plugins_a", FIXTURES / "plugins_b"


def _greet_flow(tmp_path: Path, requirement: str) -> Path:
    flow = tmp_path / f"greet-{uuid.uuid4().hex[:8]}.yaml"
    flow.write_text(
        "name: greet\ntasks:\n  hello:\n    uses: acme/greeter.greet\n    inputs: {name: world}\n"
        f'requires:\n  acme/greeter: "{requirement}"\n'
    )
    return flow


def test_a_requirement_selects_a_shadowed_copy_in_run_and_in_the_lock(run_cli, tmp_path: Path, shadowed) -> None:
    first, second = shadowed
    flow = _greet_flow(tmp_path, "<2")
    paths = ("-p", str(first), "-p", str(second))

    done = run_cli("run", str(flow), "--json", *paths)
    locked = run_cli("lock", str(flow), "--json", *paths)

    assert done.returncode == 0, done.stderr
    provenance = json.loads(done.stdout)["tasks"]["hello"]["provenance"]
    assert (provenance["version"], provenance["source"]) == ("1.0.0", str(second / "greeter-old"))
    assert locked.returncode == 0, locked.stderr
    assert json.loads(locked.stdout)["plugins"]["acme/greeter"]["version"] == "1.0.0"


@pytest.mark.parametrize("command", ["run", "validate"])
def test_no_copy_meeting_the_requirement_lists_the_versions_found(run_cli, tmp_path: Path, shadowed, command) -> None:
    first, second = shadowed
    flow = _greet_flow(tmp_path, ">=3")

    done = run_cli(command, str(flow), "-p", str(first), "-p", str(second))

    assert done.returncode == 2
    assert ">=3" in done.stderr
    assert "2.0.0" in done.stderr and "1.0.0" in done.stderr
    assert str(first / "greeter") in done.stderr and str(second / "greeter-old") in done.stderr
    assert "Traceback" not in done.stderr


# --- Images: a restricted workflow run on Docker locks the image id ------------------------------------


@pytest.fixture
def stamped(tmp_path: Path):
    """The stamp plugin with an image tag of its own, a restricted workflow using it, Docker as the backend."""
    plugins = tmp_path / "project" / "plugins"
    shutil.copytree(STAMP, plugins / "stamp", ignore=shutil.ignore_patterns("__pycache__"))
    image = f"workflow-plugins-test/lock-stamp:{uuid.uuid4().hex[:12]}"
    _edit(plugins / "stamp" / "plugin.yaml", "runtime:\n", f"runtime:\n  image: {image}\n")
    project = plugins.parent
    (project / ".workflow").mkdir()
    (project / ".workflow" / "config.yaml").write_text("plugins: {paths: [plugins]}\nrestricted: {backend: docker}\n")
    flow = project / "stamped.yaml"
    flow.write_text("name: stamped\nsecurity: restricted\ntasks:\n  which: {uses: tests/stamp.which}\n")
    yield flow, plugins / "stamp", image
    subprocess.run(["docker", "image", "rm", "--force", image], capture_output=True, check=False)


def _image_id(tag: str) -> str:
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True, check=True
    )
    return inspected.stdout.strip()


@pytest.mark.docker
def test_a_lock_names_the_image_and_a_different_image_is_drift(run_cli, stamped, tmp_path: Path) -> None:
    flow, plugin, image = stamped
    unbuilt = run_cli("lock", str(flow))
    assert unbuilt.returncode == 2
    assert f"image {image} is not in the local Docker engine: it cannot be locked" in unbuilt.stderr
    built = run_cli("plugin", "build", str(plugin), timeout=300)
    assert built.returncode == 0, built.stderr

    done = run_cli("lock", str(flow))

    assert done.returncode == 0, done.stderr
    entry = json.loads(_lock_of(flow).read_text())["plugins"]["tests/stamp"]
    first_id = _image_id(image)
    assert entry["image"] == {"tag": image, "id": first_id, "built_from": entry["content_hash"]}
    assert run_cli("lock", str(flow), "--check").returncode == 0

    # Same plugin files, another image under the tag (a layer added by hand, the built-from label inherited).
    context = tmp_path / "retag"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {image}\nLABEL extra={uuid.uuid4().hex}\n")
    subprocess.run(["docker", "build", "-q", "-t", image, str(context)], capture_output=True, check=True)
    second_id = _image_id(image)
    assert second_id != first_id

    drift = run_cli("lock", str(flow), "--check")

    assert drift.returncode == 1
    assert drift.stdout.splitlines()[1:] == ["  tests/stamp:", f"    image {first_id} -> {second_id}"]
    refused = run_cli("run", str(flow))
    assert refused.returncode == 2
    assert f"image {first_id} -> {second_id}" in refused.stderr


def test_a_plugin_edited_after_the_check_is_not_marked_as_matching_in_its_task(run_cli, locked: Path) -> None:
    """The check passed before anything ran; the greeter's code then changed before its task ran."""
    project = locked.parent.parent
    shutil.copytree(FIXTURES / "plugins_lock" / "tamper", project / "vendor" / "tamper")
    main = project / "vendor" / "greeter" / "main.py"
    locked.write_text(
        "name: hello\ntasks:\n"
        f"  tamper:\n    uses: tests/tamper.append\n    inputs: {{path: {json.dumps(str(main))}}}\n"
        "  hello:\n    needs: [tamper]\n    uses: acme/greeter.greet\n    inputs: {name: world}\n"
    )
    assert run_cli("lock", str(locked)).returncode == 0

    done = run_cli("run", str(locked), "--json")

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["lock"]["matched"] is True
    assert record["tasks"]["tamper"]["provenance"]["lock_matched"] is True
    assert record["tasks"]["hello"]["provenance"]["lock_matched"] is False
    assert run_cli("lock", str(locked), "--check").stdout.splitlines()[1:] == [
        "  acme/greeter:",
        "    changed: main.py",
    ]
