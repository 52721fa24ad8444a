"""``workflow plugin list``: the table, the JSON document, shadowed copies, broken manifests, nothing found."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIRST = FIXTURES / "plugins_a"
SECOND = FIXTURES / "plugins_b"


def test_json_lists_each_plugin_once_with_its_shadowed_copies(run_cli):
    done = run_cli("plugin", "list", "--plugins-path", str(FIRST), "--plugins-path", str(SECOND), "--json")

    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [entry["ref"] for entry in entries] == ["acme/greeter", "acme/rawecho"]
    greeter = entries[0]
    assert greeter["version"] == "2.0.0"
    assert greeter["path"] == str(FIRST / "greeter")
    assert greeter["actions"] == ["greet", "ping"]
    assert greeter["shadowed"] == [str(SECOND / "greeter-old")]
    assert greeter["shadowed_copies"] == [
        {"path": str(SECOND / "greeter-old"), "version": "1.0.0", "source": "--plugins-path"}
    ]
    assert entries[1]["shadowed"] == []


def test_json_keeps_stdout_to_one_document_and_reports_broken_manifests_on_stderr(run_cli):
    done = run_cli("plugin", "list", "-p", str(SECOND), "--json")

    assert done.returncode == 0
    refs = [entry["ref"] for entry in json.loads(done.stdout)]
    assert refs == ["acme/greeter", "acme/rawecho"]
    assert "broken/plugin.yaml:5:3" in done.stderr
    assert "unknown key 'entrypont'" in done.stderr
    assert "did you mean 'entrypoint'?" in done.stderr
    assert "skipped 1 broken plugin" in done.stderr


def test_search_order_decides_which_copy_wins(run_cli):
    done = run_cli("plugin", "list", "-p", str(SECOND), "-p", str(FIRST), "--json")

    greeter = next(entry for entry in json.loads(done.stdout) if entry["ref"] == "acme/greeter")
    assert greeter["version"] == "1.0.0"
    assert greeter["shadowed"] == [str(FIRST / "greeter")]


def test_table_shows_ref_version_actions_source_and_marks_shadowed_copies(run_cli):
    done = run_cli("plugin", "list", "-p", str(FIRST), "-p", str(SECOND))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines[0].split()
    assert header == ["ref", "version", "actions", "path", "from"]
    greeter_row = next(i for i, line in enumerate(lines) if line.startswith("acme/greeter"))
    assert lines[greeter_row].split()[:4] == ["acme/greeter", "2.0.0", "greet,", "ping"]
    assert lines[greeter_row].split()[4:] == [str(FIRST / "greeter"), "--plugins-path"]
    shadowed_row = lines[greeter_row + 1]
    assert shadowed_row.split() == ["shadowed", "1.0.0", str(SECOND / "greeter-old"), "--plugins-path"]
    assert "2 plugins; 1 shadows other copies" in done.stdout
    assert "Traceback" not in done.stderr


def test_paths_below_the_working_directory_are_shown_relative(run_cli, tmp_path):
    shutil.copytree(FIRST / "greeter", tmp_path / "plugins" / "greeter")

    done = run_cli("plugin", "list")

    row = next(line for line in done.stdout.splitlines() if line.startswith("acme/greeter"))
    assert row.split()[-2:] == ["plugins/greeter", "default"]


def test_the_environment_variable_adds_search_paths(run_cli):
    done = run_cli(
        "plugin", "list", "--json", env={"WORKFLOW_PLUGINS_PATH": os.pathsep.join([str(FIRST), str(SECOND)])}
    )

    entries = json.loads(done.stdout)
    assert [entry["ref"] for entry in entries] == ["acme/greeter", "acme/rawecho"]
    assert entries[0]["source"] == "WORKFLOW_PLUGINS_PATH"


def test_nothing_found_says_where_it_looked_and_where_each_place_came_from(run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()

    done = run_cli("plugin", "list", "-p", str(empty))

    assert done.returncode == 0
    assert done.stdout == ""
    assert "no plugins found; looked in:" in done.stderr
    assert f"{empty} (--plugins-path)" in done.stderr
    assert f"{tmp_path / '.workflow' / 'plugins'} (default, missing)" in done.stderr
    assert f"{tmp_path / 'plugins'} (default, missing)" in done.stderr
    assert f"{tmp_path / 'xdg-data' / 'workflow' / 'plugins'} (default, missing)" in done.stderr


def test_nothing_found_with_json_is_an_empty_list(run_cli, tmp_path):
    done = run_cli("plugin", "list", "--json", "-p", str(tmp_path / "missing"))

    assert done.returncode == 0
    assert json.loads(done.stdout) == []
    assert f"{tmp_path / 'missing'} (--plugins-path, missing)" in done.stderr


def test_project_config_paths_are_searched_with_their_origin(run_cli, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text(f"plugins:\n  paths:\n    - {FIRST}\n")

    done = run_cli("plugin", "list", "--json")

    entries = json.loads(done.stdout)
    assert [entry["ref"] for entry in entries] == ["acme/greeter"]
    assert entries[0]["source"] == f"{tmp_path / '.workflow' / 'config.yaml'}:3"


def test_a_broken_config_is_one_message_and_exit_2(run_cli, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text("plugins:\n  pathz: []\n")

    done = run_cli("plugin", "list")

    assert done.returncode == 2
    assert "config.yaml:2:3" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_has_examples(run_cli):
    done = run_cli("plugin", "list", "--help")

    assert done.returncode == 0
    assert "Examples:" in done.stdout
    assert "--plugins-path DIR" in done.stdout
    assert "--json" in done.stdout


def test_with_workflow_it_lists_what_runs_of_that_file_find(run_cli, workflow_in_a_project):
    config = workflow_in_a_project.parents[1] / ".workflow" / "config.yaml"
    assert run_cli("validate", str(workflow_in_a_project)).returncode == 0

    done = run_cli("plugin", "list", "--workflow", str(workflow_in_a_project), "--json")

    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)
    assert entry["ref"] == "acme/greeter"
    assert entry["source"] == f"{config}:1"


def test_nothing_found_says_where_it_looked_and_how_a_workflow_looks(run_cli, workflow_in_a_project, tmp_path):
    done = run_cli("plugin", "list")

    assert done.returncode == 0
    assert done.stdout == ""
    assert f"{tmp_path / 'plugins'} (default, missing)" in done.stderr
    assert "workflow plugin list --workflow FILE lists what it finds" in done.stderr


def test_a_piped_table_keeps_long_paths_whole(run_cli, tmp_path):
    deep = tmp_path / ("a-folder-name-long-enough-that-the-path-overflows-eighty-columns-" * 2) / "greeter"
    shutil.copytree(FIRST / "greeter", deep)

    # FORCE_COLOR (often set in CI) must not make a pipe a terminal: no folding, no ANSI codes
    done = run_cli("plugin", "list", "-p", str(deep.parent), env={"FORCE_COLOR": "1"}, unset=("COLUMNS", "NO_COLOR"))

    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("acme/greeter"))
    assert str(deep.relative_to(tmp_path)) in row.split()  # shown below the working directory, whole
