"""``workflow plugin inspect``: the report, its JSON, and comparing a workflow's grants with the plugin's needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIRST = FIXTURES / "plugins_a"
SECOND = FIXTURES / "plugins_b"
GREETER = FIRST / "greeter"

FITTING_WORKFLOW = """\
name: fits
security: restricted
permissions:
  network: [acme/greeter]
  mounts:
    - {source: ./data, target: /data, access: read}
  env: [GREETER_LANG]
tasks:
  hello:
    uses: acme/greeter.greet
    inputs: {name: world}
"""

BROAD_WORKFLOW = """\
name: broad
security: restricted
permissions:
  network: true
  mounts:
    - {source: /, target: /host, access: read}
    - {source: ., target: /work, access: read-write}
    - {source: /var/run/docker.sock, target: /var/run/docker.sock}
  env: ['*']
tasks:
  hello:
    uses: acme/greeter.greet
    inputs: {name: world}
  echo:
    uses: acme/rawecho.echo
"""


def python_plugin(folder: Path, manifest_rest: str) -> Path:
    """A plugin named after ``folder`` with an empty main.py; ``manifest_rest`` follows its runtime block."""
    folder.mkdir()
    (folder / "main.py").write_text("")
    (folder / "plugin.yaml").write_text(
        f"namespace: acme\nname: {folder.name}\nversion: 1.0.0\nruntime: {{entrypoint: main.py}}\n{manifest_rest}"
    )
    return folder


def inspect_json(run_cli, *args: str, returncode: int = 0) -> dict:
    done = run_cli("plugin", "inspect", *args, "--json")
    assert done.returncode == returncode, done.stderr
    document = json.loads(done.stdout)
    assert isinstance(document, dict)
    return document


def test_json_has_actions_with_schemas_and_timeouts_capabilities_and_recommended_permissions(run_cli):
    report = inspect_json(run_cli, "acme/greeter", "-p", str(FIRST))

    assert report["ref"] == "acme/greeter"
    assert report["version"] == "2.0.0"
    assert report["path"] == str(GREETER)
    assert report["source"] == "--plugins-path"
    greet, ping = report["actions"]["greet"], report["actions"]["ping"]
    assert greet["timeout"] == 5
    assert ping["timeout"] == 20
    assert greet["inputs"]["required"] == ["name"]
    assert greet["inputs"]["properties"]["token"] == {"type": "string", "secret": True}
    assert greet["outputs"]["properties"] == {"greeting": {"type": "string"}}
    assert greet["secret_inputs"] == ["token"]
    assert greet["examples"] == 1
    assert ping["inputs"] is None and ping["outputs"] is None
    assert report["capabilities"] == {
        "network": True,
        "filesystem": [{"path": "/data", "access": "read"}],
        "env": ["GREETER_LANG"],
    }
    assert report["recommended_permissions"] == {
        "network": ["acme/greeter"],
        "mounts": [{"source": "./data", "target": "/data", "access": "read"}],
        "env": ["GREETER_LANG"],
    }
    assert report["warnings"] == []
    assert report["workflow"] is None


def test_the_recommended_block_is_yaml_that_fits_the_plugin_when_pasted(run_cli, tmp_path):
    report = inspect_json(run_cli, "acme/greeter", "-p", str(FIRST))
    pasted = "name: pasted\nsecurity: restricted\n" + report["recommended_permissions_yaml"] + "\n"
    pasted += "tasks:\n  hello:\n    uses: acme/greeter.greet\n    inputs: {name: world}\n"
    (tmp_path / "pasted.yaml").write_text(pasted)

    checked = inspect_json(run_cli, "acme/greeter", "-p", str(FIRST), "--workflow", str(tmp_path / "pasted.yaml"))

    assert checked["warnings"] == []


def test_a_plugin_directory_path_works_as_well_as_a_ref(run_cli):
    report = inspect_json(run_cli, str(GREETER))

    assert report["ref"] == "acme/greeter"
    assert report["source"] == "given path"


def test_table_output_is_readable(run_cli):
    done = run_cli("plugin", "inspect", str(GREETER))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "acme/greeter 2.0.0"
    assert any(line.split()[:4] == ["token", "string", "no", "secret"] for line in lines)
    assert any(line.split()[:4] == ["name", "string", "yes", "Who"] for line in lines)
    assert "  permissions:" in lines
    assert "    network: [acme/greeter]" in lines
    assert done.stderr == ""


@pytest.mark.parametrize(("start_line", "start", "shown"), [("", "cold", False), ("  start: fork\n", "fork", True)])
def test_the_start_setting_is_shown_in_both_views(run_cli, tmp_path, start_line, start, shown):
    """``runtime.start``: always in ``--json`` (its default applied), on the text's runtime line when it is a fork."""
    plugin = tmp_path / f"starter-{start}"
    plugin.mkdir()
    (plugin / "main.py").write_text("")
    (plugin / "plugin.yaml").write_text(
        f"namespace: acme\nname: {plugin.name}\nversion: 1.0.0\n"
        f"runtime:\n  entrypoint: main.py\n{start_line}actions: {{ping: {{}}}}\n"
    )

    report = inspect_json(run_cli, str(plugin))
    done = run_cli("plugin", "inspect", str(plugin))

    assert report["runtime"]["start"] == start
    assert done.returncode == 0, done.stderr
    [runtime_line] = [line for line in done.stdout.splitlines() if line.startswith("runtime  ")]
    assert runtime_line.endswith(" · fork start") is shown, runtime_line


def test_a_workflow_whose_grants_fit_has_no_findings(run_cli, tmp_path):
    (tmp_path / "fits.yaml").write_text(FITTING_WORKFLOW)

    done = run_cli("plugin", "inspect", "acme/greeter", "-p", str(FIRST), "--workflow", "fits.yaml")

    assert done.returncode == 0, done.stderr
    assert "Grants of fits.yaml" in done.stdout
    assert "no problems: the grants fit what this plugin needs" in done.stdout


def test_broad_and_dangerous_grants_are_flagged_and_fail_the_check(run_cli, tmp_path):
    (tmp_path / "broad.yaml").write_text(BROAD_WORKFLOW)

    done = run_cli(
        "plugin", "inspect", "acme/greeter", "-p", str(FIRST), "-p", str(SECOND), "-w", "broad.yaml", "--json"
    )

    assert done.returncode == 1
    warnings = json.loads(done.stdout)["warnings"]
    by_message = {warning["message"]: warning for warning in warnings}
    docker_socket = by_message["mount /var/run/docker.sock exposes the Docker socket, which gives root on the host"]
    assert docker_socket["severity"] == "error"
    assert docker_socket["location"] == f"{tmp_path / 'broad.yaml'}:8:16: permissions.mounts[2].source"
    assert by_message["mount / exposes the whole host filesystem"]["severity"] == "warning"
    assert any("is read-write and holds this workflow's own folder" in message for message in by_message)
    assert "network: true grants network access to every plugin" in by_message
    assert any(message.startswith("env: '*' passes every configured variable") for message in by_message)
    missing = [w for w in warnings if "needs /data (read), but no mount grants it" in w["message"]]
    assert missing and missing[0]["severity"] == "error"
    assert "source: ./data, target: /data" in missing[0]["hint"]
    unneeded = [w["message"] for w in warnings if "is not needed by any plugin this workflow uses" in w["message"]]
    assert len(unneeded) == 3
    assert "warning: " in done.stderr and "error: " in done.stderr


def test_grants_no_plugin_of_the_workflow_needs_are_flagged(run_cli, tmp_path):
    (tmp_path / "extra.yaml").write_text(
        FITTING_WORKFLOW.replace("network: [acme/greeter]", "network: [acme/greeter, acme/other]").replace(
            "env: [GREETER_LANG]", "env: [GREETER_LANG, AWS_SECRET_ACCESS_KEY]"
        )
    )

    report = inspect_json(run_cli, "acme/greeter", "-p", str(FIRST), "-w", str(tmp_path / "extra.yaml"))

    messages = [warning["message"] for warning in report["warnings"]]
    assert messages == [
        "network is granted to acme/other, which no task uses",
        "env AWS_SECRET_ACCESS_KEY is granted but no plugin this workflow uses asks for it",
    ]


def test_a_trusted_workflow_is_told_how_to_contain_the_plugin(run_cli, tmp_path):
    (tmp_path / "trusted.yaml").write_text("name: t\ntasks:\n  hello:\n    uses: acme/greeter.greet\n")

    report = inspect_json(run_cli, str(GREETER), "-w", str(tmp_path / "trusted.yaml"))

    [warning] = report["warnings"]
    assert warning["message"] == (
        "trusted.yaml runs trusted: acme/greeter runs as a local process with all of the operator's rights"
    )
    assert "set security: restricted and grant:" in warning["hint"]
    assert "network: [acme/greeter]" in warning["hint"]


def test_a_workflow_that_does_not_use_the_plugin_is_said_so(run_cli, tmp_path):
    (tmp_path / "other.yaml").write_text(FITTING_WORKFLOW.replace("acme/greeter.greet", "acme/rawecho.echo"))

    report = inspect_json(
        run_cli, "acme/greeter", "-p", str(FIRST), "-p", str(SECOND), "-w", str(tmp_path / "other.yaml")
    )

    messages = [warning["message"] for warning in report["warnings"]]
    assert messages == ["no task of other.yaml uses acme/greeter; its grants are compared as if one did"]


def test_an_invalid_workflow_file_lists_its_problems_and_exits_2(run_cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\ntasks:\n  a:\n    uses: acme/greeter.greet\n    needs: [nope]\n")

    done = run_cli("plugin", "inspect", str(GREETER), "--workflow", "bad.yaml")

    assert done.returncode == 2
    assert "bad.yaml:5" in done.stderr
    assert "nope" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_plugin_asking_for_a_sensitive_host_path_is_warned_about(run_cli, tmp_path):
    python_plugin(
        tmp_path / "snoop", "capabilities:\n  filesystem:\n    - {path: /etc, access: read}\nactions: {go: {}}\n"
    )

    done = run_cli("plugin", "inspect", "./snoop", "--json")

    assert done.returncode == 0
    [warning] = json.loads(done.stdout)["warnings"]
    assert warning["severity"] == "warning"
    assert "asks for /etc (read)" in warning["message"]
    assert "asks for /etc (read)" in done.stderr


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("acme/nope", "plugin acme/nope not found"),
        ("Acme/Greeter", "has uppercase letters"),
        ("acme", "or give the plugin's directory"),
        ("./missing-dir", "missing-dir"),
    ],
)
def test_a_bad_target_is_one_message_and_exit_2(run_cli, target, expected):
    done = run_cli("plugin", "inspect", target, "-p", str(FIRST))

    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_not_found_says_where_it_looked(run_cli):
    done = run_cli("plugin", "inspect", "acme/greeterr", "-p", str(FIRST))

    assert "did you mean acme/greeter?" in done.stderr
    assert f"{FIRST} (--plugins-path)" in done.stderr


def test_help_has_examples(run_cli):
    done = run_cli("plugin", "inspect", "--help")

    assert done.returncode == 0
    assert "Examples:" in done.stdout
    assert "--workflow FILE" in done.stdout


def test_with_workflow_the_plugin_is_found_as_runs_of_that_file_find_it(run_cli, workflow_in_a_project):
    config = workflow_in_a_project.parents[1] / ".workflow" / "config.yaml"
    assert run_cli("validate", str(workflow_in_a_project)).returncode == 0

    report = inspect_json(run_cli, "acme/greeter", "--workflow", str(workflow_in_a_project))

    assert report["path"] == str(workflow_in_a_project.parents[1] / "vendor" / "greeter")
    assert report["source"] == f"{config}:1"
    assert report["workflow"] == str(workflow_in_a_project)


LONG_DESCRIPTION = "How many times to try again before giving up on the remote server and reporting it"


def test_a_piped_report_is_not_folded_and_says_defaults_are_the_plugins(run_cli, tmp_path):
    plugin = python_plugin(
        tmp_path / "deflt",
        "actions:\n  go:\n    inputs:\n      type: object\n      properties:\n"
        f"        retries: {{type: integer, default: 3, description: {LONG_DESCRIPTION}}}\n",
    )

    done = run_cli("plugin", "inspect", str(plugin), unset=("COLUMNS", "NO_COLOR"))

    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["retries"])
    assert row.split() == ["retries", "integer", "no", "3", *LONG_DESCRIPTION.split()]
    assert "defaults are applied by the plugin, not by the engine" in done.stdout


TWO_KEY_TYPOS = """\
namespace: acme
nmae: typos
version: 1.0.0
runtime:
  entrypont: main.py
actions: {go: {}}
"""


def plugin_with_two_key_typos(tmp_path: Path) -> Path:
    folder = tmp_path / "typos"
    folder.mkdir()
    (folder / "main.py").write_text("")
    (folder / "plugin.yaml").write_text(TWO_KEY_TYPOS)
    return folder


def test_every_key_typo_of_a_manifest_is_reported_at_its_own_line(run_cli, tmp_path):
    manifest = plugin_with_two_key_typos(tmp_path) / "plugin.yaml"

    done = run_cli("plugin", "inspect", "./typos")

    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {manifest}:2:1: nmae: unknown key 'nmae'",
        f"error: {manifest}:5:3: runtime.entrypont: unknown key 'entrypont'",
    ], done.stderr
    assert "hint: did you mean 'name'? (a required key, missing from this mapping)" in done.stderr
    assert "hint: did you mean 'entrypoint'?" in done.stderr
    assert "missing required key" not in done.stderr
    assert "Traceback" not in done.stderr


def test_json_carries_every_problem_of_a_broken_manifest(run_cli, tmp_path):
    manifest = plugin_with_two_key_typos(tmp_path) / "plugin.yaml"

    error = inspect_json(run_cli, "./typos", returncode=2)["error"]

    assert error["kind"] == "manifest"
    assert [(p["location"], p["hint"]) for p in error["problems"]] == [
        (f"{manifest}:2:1: nmae", "did you mean 'name'? (a required key, missing from this mapping)"),
        (f"{manifest}:5:3: runtime.entrypont", "did you mean 'entrypoint'?"),
    ]


def test_validate_reports_every_problem_of_a_broken_plugin_a_task_uses(run_cli, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    folder = plugin_with_two_key_typos(plugins)
    text = (folder / "plugin.yaml").read_text().replace("nmae: typos", "name: typos")
    (folder / "plugin.yaml").write_text(text.replace("version: 1.0.0", "verison: 1.0.0"))
    (tmp_path / "flow.yaml").write_text("name: uses-it\ntasks:\n  a: {uses: acme/typos.go}\n")

    done = run_cli("validate", "flow.yaml", "-p", str(plugins))

    assert done.returncode == 2, done.stderr
    manifest = folder / "plugin.yaml"
    assert f"error: {manifest}:3:1: verison: unknown key 'verison'" in done.stderr
    assert f"error: {manifest}:5:3: runtime.entrypont: unknown key 'entrypont'" in done.stderr
    assert "2 errors: nothing was run" in done.stderr
