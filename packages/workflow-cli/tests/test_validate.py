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


LITERAL = "hunter2-written-into-the-file"
SECRET_LITERALS = f"""name: literal
vars: {{tok: from-vars-value}}
tasks:
  inline:
    uses: tests/e2e.echo
    inputs:
      token: {LITERAL}
  from_vars:
    uses: tests/e2e.echo
    inputs: {{token: "{{{{ vars.tok }}}}"}}
  proper:
    uses: tests/e2e.echo
    inputs: {{token: "{{{{ secrets.API_TOKEN }}}}"}}
"""


def test_a_value_written_for_a_secret_input_is_warned_about_without_printing_it(run_cli, tmp_path):
    flow = write(tmp_path, SECRET_LITERALS)
    env = {"WORKFLOW_SECRET_API_TOKEN": "a-real-secret-value"}

    checked = run_cli("validate", str(flow), "-p", str(PLUGINS), env=env)
    ran = run_cli("run", str(flow), "-p", str(PLUGINS), env=env)

    for done in (checked, ran):
        assert done.returncode == 0, done.stderr
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
        assert warnings == [
            f"warning: {flow}:7:14: tasks.inline.inputs.token: input 'token' of tests/e2e.echo is secret, but its"
            " value is written in the workflow; it is not masked in logs, errors or the run record",
            f"warning: {flow}:10:21: tasks.from_vars.inputs.token: input 'token' of tests/e2e.echo is secret, but"
            " its value comes from vars, which are not secret; it is not masked in logs, errors or the run record",
        ]
        assert (
            "  hint: keep the value out of the file, in a secret: WORKFLOW_SECRET_TOKEN=... in the environment or"
            ' TOKEN=... in a --secrets-file, and write token: "{{ secrets.TOKEN }}"'
        ) in done.stderr.splitlines()
    assert LITERAL not in checked.stderr + checked.stdout


STAGED_MISTAKES = """name: staged
descripton: a typo in a top-level key
tasks:
  first:
    uses: tests/e2e.number
    timeout: soon
    colour: red
  second:
    uses: tests/e2e.number
    needs: [frist]
    inputs:
      value: "{{ tasks.first.outputs.value "
  third:
    uses: tests/e2e.nothing
    needs: [fourth]
  fourth:
    uses: tests/e2e.number
    needs: [third]
  first:
    uses: tests/e2e.number
"""
# Each mistake of STAGED_MISTAKES: (line, what the message says), in file order.
STAGED_FINDINGS = [
    (2, "unknown key 'descripton'"),
    (6, 'expected number, got string "soon"'),
    (7, "unknown key 'colour'"),
    (10, "needs unknown task 'frist'"),
    (12, "unterminated template"),
    (14, "has no action 'nothing'"),
    (15, "cycle in needs: third -> fourth -> third"),
    (19, "duplicate key 'first' (first defined on line 4, again on line 19)"),
]


def error_lines(stderr: str, path: Path) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"error: {path}:")]


def test_a_duplicate_key_an_unknown_key_and_every_other_mistake_are_found_in_one_run(run_cli, tmp_path):
    flow = write(tmp_path, STAGED_MISTAKES)
    done = run_cli("validate", str(flow), "-p", str(PLUGINS))
    assert done.returncode == 2, done.stderr
    errors = error_lines(done.stderr, flow)
    assert len(errors) == len(STAGED_FINDINGS), done.stderr
    for line, (number, message) in zip(errors, STAGED_FINDINGS, strict=True):
        assert line.startswith(f"error: {flow}:{number}:") and message in line, done.stderr
    assert "hint: did you mean 'description'?" in done.stderr
    assert "hint: did you mean 'first'?" in done.stderr
    assert f"{len(STAGED_FINDINGS)} errors: nothing was run" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_json_carries_every_problem_of_the_file(run_cli, tmp_path):
    flow = write(tmp_path, STAGED_MISTAKES)
    done = run_cli("run", str(flow), "--json", "-p", str(PLUGINS))
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "workflow"
    found = [(int(p["location"].split(":")[1]), p["message"]) for p in error["problems"]]
    assert len(found) == len(STAGED_FINDINGS), found
    for (line, message), (number, expected) in zip(found, STAGED_FINDINGS, strict=True):
        assert line == number and expected in message, found
