"""`workflow validate`: every static problem listed at once, warnings shown, exit 0 or 2."""

from __future__ import annotations

import json
from pathlib import Path

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_workflow_passes(run_cli, tmp_path):
    flow = write(tmp_path, "name: ok\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 1}}\n")
    done = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert done.returncode == 0, done.stderr
    assert "valid (1 task, trusted mode)" in done.stdout


def test_every_problem_is_listed_at_once_with_its_place(run_cli, tmp_path):
    flow = write(
        tmp_path,
        """name: broken
tasks:
  a: {uses: tests/e2e.number, inputs: {value: "{{ vars.missing }}"}}
  b: {uses: tests/e2e.nothing}
  c:
    needs: [a]
    uses: tests/e2e.add
    inputs: {a: "{{ tasks.a.outputs.valeu }}", b: 1}
""",
    )
    done = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert done.returncode == 2
    err = done.stderr
    assert f"{flow}:3:" in err and "unknown var 'missing'" in err
    assert f"{flow}:4:" in err and "has no action 'nothing'" in err
    assert f"{flow}:8:" in err and "valeu" in err and "did you mean" in err
    assert "3 errors: nothing was run" in err
    assert "Traceback" not in err


def test_warnings_do_not_fail_validation(run_cli, tmp_path):
    flow = write(
        tmp_path,
        """name: broad
security: restricted
permissions:
  network: true
tasks:
  a: {uses: tests/e2e.number, inputs: {value: 1}}
""",
    )
    done = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr
    assert "network" in done.stderr


def test_a_missing_secret_fails_unless_skipped(run_cli, tmp_path):
    flow = write(tmp_path, "name: s\ntasks:\n  a: {uses: tests/e2e.echo, inputs: {token: '{{ secrets.TOKEN }}'}}\n")
    missing = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert missing.returncode == 2
    assert "unknown secret 'TOKEN'" in missing.stderr
    assert "WORKFLOW_SECRET_TOKEN" in missing.stderr
    skipped = run_cli("validate", str(flow), "-p", str(PLUGINS), "--skip-secrets")
    assert skipped.returncode == 0, skipped.stderr
    given = run_cli("validate", str(flow), "-p", str(PLUGINS), env={"WORKFLOW_SECRET_TOKEN": "long-enough-value"})
    assert given.returncode == 0, given.stderr


def test_a_missing_file_is_one_clear_error(run_cli, tmp_path):
    done = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_command_run_by_an_absolute_interpreter_is_valid_and_runs(run_cli, tmp_path):
    """`command: [/bin/sh, run.sh]`: the interpreter is used as written (docs/manifest.md); a missing one fails."""
    plugins = tmp_path / "plugins"
    for name, interpreter in (("sh", "/bin/sh"), ("nosh", "/nonexistent/sh")):
        folder = plugins / name
        folder.mkdir(parents=True)
        folder.joinpath("plugin.yaml").write_text(
            f"namespace: tests\nname: {name}\nversion: 0.1.0\nruntime:\n  command: [{interpreter}, run.sh]\n"
            "actions:\n  go: {}\n"
        )
        folder.joinpath("run.sh").write_text(
            'cat >/dev/null\necho \'{"ok": true, "outputs": {"script": "\'"$0"\'"}}\'\n'
        )
    flow = write(tmp_path, "name: interpreters\ntasks:\n  sh: {uses: tests/sh.go}\n  nosh: {uses: tests/nosh.go}\n")

    checked = run_cli("validate", str(flow), "-p", str(plugins))
    done = run_cli("run", str(flow), "--json", "-p", str(plugins))

    assert checked.returncode == 0, checked.stderr
    tasks = json.loads(done.stdout)["tasks"]
    assert tasks["sh"]["outputs"] == {"script": "run.sh"}  # relative arguments resolve in the plugin directory
    assert tasks["nosh"]["error"]["kind"] == "runtime_unavailable"
    assert "cannot start the plugin: No such file or directory (/nonexistent/sh)" in tasks["nosh"]["error"]["message"]
