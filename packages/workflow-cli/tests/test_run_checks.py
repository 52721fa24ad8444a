"""`workflow run` refusing what cannot work, and recording what it was warned about.

Workflow outputs that cannot be resolved, a secrets file others can read, a
restricted backend that cannot run here, a ``--backend`` that cannot apply;
and where ``validate`` and ``plugin inspect --workflow`` say plugins would run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/workflow-test-docker.sock"}

ECHO = """
name: echoed
tasks:
  echo: {uses: tests/e2e.echo, inputs: {plain: hi}}
outputs:
  said: "{{ tasks.echo.outputs.plain }}"
  lost: "{{ tasks.echo.outputs.nope }}"
"""


def test_an_output_reading_a_missing_key_fails_the_run(run_workflow, tmp_path):
    done, record = run_workflow(ECHO)
    assert done.returncode == 1, done.stderr
    assert record["tasks"]["echo"]["status"] == "succeeded"
    assert record["status"] == "failed"
    assert record["outputs"] == {"said": "hi", "lost": None}
    assert record["error"]["kind"] == "template"
    message = record["error"]["message"]
    assert "workflow output 'lost'" in message and "has no key 'nope'" in message and "its keys: plain" in message
    assert f"{tmp_path / 'flow.yaml'}:7" in message  # where the output is written
    assert "error: template: workflow output 'lost'" in done.stderr  # the summary says why the run failed
    written = json.loads((tmp_path / ".workflow" / "runs" / f"{record['run_id']}.json").read_text())
    assert written["error"] == record["error"]


def test_an_output_reading_a_failed_task_is_null_without_a_run_error(run_workflow):
    flow = "name: f\ntasks:\n  broken: {uses: tests/e2e.fail}\noutputs:\n  result: '{{ tasks.broken.outputs.x }}'\n"
    done, record = run_workflow(flow)
    assert done.returncode == 1
    assert record["outputs"] == {"result": None}
    assert record["error"] is None  # the task's own failure says why
    assert record["tasks"]["broken"]["error"]["kind"] == "action"


def test_validate_reports_an_output_key_the_upstream_schema_does_not_declare(run_cli, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: v\ntasks:\n  two: {uses: tests/e2e.number, inputs: {value: 2}}\noutputs:\n"
        "  total: '{{ tasks.two.outputs.valeu }}'\n"
    )
    done = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert done.returncode == 2
    assert f"{flow}:5:" in done.stderr and "declares no output 'valeu'" in done.stderr
    assert "did you mean 'value'?" in done.stderr


def test_a_secrets_file_others_can_read_is_warned_about_and_recorded(run_workflow, run_cli, tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("API_TOKEN=tok-5f3a9c-very-secret\n")
    flow = "name: s\ntasks:\n  echo: {uses: tests/e2e.echo, inputs: {token: '{{ secrets.API_TOKEN }}'}}\n"
    secrets.chmod(0o644)
    done, record = run_workflow(flow, "--secrets-file", str(secrets))
    assert done.returncode == 0, done.stderr
    assert f"warning: {secrets}: the secrets file can be read by other users (mode 644)" in done.stderr
    assert f"chmod 600 {secrets}" in done.stderr
    assert record["warnings"] == [
        {
            "message": "the secrets file can be read by other users (mode 644)",
            "location": str(secrets),
            "hint": f"chmod 600 {secrets}",
        }
    ]
    checked = run_cli("validate", str(tmp_path / "flow.yaml"), "-p", str(PLUGINS), "--secrets-file", str(secrets))
    assert checked.returncode == 0 and "can be read by other users" in checked.stderr
    secrets.chmod(0o600)
    done, record = run_workflow(flow, "--secrets-file", str(secrets))
    assert done.returncode == 0, done.stderr
    assert "other users" not in done.stderr
    assert record["warnings"] == []


RESTRICTED = "name: r\nsecurity: restricted\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 1}}\n"


def no_bubblewrap(tmp_path: Path) -> dict[str, str]:
    """A PATH on which no bwrap can be found."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def test_the_sandbox_backend_without_bubblewrap_is_refused_before_anything_runs(run_workflow, tmp_path):
    done, document = run_workflow(RESTRICTED, "--backend", "sandbox", env=no_bubblewrap(tmp_path))
    assert done.returncode == 2, done.stderr
    assert document["error"]["kind"] == "runtime_unavailable"  # --json: the error document, no run record
    assert "tasks" not in document
    assert "error: the restricted backend 'sandbox' cannot run here: bubblewrap (bwrap) is not installed" in done.stderr
    assert "hint: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)" in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()
    assert "Traceback" not in done.stderr


def test_docker_without_a_daemon_is_refused_before_anything_runs(run_workflow, tmp_path):
    done, _ = run_workflow(RESTRICTED, "--backend", "docker", env=NO_DOCKER)
    assert done.returncode == 2, done.stderr
    assert "error: the restricted backend 'docker' cannot run here: no Docker daemon" in done.stderr
    assert "install Docker" in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_auto_names_every_backend_it_tried(run_workflow, tmp_path):
    done, _ = run_workflow(RESTRICTED, env={**NO_DOCKER, **no_bubblewrap(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "no restricted backend can run here (auto tried sandbox, docker)" in done.stderr
    assert "sandbox: bubblewrap (bwrap) is not installed" in done.stderr
    assert "docker: no Docker daemon" in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_a_backend_flag_on_a_trusted_workflow_is_warned_about(run_workflow):
    flow = "name: t\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 1}}\n"
    done, record = run_workflow(flow, "--backend", "sandbox")
    assert done.returncode == 0, done.stderr
    expected = "--backend sandbox does not apply: workflow 't' is trusted, so its plugins run as local processes"
    assert f"warning: {expected}" in done.stderr
    assert [w["message"] for w in record["warnings"]] == [expected]
    assert record["tasks"]["a"]["metrics"]["runtime"] == "process"


def test_a_configured_backend_that_cannot_run_here_is_refused_before_anything_runs(run_workflow, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text("restricted: {backend: sandbox}\n")
    done, document = run_workflow(RESTRICTED, env=no_bubblewrap(tmp_path))
    assert done.returncode == 2, done.stderr
    assert document["error"]["kind"] == "runtime_unavailable"
    assert "error: the restricted backend 'sandbox' cannot run here: bubblewrap (bwrap) is not installed" in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()


# --- Where validate and plugin inspect --workflow say plugins would run -----------------------------


def where(run_cli, tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[dict, dict, str, str]:
    """What validate and plugin inspect --workflow say of ``text``: their two ``runs_in`` views and two human lines."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(text, encoding="utf-8")
    views, lines = [], []
    for command in (("validate", str(flow)), ("plugin", "inspect", "tests/e2e", "--workflow", str(flow))):
        as_json = run_cli(*command, "-p", str(PLUGINS), "--json", env=env)
        human = run_cli(*command, "-p", str(PLUGINS), env=env)
        assert as_json.returncode == human.returncode == 0, as_json.stderr + human.stderr
        views.append(json.loads(as_json.stdout)["runs_in"])
        lines.append(human.stdout + human.stderr)
    return views[0], views[1], lines[0], lines[1]


def test_a_trusted_workflow_runs_as_local_processes_and_nothing_is_probed(run_cli, tmp_path):
    validated, inspected, said, shown = where(
        run_cli, tmp_path, RESTRICTED.replace("security: restricted\n", ""), env=no_bubblewrap(tmp_path)
    )
    expected = {"security": "trusted", "backend": None, "runtime": "process", "unavailable": None}
    assert validated == inspected == expected  # no bubblewrap here, and nothing asked for it
    assert f"{tmp_path / 'flow.yaml'}: valid (1 task, trusted mode); runs in: process (trusted mode)" in said
    assert "its plugins run in: process (trusted mode)" in shown


@pytest.mark.sandbox
def test_auto_says_the_sandbox_where_bubblewrap_works_and_runs_there(run_cli, run_workflow, tmp_path):
    validated, inspected, said, shown = where(run_cli, tmp_path, RESTRICTED, env=NO_DOCKER)
    done, record = run_workflow(RESTRICTED, env=NO_DOCKER)  # auto, as validate said: no Docker asked for

    expected = {"security": "restricted", "backend": "auto", "runtime": "sandbox", "unavailable": None}
    assert validated == inspected == expected
    assert "valid (1 task, restricted mode); runs in: sandbox (backend auto)" in said
    assert "its plugins run in: sandbox (backend auto)" in shown
    assert done.returncode == 0, done.stderr
    assert record["tasks"]["a"]["metrics"]["runtime"] == "sandbox"


def test_validate_and_inspect_warn_where_no_backend_can_run_and_say_why(run_cli, tmp_path):
    validated, inspected, said, shown = where(
        run_cli, tmp_path, RESTRICTED, env={**NO_DOCKER, **no_bubblewrap(tmp_path)}
    )

    assert validated == inspected
    assert (validated["security"], validated["backend"], validated["runtime"]) == ("restricted", "auto", None)
    unavailable = validated["unavailable"]
    assert unavailable["message"].startswith("no restricted backend can run here (auto tried sandbox, docker)")
    assert "sandbox: install bubblewrap" in unavailable["hint"] and "docker: install Docker" in unavailable["hint"]
    assert unavailable["location"].startswith(f"{tmp_path / 'flow.yaml'}:2:")  # at `security: restricted`
    for text in (said, shown):
        assert "in: nothing here (backend auto cannot run on this machine)" in text
        assert "warning: " in text and "sandbox: bubblewrap (bwrap) is not installed" in text


def test_a_configured_backend_is_the_one_said(run_cli, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text("restricted: {backend: docker}\n")

    validated, inspected, said, _ = where(run_cli, tmp_path, RESTRICTED, env=NO_DOCKER)

    assert validated == inspected
    assert (validated["backend"], validated["runtime"]) == ("docker", None)
    assert validated["unavailable"]["message"].startswith("the restricted backend 'docker' cannot run here")
    assert "runs in: nothing here (backend docker cannot run on this machine)" in said
