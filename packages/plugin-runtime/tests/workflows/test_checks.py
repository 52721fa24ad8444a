from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import Severity, ValidationFailed
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.checks import WorkflowCheck, check_workflow, check_workflow_file, secret_keys
from workflow_plugin_runtime.workflows.loading import load_workflow
from workflow_plugin_runtime.workflows.secrets import EnvSecretProvider

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"
PLUGINS = FIXTURES / "plugins"
SETTLE_S = 0.15  # just over the caches' 100 ms racy-entry margin (plugins.index.settled): files this old get recorded


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver([PLUGINS], entry_points=False)


def run_check(tmp_path: Path, resolver: Resolver, text: str, **options: object) -> WorkflowCheck:
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return check_workflow_file(path, resolver=resolver, **options)  # type: ignore[arg-type]


def mount_sources(tmp_path: Path, *names: str) -> None:
    """The folders a restricted workflow in ``tmp_path`` mounts, writable by the isolated user (no warning)."""
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(0o777)


def printed(check: WorkflowCheck, tmp_path: Path, *, severity: Severity = Severity.ERROR) -> list[str]:
    return [str(p).replace(f"{tmp_path}/", "") for p in check.problems if p.severity is severity]


class TestFixtures:
    def test_release_is_clean(self, resolver: Resolver, tmp_path: Path) -> None:
        secrets = EnvSecretProvider({"WORKFLOW_SECRET_API_TOKEN": "a-long-token"})
        shutil.copy(FIXTURES / "release.yaml", tmp_path)
        mount_sources(tmp_path, "out", "data")
        check = check_workflow_file(tmp_path / "release.yaml", resolver=resolver, secrets=secrets)
        assert check.problems == ()
        assert check.ok
        assert {task: str(action.ref) for task, action in check.actions.items()} == {
            "fetch": "acme/http.get",
            "files": "acme/files.list",
            "report": "acme/text.render",
        }
        check.raise_for_errors()
        assert check.workflow is not None
        assert secret_keys(check.workflow) == ["API_TOKEN"]

    def test_a_broken_file_becomes_problems(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(tmp_path, resolver, "name: x\n")
        assert check.workflow is None
        assert printed(check, tmp_path) == ["wf.yaml:1:1: missing required key 'tasks' at the top level"]
        with pytest.raises(ValidationFailed) as caught:
            check.raise_for_errors()
        assert caught.value.message == "1 problem found"
        unreadable = check_workflow_file(tmp_path / "missing.yaml", resolver=resolver)
        assert [p.message for p in unreadable.errors] == ["file not found"]


class TestResolution:
    def test_unknown_plugin_and_action_suggest_the_nearest(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(
            tmp_path,
            resolver,
            """
            name: x
            tasks:
              a: {uses: acme/htp.get}
              b: {uses: acme/http.gett}
              c: {uses: acme/http.gett}
            """,
        )
        assert printed(check, tmp_path) == [
            f"wf.yaml:3:13: tasks.a.uses: plugin acme/htp not found\n"
            f"  hint: did you mean acme/http? looked in: {PLUGINS} (given)",
            "wf.yaml:4:13: tasks.b.uses: plugin acme/http 1.2.0 has no action 'gett' (it has: get)\n"
            "  hint: did you mean acme/http.get?",
        ]
        assert check.actions == {}

    def test_requires_that_no_copy_matches(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(
            tmp_path, resolver, 'name: x\ntasks: {a: {uses: acme/http.get}}\nrequires: {acme/http: ">=2"}\n'
        )
        assert printed(check, tmp_path) == [
            f"wf.yaml:2:19: tasks.a.uses: no copy of acme/http matches >=2: found 1.2.0 at {PLUGINS / 'acme-http'}"
            " (given)\n  hint: install a matching version on plugins.paths or relax the requirement"
        ]

    def test_a_broken_manifest_is_located_in_the_manifest(self, resolver: Resolver, tmp_path: Path) -> None:
        plugins = tmp_path / "plugins" / "broken"
        plugins.mkdir(parents=True)
        (plugins / "plugin.yaml").write_text("namespace: acme\nname: broken\nversion: 1.0.0\nruntime: {}\n")
        check = run_check(
            tmp_path,
            Resolver([tmp_path / "plugins"], entry_points=False),
            "name: x\ntasks: {a: {uses: acme/broken.go}}\n",
        )
        assert len(check.errors) == 2  # every problem of the manifest: runtime has no entrypoint, no actions
        for problem in check.errors:
            assert problem.location is not None
            assert problem.location.file == plugins / "plugin.yaml"
            assert "used by task 'a' at" in str(problem.hint)


class TestVarsAndSecrets:
    TEXT = """
        name: x
        vars: {base_url: "http://127.0.0.1:1"}
        tasks:
          a:
            uses: acme/http.get
            inputs: {url: "{{ vars.base_url }}/{{ vars.path }}", token: "{{ secrets.API_TOKEN }}"}
        """

    def test_unknown_var_and_secret_before_anything_runs(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(tmp_path, resolver, self.TEXT, secrets=EnvSecretProvider({"WORKFLOW_SECRET_API_TOKN": "x"}))
        assert printed(check, tmp_path) == [
            "wf.yaml:6:19: tasks.a.inputs.url: unknown var 'path' (used in tasks.a.inputs.url)\n"
            "  hint: define it under vars:, in a vars file or with --var path=VALUE",
            "wf.yaml:6:65: tasks.a.inputs.token: unknown secret 'API_TOKEN' (used in tasks.a.inputs.token)\n"
            "  hint: did you mean API_TOKN? set WORKFLOW_SECRET_API_TOKEN or add API_TOKEN=... to the --secrets-file;"
            " looked in environment variables WORKFLOW_SECRET_<KEY>",
        ]

    def test_overrides_define_vars_and_secrets_are_optional(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(tmp_path, resolver, self.TEXT, vars_overrides={"path": "status"})
        assert check.problems == ()

    def test_short_secret_warns_at_its_first_use(self, resolver: Resolver, tmp_path: Path) -> None:
        secrets = EnvSecretProvider({"WORKFLOW_SECRET_API_TOKEN": "abc"})
        check = run_check(tmp_path, resolver, self.TEXT, vars_overrides={"path": "x"}, secrets=secrets)
        assert check.ok
        assert printed(check, tmp_path, severity=Severity.WARNING) == [
            "wf.yaml:6:65: tasks.a.inputs.token: secret API_TOKEN is shorter than 4 characters, so it is not masked:"
            " anything that prints it will show it\n  hint: use a value of at least 4 characters for API_TOKEN"
        ]


WIRED = """
name: x
vars: {n: "3", count: 3}
tasks:
  a:
    uses: acme/http.get
    inputs: {url: u, retries: "{{ vars.n }}"}
  b:
    uses: acme/text.render
    needs: [a]
    inputs:
      status: "{{ tasks.a.outputs.stat }}"
      ratio: "{{ tasks.a.outputs.status }}"
      flag: "{{ tasks.a.outputs.status }}"
      title: "{{ tasks.a.outputs.status.x }}"
      tags: "x {{ tasks.a.outputs.status }}"
      unknown: "{{ tasks.a.outputs.ok }}"
      any: "{{ tasks.a.outputs.raw.whatever.0 }}"
  c:
    uses: acme/text.anything
    needs: [b]
    inputs:
      free: "{{ tasks.b.outputs.text }}"
      header: "{{ tasks.a.outputs.headers.x-anything }}"
      first: "{{ tasks.a.outputs.body.items.0.nme }}"
outputs:
  o: "{{ tasks.a.outputs.body.itemz }}"
  fine: "{{ tasks.b.outputs.text }} and {{ tasks.a.outputs.status }}"
"""


class TestWiring:
    def test_every_wiring_error(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(tmp_path, resolver, WIRED)
        assert printed(check, tmp_path) == [
            "wf.yaml:6:31: tasks.a.inputs.retries: {{ vars.n }} gives string, but input retries of acme/http.get"
            " expects integer\n  hint: wire a value of the expected type, or change the input's schema",
            "wf.yaml:11:15: tasks.b.inputs.status: {{ tasks.a.outputs.stat }}: acme/http.get declares no output 'stat'"
            " (it declares: status, ok, body, headers, raw)\n  hint: did you mean 'status'?",
            "wf.yaml:13:13: tasks.b.inputs.flag: {{ tasks.a.outputs.status }} gives integer, but input flag of"
            " acme/text.render expects boolean\n"
            "  hint: wire a value of the expected type, or change the input's schema",
            "wf.yaml:14:14: tasks.b.inputs.title: {{ tasks.a.outputs.status.x }}: acme/http.get output 'status' is"
            " declared as integer: it has no key 'x'",
            "wf.yaml:15:13: tasks.b.inputs.tags: {{ tasks.a.outputs.status }} is part of a longer string, but input"
            " tags of acme/text.render expects array\n  hint: text around a template makes a string; make the value"
            " exactly '{{ tasks.a.outputs.status }}' to pass the value itself",
            "wf.yaml:16:16: tasks.b.inputs.unknown: {{ tasks.a.outputs.ok }}: acme/text.render declares no input"
            " 'unknown' (it declares: title, status, ratio, flag, tags, any)",
            "wf.yaml:24:14: tasks.c.inputs.first: {{ tasks.a.outputs.body.items.0.nme }}: acme/http.get output"
            " 'body.items.0' declares no key 'nme' (it declares: name)\n  hint: did you mean 'name'?",
            "wf.yaml:26:6: outputs.o: {{ tasks.a.outputs.body.itemz }}: acme/http.get output 'body' declares no key"
            " 'itemz' (it declares: items)\n  hint: did you mean 'items'?",
        ]

    def test_vars_typed_from_overrides(self, resolver: Resolver, tmp_path: Path) -> None:
        text = "name: x\nvars: {n: 3}\ntasks:\n  a:\n    uses: acme/http.get\n"
        text += '    inputs: {url: u, retries: "{{ vars.n }}"}\n'
        assert run_check(tmp_path, resolver, text).ok
        assert not run_check(tmp_path, resolver, text, vars_overrides={"n": "4"}).ok

    def test_check_workflow_on_a_loaded_workflow(self, resolver: Resolver) -> None:
        workflow = load_workflow(FIXTURES / "minimal.yaml")
        check = check_workflow(workflow, resolver=resolver)
        assert check.ok
        assert check.workflow is workflow
        assert check.warnings == []


class TestPermissionChecks:
    TASKS = """
        tasks:
          fetch: {uses: acme/http.get, inputs: {url: u}}
          files: {uses: acme/files.list}
          render: {uses: acme/text.render}
          again: {uses: acme/text.render}
        """

    def test_restricted_refusals_show_the_yaml_to_add(self, resolver: Resolver, tmp_path: Path) -> None:
        text = "name: x\nsecurity: restricted\npermissions:\n  mounts: [{source: ./out, target: /out}]\n"
        mount_sources(tmp_path, "out")
        check = run_check(tmp_path, resolver, text + textwrap.dedent(self.TASKS))
        assert printed(check, tmp_path) == [
            "wf.yaml:7:17: tasks.fetch.uses: task 'fetch' uses acme/http, which needs network access; restricted mode"
            " grants it only to listed plugins\n  hint: add to the workflow file:\n    permissions:\n"
            "      network: [acme/http]",
            "wf.yaml:7:17: tasks.fetch.uses: task 'fetch' uses acme/http, which needs the environment variable"
            " HTTP_PROXY, which the workflow does not grant\n  hint: add to the workflow file:\n    permissions:\n"
            "      env: [HTTP_PROXY]",
            "wf.yaml:8:17: tasks.files.uses: task 'files' uses acme/files, which needs /data/in (read), but no mount"
            " grants it\n  hint: add to the workflow file:\n    permissions:\n      mounts:\n"
            "      - {source: ./in, target: /data/in, access: read}\n    (choose the host folder to show at /data/in)",
            "wf.yaml:8:17: tasks.files.uses: task 'files' uses acme/files, which needs the environment variable LANG,"
            " which the workflow does not grant\n"
            "  hint: add to the workflow file:\n    permissions:\n      env: [LANG]",
            "wf.yaml:9:18: tasks.render.uses: task 'render' uses acme/text, which needs /out read-write, but it is"
            " mounted read-only (from ./out)\n  hint: set access: read-write on the mount with target /out",
        ]

    MISSING_SOURCES = """
        name: x
        security: restricted
        permissions:
          mounts:
            - {source: ./out, target: /out, access: read-write}
            - {source: ./gone, target: /data}
            - {source: ./spare, target: /spare}
          env: [LANG]
        tasks:
          files: {uses: acme/files.list}
          render: {uses: acme/text.render}
        """

    def test_a_needed_mount_whose_source_is_missing_is_an_error_with_the_command_to_make_it(
        self, resolver: Resolver, tmp_path: Path
    ) -> None:
        (tmp_path / "gone").symlink_to(tmp_path / "nowhere")

        check = run_check(tmp_path, resolver, self.MISSING_SOURCES)

        assert printed(check, tmp_path) == [  # printed() shows paths relative to tmp_path
            "wf.yaml:5:16: permissions.mounts[0].source: mount ./out -> /out: the source out is missing (it does not"
            " exist); restricted mode cannot mount it\n  hint: create it (`mkdir -p out`), or correct the grant's"
            " source",
            "wf.yaml:6:16: permissions.mounts[1].source: mount ./gone -> /data: the source gone is missing (a symbolic"
            " link to nothing); restricted mode cannot mount it\n  hint: create the folder it links to (`mkdir -p"
            " nowhere`), or correct the grant's source",
        ]  # ./spare is missing too, but no plugin needs it: it is only warned about as unneeded

    def test_a_missing_mount_source_is_no_error_in_trusted_mode(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(tmp_path, resolver, self.MISSING_SOURCES.replace("restricted", "trusted"))
        assert check.ok

    def test_trusted_mode_checks_no_capabilities(self, resolver: Resolver, tmp_path: Path) -> None:
        assert run_check(tmp_path, resolver, "name: x\n" + textwrap.dedent(self.TASKS)).problems == ()

    def test_permissions_in_trusted_mode_warn(self, resolver: Resolver, tmp_path: Path) -> None:
        check = run_check(
            tmp_path, resolver, "name: x\npermissions: {network: [acme/http]}\n" + textwrap.dedent(self.TASKS)
        )
        assert check.ok
        assert printed(check, tmp_path, severity=Severity.WARNING) == [
            "wf.yaml:2:14: permissions: permissions apply only with security: restricted; this trusted workflow runs"
            " plugins with all of the operator's rights\n  hint: add `security: restricted` to enforce them"
        ]

    def test_unneeded_grants_warn(self, resolver: Resolver, tmp_path: Path) -> None:
        mount_sources(tmp_path, "out")  # ./x is missing, but no plugin needs it: only the unneeded warning
        check = run_check(
            tmp_path,
            resolver,
            """
            name: x
            security: restricted
            permissions:
              network: [acme/http, acme/text, acme/other]
              mounts: [{source: ./out, target: /out, access: read-write}, {source: ./x, target: /x}]
              env: [HTTP_PROXY, EXTRA, HTTP_*]
            tasks:
              fetch: {uses: acme/http.get, inputs: {url: u}}
              render: {uses: acme/text.render}
            """,
        )
        assert check.ok
        assert printed(check, tmp_path, severity=Severity.WARNING) == [
            "wf.yaml:4:24: permissions.network[1]: network is granted to acme/text, which does not ask for network"
            " access\n  hint: remove it from network:",
            "wf.yaml:4:35: permissions.network[2]: network is granted to acme/other, which no task uses\n"
            "  hint: remove it from network:",
            "wf.yaml:5:63: permissions.mounts[1]: mount ./x -> /x is not needed by any plugin this workflow uses\n"
            "  hint: remove the mount",
            "wf.yaml:6:21: permissions.env[1]: env EXTRA is granted but no plugin this workflow uses asks for it\n"
            "  hint: remove it from env:",
        ]


class TestLiteralInputs:
    def test_values_written_in_the_file_are_checked_against_the_input_schema(
        self, resolver: Resolver, tmp_path: Path
    ) -> None:
        check = run_check(
            tmp_path,
            resolver,
            """
            name: literal
            tasks:
              whole: {uses: acme/http.get, inputs: {url: "http://127.0.0.1", retries: "3"}}
              missing: {uses: acme/http.get, inputs: {retries: 1}}
              mixed:
                needs: [whole]
                uses: acme/text.render
                inputs: {title: "{{ tasks.whole.outputs.status }}", status: "two hundred"}
            """,
        )
        found = [line.split("\n")[0] for line in printed(check, tmp_path)]
        assert found[1:] == [
            'wf.yaml:3:75: tasks.whole.inputs.retries: expected integer, got string "3" (input of acme/http.get)',
            "wf.yaml:4:42: tasks.missing.inputs: missing required key 'url' at the top level (input of acme/http.get)",
            "wf.yaml:8:65: tasks.mixed.inputs.status: expected integer, "
            'got string "two hundred" (input of acme/text.render)',
        ]
        assert "gives integer, but input title of acme/text.render expects string" in found[0]  # typed wiring


# What ``workflow validate`` of a trusted workflow asks of the runtime, in a new interpreter (as the command runs).
VALIDATE = """
import json, sys
from pathlib import Path
from workflow_plugin_runtime import (
    Resolver, RuntimeKind, check_lock, check_workflow_file, default_secret_provider, load_config, merge_vars,
    parse_var_options,
)
file, plugins = Path(sys.argv[1]), Path(sys.argv[2])
config = load_config(start=file.parent, plugins_paths=(plugins,))
check = check_workflow_file(
    file,
    resolver=Resolver.from_config(config),
    vars_overrides=merge_vars(None, parse_var_options(())),
    secrets=default_secret_provider(secrets_file=None),
)
lock = check_lock(check, runtime=RuntimeKind.PROCESS, project_root=config.project_root)
notable = ("yaml", "fastjsonschema", "platformdirs", "packaging", "decimal", "tempfile", "shutil", "hashlib")
notable += ("importlib.metadata",)
print(json.dumps({
    "ok": check.ok and lock is not None and lock.matched,
    "runtime": sorted(name for name in sys.modules if name.startswith("workflow_plugin_runtime")),
    "notable": sorted(name for name in notable if name in sys.modules),
}))
"""
VALIDATE_PATH = [  # a guard: what a validate of a workflow seen before imports (docs/performance.md explains each)
    "workflow_plugin_runtime",
    "workflow_plugin_runtime._frozen",
    "workflow_plugin_runtime._util",
    "workflow_plugin_runtime._util.cachedir",
    "workflow_plugin_runtime._util.files",
    "workflow_plugin_runtime._util.yaml_document",
    "workflow_plugin_runtime.config",
    "workflow_plugin_runtime.errors",
    "workflow_plugin_runtime.execution",
    "workflow_plugin_runtime.execution.locking",
    "workflow_plugin_runtime.plugins",
    "workflow_plugin_runtime.plugins.content",
    "workflow_plugin_runtime.plugins.discovery",
    "workflow_plugin_runtime.plugins.entry_files",
    "workflow_plugin_runtime.plugins.index",
    "workflow_plugin_runtime.plugins.manifest",
    "workflow_plugin_runtime.plugins.manifest_loading",
    "workflow_plugin_runtime.plugins.provenance",
    "workflow_plugin_runtime.plugins.references",
    "workflow_plugin_runtime.plugins.resolve",
    "workflow_plugin_runtime.schemas",
    "workflow_plugin_runtime.schemas._codecache",
    "workflow_plugin_runtime.schemas.violations",
    "workflow_plugin_runtime.workflows",
    "workflow_plugin_runtime.workflows.checks",
    "workflow_plugin_runtime.workflows.document_cache",
    "workflow_plugin_runtime.workflows.grant_warnings",
    "workflow_plugin_runtime.workflows.graph",
    "workflow_plugin_runtime.workflows.loading",
    "workflow_plugin_runtime.workflows.mount_sources",
    "workflow_plugin_runtime.workflows.permissions",
    "workflow_plugin_runtime.workflows.secrets",
    "workflow_plugin_runtime.workflows.template_values",
    "workflow_plugin_runtime.workflows.templates",
    "workflow_plugin_runtime.workflows.wiring",
    "workflow_plugin_runtime.workflows.workflow",
]


def test_validate_of_a_workflow_seen_before_imports_no_parser_and_only_its_modules(tmp_path: Path) -> None:
    from workflow_plugin_runtime.config import RuntimeKind
    from workflow_plugin_runtime.execution.locking import lock_path_for, locked_plugins, write_lock

    shutil.copytree(PLUGINS / "acme-http", tmp_path / "plugins" / "acme-http")
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: guard\ntasks:\n  get: {uses: acme/http.get, inputs: {url: 'https://example.com'}}\n")
    check = check_workflow_file(flow, resolver=Resolver([tmp_path / "plugins"], entry_points=False))
    write_lock(lock_path_for(flow), locked_plugins(check, runtime=RuntimeKind.PROCESS, project_root=tmp_path))
    time.sleep(SETTLE_S)  # the workflow file and manifest old enough for the caches to record them
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-c", VALIDATE, str(flow), str(tmp_path / "plugins")]
    first, again = (json.loads(subprocess.run(argv, env=env, capture_output=True, check=True).stdout) for _ in "12")
    assert first["ok"] and "yaml" in first["notable"]  # nothing cached yet: every file parsed
    assert again == {"ok": True, "runtime": VALIDATE_PATH, "notable": []}
