"""With ``--json``, invalid input still gives exactly one JSON document on stdout: the error, and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PLUGINS = FIXTURES / "plugins_a"
GREETER = PLUGINS / "greeter"
BROKEN = FIXTURES / "plugins_b" / "broken"

SEVERAL_PROBLEMS = """\
name: several
tasks:
  hello:
    uses: acme/nope.greet
    inputs: {token: "{{ secrets.NOT_SET_ANYWHERE }}"}
  again:
    uses: acme/greeter.greet
    inputs: {name: "{{ vars.missing }}"}
"""

ONE_TASK = """\
name: one
tasks:
  hello:
    uses: acme/greeter.greet
    inputs: {name: world}
"""

NEEDS_A_SECRET = """\
name: secret
tasks:
  hello:
    uses: acme/greeter.greet
    inputs: {name: world, token: "{{ secrets.NOT_SET_ANYWHERE }}"}
"""

BAD_GRAPH = "name: bad\ntasks:\n  a:\n    uses: acme/greeter.greet\n    needs: [nope]\n"

P = ("-p", str(PLUGINS))

CASES = [
    # workflow run FILE --json
    ("missing file", ["run", "nope.yaml", *P], "workflow", "file not found"),  # the problem; message: 1 error
    ("several problems", ["run", "several.yaml", *P], "workflow", "3 errors: nothing was run"),
    ("unknown plugin", ["run", "unknown.yaml", *P], "workflow", "1 error: nothing was run"),
    ("unknown secret", ["run", "secret.yaml", *P], "workflow", "1 error: nothing was run"),
    ("bad flag value", ["run", "one.yaml", "-c", "many", *P], "usage", "invalid value for --concurrency"),
    ("unknown option", ["run", "one.yaml", "--frob", *P], "usage", "no such option: --frob"),
    ("missing argument", ["run", *P], "usage", "missing argument 'FILE'"),
    ("bad --var", ["run", "one.yaml", "--var", "novalue", *P], "secret_or_var", "--var 'novalue' has no '='"),
    ("missing secrets file", ["run", "one.yaml", "--secrets-file", "nope.env", *P], "secret_or_var", "not found"),
    ("broken config", ["run", "project/one.yaml"], "config", "invalid YAML"),
    # workflow plugin list --json
    ("list: broken config", ["plugin", "list"], "config", "invalid YAML"),
    ("list: unknown option", ["plugin", "list", "--frob"], "usage", "no such option: --frob"),
    ("list: missing workflow", ["plugin", "list", "--workflow", "nope.yaml"], "usage", "does not exist"),
    # workflow plugin inspect REF --json
    ("inspect: unknown plugin", ["plugin", "inspect", "acme/nope", *P], "not_found", "plugin acme/nope not found"),
    ("inspect: bad reference", ["plugin", "inspect", "Acme/Greeter", *P], "not_found", "has uppercase letters"),
    ("inspect: broken manifest", ["plugin", "inspect", str(BROKEN)], "manifest", "unknown key 'entrypont'"),
    ("inspect: invalid workflow", ["plugin", "inspect", str(GREETER), "-w", "bad.yaml"], "workflow", "problem"),
    ("inspect: missing workflow", ["plugin", "inspect", str(GREETER), "-w", "nope.yaml"], "usage", "does not exist"),
    ("inspect: missing argument", ["plugin", "inspect"], "usage", "missing argument 'REF_OR_PATH'"),
]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "several.yaml").write_text(SEVERAL_PROBLEMS)
    (tmp_path / "unknown.yaml").write_text(ONE_TASK.replace("acme/greeter", "acme/nope"))
    (tmp_path / "secret.yaml").write_text(NEEDS_A_SECRET)
    (tmp_path / "one.yaml").write_text(ONE_TASK)
    (tmp_path / "bad.yaml").write_text(BAD_GRAPH)
    project = tmp_path / "project"
    (project / ".workflow").mkdir(parents=True)
    (project / ".workflow" / "config.yaml").write_text("plugins: [1\n")
    (project / "one.yaml").write_text(ONE_TASK)
    return tmp_path


@pytest.mark.parametrize(("case", "args", "kind", "message"), CASES, ids=[case[0] for case in CASES])
def test_json_invalid_input_is_one_error_document_and_exit_2(run_cli, inputs, case, args, kind, message):
    cwd = inputs / "project" if case == "list: broken config" else inputs

    done = run_cli(*args, "--json", cwd=cwd)

    assert done.returncode == 2, done.stdout + done.stderr
    document = json.loads(done.stdout)  # exactly one document: anything else on stdout fails to parse
    assert list(document) == ["error"]
    error = document["error"]
    assert set(error) == {"kind", "message", "problems"}
    assert error["kind"] == kind
    assert error["problems"], "at least the error itself is listed"
    assert message in error["message"] or any(message in problem["message"] for problem in error["problems"])
    assert any(problem["severity"] == "error" for problem in error["problems"])
    for problem in error["problems"]:
        assert set(problem) == {"severity", "message", "location", "hint"}
    assert "error: " in done.stderr
    assert "Traceback" not in done.stderr


def test_every_problem_of_an_invalid_workflow_is_in_the_document_with_its_place(run_cli, inputs):
    done = run_cli("run", "several.yaml", "-p", str(PLUGINS), "--json", cwd=inputs)

    assert done.returncode == 2
    problems = json.loads(done.stdout)["error"]["problems"]
    where = {problem["location"].split(": ", 1)[1]: problem["message"] for problem in problems}
    assert "plugin acme/nope not found" in where["tasks.hello.uses"]
    assert "NOT_SET_ANYWHERE" in where["tasks.hello.inputs.token"]
    assert "missing" in where["tasks.again.inputs.name"]
    assert all(problem["location"].startswith(f"{inputs / 'several.yaml'}:") for problem in problems)


def test_without_json_stdout_stays_empty_on_invalid_input(run_cli, inputs):
    done = run_cli("run", "several.yaml", "-p", str(PLUGINS), cwd=inputs)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.endswith("3 errors: nothing was run\n")
