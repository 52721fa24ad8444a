"""`workflow validate`: every static problem listed at once, warnings shown, exit 0 or 2."""

from __future__ import annotations

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
