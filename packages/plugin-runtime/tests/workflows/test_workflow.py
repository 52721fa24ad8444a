from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import Failure, FailureKind, Severity, ValidationFailed, WorkflowFileError
from workflow_plugin_runtime.plugins.manifest import Access
from workflow_plugin_runtime.plugins.references import ActionRef, PluginRef
from workflow_plugin_runtime.workflows.graph import find_cycles, format_cycle, run_order, upstream_sets
from workflow_plugin_runtime.workflows.loading import load_workflow
from workflow_plugin_runtime.workflows.permissions import SecurityMode
from workflow_plugin_runtime.workflows.templates import TemplateContext
from workflow_plugin_runtime.workflows.workflow import RetryPolicy, Workflow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """Every problem of a broken file, as the CLI prints it, with the folder removed."""
    path = write(tmp_path, text)
    with pytest.raises(ValidationFailed) as caught:
        load_workflow(path)
    return [str(problem).replace(f"{tmp_path}/", "") for problem in caught.value.problems]


class TestModel:
    def test_release_fixture(self) -> None:
        workflow = load_workflow(FIXTURES / "release.yaml")
        assert workflow.name == "release-notes"
        assert workflow.description == "Fetch a status and render it"
        assert workflow.security is SecurityMode.RESTRICTED
        assert workflow.directory == FIXTURES.absolute()
        assert list(workflow.tasks) == ["fetch", "files", "report"]
        assert workflow.order == ("fetch", "files", "report")
        assert workflow.upstream["report"] == {"fetch", "files"}
        fetch = workflow.tasks["fetch"]
        assert fetch.uses == ActionRef("acme", "http", "get")
        assert fetch.timeout_s == 20.0
        assert fetch.retries == RetryPolicy(count=2, backoff_s=0.5)
        assert workflow.tasks["files"].retries == RetryPolicy()
        assert workflow.requires[PluginRef("acme", "http")].contains("1.2.0")
        assert workflow.warnings == ()

    def test_permissions_are_parsed_relative_to_the_workflow(self) -> None:
        permissions = load_workflow(FIXTURES / "release.yaml").permissions
        assert permissions.declared
        assert permissions.network == ("acme/http",)
        assert not permissions.network_all
        out, data = permissions.mounts
        assert (out.source, out.target, out.access, out.written) == (
            FIXTURES.absolute() / "out",
            "/out",
            Access.READ_WRITE,
            "./out",
        )
        assert (data.target, data.access) == ("/data", Access.READ)
        assert permissions.env == ("HTTP_PROXY", "LANG")
        assert (permissions.resources.memory_bytes, permissions.resources.cpus, permissions.resources.pids) == (
            256 * 1024 * 1024,
            1,
            128,
        )

    def test_rendering_inputs_env_and_outputs(self) -> None:
        workflow = load_workflow(FIXTURES / "release.yaml")
        context = TemplateContext(
            secrets={"API_TOKEN": "t0ken-value"},
            vars=workflow.merged_vars({"base_url": "http://127.0.0.1:9"}),
            task_outputs={
                "fetch": {"status": 200, "headers": {"x-first": "1"}, "body": {"items": [{"name": "n"}]}},
                "files": {"names": ["a"]},
                "report": {"text": "done"},
            },
        )
        assert workflow.tasks["fetch"].inputs.render(context) == {
            "url": "http://127.0.0.1:9/status",
            "token": "t0ken-value",
            "retries": 3,
        }
        assert workflow.tasks["report"].inputs.render(context) == {
            "status": 200,
            "title": "Status of http://127.0.0.1:9: 200",
            "tags": ["a"],
            "any": "n",
        }
        assert workflow.environment_for("report", context) == {
            "LOG_LEVEL": "info",
            "BASE": "http://127.0.0.1:9",
            "FIRST": "1",
            "DEBUG": "true",
        }
        assert workflow.outputs.render(context) == {"status": 200, "text": "done"}

    def test_template_uses_cover_every_section(self) -> None:
        fields = [use.field for use in load_workflow(FIXTURES / "release.yaml").template_uses()]
        assert fields[0] == "env.BASE"
        assert "tasks.report.env.FIRST" in fields
        assert fields[-1] == "outputs.text"

    def test_minimal_workflow_defaults(self, tmp_path: Path) -> None:
        workflow = load_workflow(write(tmp_path, "name: m\ntasks:\n  t: {uses: a/b.c, needs: []}\n"))
        assert isinstance(workflow, Workflow)
        assert workflow.security is SecurityMode.TRUSTED
        assert not workflow.permissions.declared
        assert workflow.vars == {}
        assert workflow.tasks["t"].timeout_s is None
        assert workflow.tasks["t"].inputs.render(TemplateContext()) == {}

    def test_needs_as_a_single_string(self, tmp_path: Path) -> None:
        workflow = load_workflow(write(tmp_path, "name: m\ntasks:\n  a: {uses: a/b.c}\n  b: {uses: a/b.c, needs: a}\n"))
        assert workflow.tasks["b"].needs == ("a",)


class TestRetryPolicy:
    def test_what_is_retried(self) -> None:
        policy = RetryPolicy(count=2)
        assert policy.should_retry(Failure(FailureKind.CRASHED, "x"), attempt=1)
        assert policy.should_retry(Failure(FailureKind.WORKER_LOST, "x"), attempt=2)
        assert not policy.should_retry(Failure(FailureKind.CRASHED, "x"), attempt=3)
        assert policy.should_retry(Failure(FailureKind.ACTION, "x", retryable=True), attempt=1)
        assert not policy.should_retry(Failure(FailureKind.ACTION, "x", retryable=False), attempt=1)
        assert not policy.should_retry(Failure(FailureKind.INPUT_VALIDATION, "x"), attempt=1)
        assert not policy.should_retry(Failure(FailureKind.TIMEOUT, "x"), attempt=1)
        assert RetryPolicy(count=1, on_timeout=True).should_retry(Failure(FailureKind.TIMEOUT, "x"), attempt=1)

    def test_backoff_doubles(self) -> None:
        assert [RetryPolicy(count=3, backoff_s=0.5).delay_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]

    def test_full_form_from_yaml(self, tmp_path: Path) -> None:
        text = "name: m\ntasks:\n  t:\n    uses: a/b.c\n    retries: {count: 3, backoff: 0, on_timeout: true}\n"
        assert load_workflow(write(tmp_path, text)).tasks["t"].retries == RetryPolicy(3, 0.0, True)


class TestFileErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(WorkflowFileError, match="file not found"):
            load_workflow(tmp_path / "nope.yaml")

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        with pytest.raises(WorkflowFileError) as caught:
            load_workflow(write(tmp_path, "name: x\ntasks: [\n"))
        assert caught.value.message.startswith("invalid YAML")
        assert caught.value.location is not None
        assert caught.value.location.line is not None

    def test_duplicate_task_id_is_reported_with_the_rest_of_the_file(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks:\n  a: {uses: a/b.c}\n  a: {uses: a/b.d}\n  b: {needs: [c]}\n")
        assert [problem.splitlines()[0] for problem in found] == [
            "wf.yaml:4:3: tasks.a: duplicate key 'a' (first defined on line 3, again on line 4)",
            "wf.yaml:5:3: tasks.b: missing required key 'uses'",
            "wf.yaml:5:15: tasks.b.needs[0]: task 'b' needs unknown task 'c'",
        ]


class TestSchema:
    def test_every_schema_problem_at_once_with_suggestions(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            """
            name: x
            security: restricetd
            tasks:
              a:
                uses: a/b.c
                timeot: 3
                retries: {cont: 2}
            """,
        )
        assert found == [
            'wf.yaml:2:11: security: expected one of trusted, restricted; got string "restricetd"\n'
            "  hint: did you mean 'restricted'?",
            "wf.yaml:6:5: tasks.a.timeot: unknown key 'timeot'\n  hint: did you mean 'timeout'?",
            "wf.yaml:7:15: tasks.a.retries.cont: unknown key 'cont'\n"
            "  hint: did you mean 'count'? (a required key, missing from this mapping)",
        ]

    def test_top_level_typo_is_one_problem_at_the_typo(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntaks:\n  a: {uses: a/b.c}\n")
        assert found == [
            "wf.yaml:2:1: taks: unknown key 'taks'\n"
            "  hint: did you mean 'tasks'? (a required key, missing from this mapping)"
        ]

    def test_bad_permissions_shapes(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            """
            name: x
            permissions:
              network: yes please
              mounts: [{source: ./a, target: data}]
              resources: {memory: 12x}
            tasks: {a: {uses: a/b.c}}
            """,
        )
        assert found == [
            'wf.yaml:3:12: permissions.network: expected boolean or list, got string "yes please"',
            'wf.yaml:4:34: permissions.mounts[0].target: string "data" does not match the pattern ^/\n'
            "  hint: write an absolute path such as /data",
            'wf.yaml:5:23: permissions.resources.memory: string "12x" does not match the pattern'
            " ^[0-9]+(\\.[0-9]+)?[kKmMgG]?[bB]?$\n  hint: write a size such as 256m, 1g or 1048576",
        ]

    def test_task_id_pattern(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks:\n  1st: {uses: a/b.c}\n")
        assert found[0].startswith("wf.yaml:3:3: tasks.1st: the name '1st' does not match the pattern")

    def test_every_invalid_task_id_is_reported_with_its_line_and_a_hint_about_ids(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path, "name: x\ntasks:\n  1st: {uses: a/b.c}\n  ok: {uses: a/b.c}\n  two words: {uses: a/b.c}\n"
        )
        hint = "\n  hint: a task id is letters, digits, '_' and '-', not starting with a digit or '-' (e.g. build_docs)"
        pattern = " does not match the pattern ^[A-Za-z_][A-Za-z0-9_-]*$"
        assert found == [
            "wf.yaml:3:3: tasks.1st: the name '1st'" + pattern + hint,
            "wf.yaml:5:3: tasks[\"two words\"]: the name 'two words'" + pattern + hint,
        ]

    def test_no_tasks_hints_at_declaring_one(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks: {}\n")
        assert found == [
            "wf.yaml:2:8: tasks: must not be empty\n"
            "  hint: declare at least one task, e.g. `tasks: {build: {uses: acme/make.run}}`"
        ]


class TestStructure:
    def test_unknown_need_suggests_the_nearest_task(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks:\n  fetch: {uses: a/b.c}\n  b: {uses: a/b.c, needs: [fetchh]}\n")
        assert found == [
            "wf.yaml:4:28: tasks.b.needs[0]: task 'b' needs unknown task 'fetchh'\n  hint: did you mean 'fetch'?"
        ]

    def test_unknown_need_without_a_near_name_lists_the_tasks(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks:\n  a: {uses: a/b.c}\n  b: {uses: a/b.c, needs: zzz}\n")
        assert found == ["wf.yaml:4:27: tasks.b.needs: task 'b' needs unknown task 'zzz'\n  hint: known tasks: a, b"]

    def test_self_need(self, tmp_path: Path) -> None:
        assert problems_of(tmp_path, "name: x\ntasks:\n  a: {uses: a/b.c, needs: [a]}\n") == [
            "wf.yaml:3:28: tasks.a.needs[0]: task 'a' needs itself"
        ]

    def test_cycles_are_named(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            """
            name: x
            tasks:
              a: {uses: a/b.c, needs: [c]}
              b: {uses: a/b.c, needs: [a]}
              c: {uses: a/b.c, needs: [b]}
              d: {uses: a/b.c, needs: [e]}
              e: {uses: a/b.c, needs: [d]}
            """,
        )
        assert found == [
            "wf.yaml:3:27: tasks.a.needs: cycle in needs: a -> c -> b -> a\n"
            "  hint: tasks in a cycle can never start; remove one of these needs",
            "wf.yaml:6:27: tasks.d.needs: cycle in needs: d -> e -> d\n"
            "  hint: tasks in a cycle can never start; remove one of these needs",
        ]

    def test_bad_uses(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, "name: x\ntasks:\n  a: {uses: acme/http}\n")
        assert found == [
            "wf.yaml:3:13: tasks.a.uses: 'acme/http' is missing the action: expected namespace/name.action\n"
            "  hint: write it as namespace/name.action, e.g. acme/http.get"
        ]

    def test_template_syntax_error_names_the_field_and_column(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, 'name: x\ntasks:\n  a:\n    uses: a/b.c\n    inputs: {url: "x{{ vars.a"}\n')
        assert found == [
            'wf.yaml:5:19: tasks.a.inputs.url: unterminated template at column 2: "{{" has no closing "}}"\n'
            '  hint: close it with "}}", or write \\{{ for a literal "{{"'
        ]

    @pytest.mark.parametrize(
        ("section", "place"),
        [
            ('env: {A: "{{ secrets.TOKEN }}"}', "the workflow's env"),
            ('outputs: {o: "{{ secrets.TOKEN }}"}', "the workflow's outputs"),
            ('vars: {v: "{{ secrets.TOKEN }}"}', "vars"),
        ],
    )
    def test_secrets_outside_task_inputs(self, tmp_path: Path, section: str, place: str) -> None:
        found = problems_of(tmp_path, f"name: x\n{section}\ntasks: {{a: {{uses: a/b.c}}}}\n")
        assert len(found) == 1
        assert f"{{{{ secrets.TOKEN }}}} is not allowed in {place}: secrets may only be used in task inputs" in found[0]
        assert "secrets never travel in environment variables, vars or outputs" in found[0]

    def test_secret_in_task_env(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path, 'name: x\ntasks:\n  a:\n    uses: a/b.c\n    env: {T: "Bearer {{ secrets.T }}"}\n'
        )
        assert found[0].startswith(
            "wf.yaml:5:14: tasks.a.env.T: {{ secrets.T }} is not allowed in the env of task 'a': secrets may only"
        )

    def test_vars_are_literal(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, 'name: x\nvars: {a: 1, b: "{{ vars.a }}"}\ntasks: {t: {uses: a/b.c}}\n')
        assert found == [
            "wf.yaml:2:17: vars.b: vars are literal values: {{ vars.a }} is not allowed here\n"
            '  hint: write \\{{ for a literal "{{"'
        ]

    def test_workflow_env_cannot_read_tasks(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, 'name: x\nenv: {A: "{{ tasks.t.outputs.x }}"}\ntasks: {t: {uses: a/b.c}}\n')
        assert found == [
            "wf.yaml:2:10: env.A: the workflow's env cannot read task outputs: {{ tasks.t.outputs.x }}\n"
            "  hint: set it in the env of the task that needs it"
        ]

    def test_task_references(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            """
            name: x
            tasks:
              fetch: {uses: a/b.c}
              mid: {uses: a/b.c, needs: [fetch]}
              last:
                uses: a/b.c
                needs: [mid]
                inputs:
                  ok: "{{ tasks.fetch.outputs.x }}"
                  own: "{{ tasks.last.outputs.x }}"
                  typo: "{{ tasks.fetsh.outputs.x }}"
              side:
                uses: a/b.c
                inputs: {x: "{{ tasks.mid.outputs.y }}"}
            outputs:
              any: "{{ tasks.side.outputs.x }}"
            """,
        )
        assert found == [
            "wf.yaml:10:12: tasks.last.inputs.own: task 'last' cannot read its own outputs"
            " ({{ tasks.last.outputs.x }})",
            "wf.yaml:11:13: tasks.last.inputs.typo: unknown task 'fetsh' in {{ tasks.fetsh.outputs.x }}\n"
            "  hint: did you mean 'fetch'?",
            "wf.yaml:14:17: tasks.side.inputs.x: task 'side' reads {{ tasks.mid.outputs.y }} but does not need 'mid'\n"
            "  hint: add it to the task's needs: needs: [mid]",
        ]

    def test_requires_problems(self, tmp_path: Path) -> None:
        found = problems_of(tmp_path, 'name: x\ntasks: {t: {uses: a/b.c}}\nrequires: {a/b: "~=nope"}\n')
        assert found == [
            "wf.yaml:3:17: requires[\"a/b\"]: '~=nope' is not a valid version requirement\n"
            "  hint: use PEP 440 specifiers: '>=1.2,<2'"
        ]

    def test_requires_for_an_unused_plugin_warns(self, tmp_path: Path) -> None:
        workflow = load_workflow(write(tmp_path, 'name: x\ntasks: {t: {uses: a/b.c}}\nrequires: {a/z: ">=1"}\n'))
        assert [(w.severity, w.message) for w in workflow.warnings] == [
            (Severity.WARNING, "requires a/z, but no task uses it")
        ]

    def test_mount_targets(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            """
            name: x
            permissions:
              mounts:
                - {source: ./a, target: /}
                - {source: ./b, target: /data}
                - {source: ./c, target: /data/}
                - {source: ./d, target: /x/../etc}
              resources: {memory: 0k}
            tasks: {t: {uses: a/b.c}}
            """,
        )
        assert found == [
            "wf.yaml:4:29: permissions.mounts[0].target: mount target '/' is not allowed\n"
            "  hint: mount into a folder such as /data; not over / and without '..'",
            "wf.yaml:6:29: permissions.mounts[2].target: mount target /data is used twice (also by mounts[1])\n"
            "  hint: give each mount its own target",
            "wf.yaml:7:29: permissions.mounts[3].target: mount target '/x/../etc' is not allowed\n"
            "  hint: mount into a folder such as /data; not over / and without '..'",
            "wf.yaml:8:23: permissions.resources.memory: a size must be greater than zero\n"
            "  hint: write a size such as 256m",
        ]

    def test_problems_come_in_file_order(self, tmp_path: Path) -> None:
        found = problems_of(
            tmp_path,
            'name: x\nenv: {A: "{{ secrets.S }}"}\ntasks:\n  a: {uses: a/b.c, needs: [zz]}\n  b: {uses: a/B.c}\n',
        )
        assert [line.split(":")[1] for line in found] == ["2", "4", "5"]


class TestGraph:
    def test_run_order_keeps_file_order_among_ready_tasks(self) -> None:
        needs = {"z": [], "a": ["z"], "m": [], "b": ["a", "m"]}
        assert run_order(needs) == ("z", "a", "m", "b")
        assert upstream_sets(needs)["b"] == {"a", "m", "z"}

    def test_cycles_are_left_out_of_the_order(self) -> None:
        needs = {"a": ["b"], "b": ["a"], "c": []}
        assert run_order(needs) == ("c",)
        assert find_cycles(needs) == [("a", "b")]
        assert format_cycle(("a", "b")) == "a -> b -> a"

    def test_tasks_that_need_nothing_keep_file_order_and_close_no_cycle(self) -> None:
        assert run_order({"b": [], "a": (), "c": []}) == ("b", "a", "c")
        assert run_order({"a": ["ghost"], "b": []}) == ("a", "b")  # an unknown need (reported apart) holds nothing
        needs = {"c": [], "a": ["b"], "b": ["c", "a"], "d": ["c"]}
        assert find_cycles(needs) == [("a", "b")]
        assert run_order(needs) == ("c", "d")

    def test_long_chains_do_not_recurse(self) -> None:
        size = 5000
        needs = {f"t{i}": [f"t{i + 1}"] if i + 1 < size else [] for i in range(size)}
        assert run_order(needs)[0] == f"t{size - 1}"
        needs["t4999"] = ["t0"]
        assert len(find_cycles(needs)[0]) == size


def test_escapes_as_written_in_yaml(tmp_path: Path) -> None:
    text = r"""
    name: x
    vars: {a: 1}
    tasks:
      t:
        uses: a/b.c
        inputs:
          single: '\{{ not a template }}'
          double: "\\{{ not a template }}"
          plain: \{{ x }}
          slash: '\\{{ vars.a }}'
          path: 'C:\dir'
    """
    workflow = load_workflow(write(tmp_path, text))
    assert workflow.tasks["t"].inputs.render(TemplateContext(vars=workflow.vars)) == {
        "single": "{{ not a template }}",
        "double": "{{ not a template }}",
        "plain": "{{ x }}",
        "slash": "\\1",
        "path": "C:\\dir",
    }
