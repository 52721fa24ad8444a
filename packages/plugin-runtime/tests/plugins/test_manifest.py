from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from workflow_plugin_runtime.config import PoolSettings
from workflow_plugin_runtime.errors import ManifestError, PluginNotFoundError
from workflow_plugin_runtime.plugins.manifest import Access, StartMode, thaw_manifest_data
from workflow_plugin_runtime.plugins.manifest_loading import load_manifest, manifest_problems, to_model
from workflow_plugin_runtime.schemas.violations import schema_violations

FIXTURES = Path(__file__).parents[1] / "fixtures" / "plugins"

VALID = """\
namespace: acme
name: demo
version: 1.0.0
runtime:
  entrypoint: main.py
actions:
  get:
    timeout: 5
    inputs:
      type: object
      required: [url]
      properties:
        url: {type: string}
"""


def plugin(tmp_path: Path, manifest: str, *, files: tuple[str, ...] = ("main.py",), name: str = "demo") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.yaml").write_text(textwrap.dedent(manifest), encoding="utf-8")
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text("", encoding="utf-8")
    return folder


def error_for(tmp_path: Path, manifest: str, **options: Any) -> ManifestError:
    folder = plugin(tmp_path, manifest, **options)
    with pytest.raises(ManifestError) as caught:
        load_manifest(folder)
    return caught.value


def where(error: ManifestError) -> tuple[int | None, int | None, str | None]:
    assert error.location is not None
    return error.location.line, error.location.column, error.location.field


def test_the_spec_example_loads_into_the_typed_model() -> None:
    manifest = load_manifest(FIXTURES / "acme-http")
    assert manifest.ref == "acme/http"
    assert manifest.version == Version("1.2.0")
    assert manifest.description == "HTTP requests"
    assert manifest.plugin_dir == FIXTURES / "acme-http"
    assert manifest.manifest_path == FIXTURES / "acme-http" / "plugin.yaml"
    runtime = manifest.runtime
    assert (runtime.entrypoint, runtime.command, runtime.image, runtime.timeout) == (
        "main.py",
        None,
        "acme/http:1.2.0",
        30,
    )
    assert runtime.pool == PoolSettings(size=2, idle_timeout=60.0, recycle_after=1000)
    assert manifest.entrypoint_path == FIXTURES / "acme-http" / "main.py"
    capabilities = manifest.capabilities
    assert capabilities.network is True
    assert [(n.path, n.access) for n in capabilities.filesystem] == [
        ("/data", Access.READ),
        ("/out", Access.READ_WRITE),
    ]
    assert capabilities.env == ("HTTP_PROXY",)
    get = manifest.actions["get"]
    assert (get.name, get.description, get.timeout) == ("get", "Fetch a URL", 10.0)
    assert get.secret_inputs == ("token",)
    assert thaw_manifest_data(get.inputs)["required"] == ["url"]
    assert thaw_manifest_data(get.examples[0].inputs) == {"url": "http://127.0.0.1:8080/ok"}
    assert thaw_manifest_data(get.examples[0].outputs) == {"status": 200}
    assert manifest.actions["head"].secret_inputs == ()
    assert list(manifest.actions) == ["get", "head"]


def test_command_runtime_and_explicit_image() -> None:
    manifest = load_manifest(FIXTURES / "acme-text" / "plugin.yaml")
    assert manifest.runtime.command == ("python3", "bin/render.py")
    assert manifest.runtime.entrypoint is None and manifest.entrypoint_path is None
    assert manifest.runtime.image == "registry.local/acme-text:2"
    assert manifest.version == Version("2.0.0rc1") and manifest.version.is_prerelease


def test_defaults_of_a_minimal_manifest() -> None:
    manifest = load_manifest(FIXTURES / "minimal")
    assert manifest.runtime.timeout == 30.0
    assert manifest.runtime.pool is None
    assert manifest.runtime.start is StartMode.COLD
    assert manifest.runtime.image == "tools/minimal:0.1"
    assert manifest.description == ""
    assert manifest.capabilities.network is False
    assert manifest.capabilities.filesystem == () and manifest.capabilities.env == ()
    go = manifest.actions["go"]
    assert (go.inputs, go.outputs, go.timeout, go.examples) == (None, None, None, ())
    assert go.input_validator() is None


def test_manifest_is_immutable() -> None:
    manifest = load_manifest(FIXTURES / "acme-http")
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.actions["new"] = manifest.actions["get"]  # type: ignore[index]
    inputs = manifest.actions["get"].inputs
    assert isinstance(inputs, dict) is False
    with pytest.raises(TypeError):
        inputs["properties"]["url"]["type"] = "integer"  # type: ignore[index]


def test_input_validator_is_compiled_from_the_declared_schema() -> None:
    action = load_manifest(FIXTURES / "acme-http").actions["get"]
    validator = action.input_validator()
    assert validator is not None
    assert schema_violations(validator, {"url": "x", "token": "t"}) == []
    (violation,) = schema_violations(validator, {"token": "t"})
    assert violation.message == "missing required key 'url' at the top level"
    assert action.output_validator() is not None


def test_unknown_action_suggests_the_nearest() -> None:
    manifest = load_manifest(FIXTURES / "acme-http")
    with pytest.raises(PluginNotFoundError) as caught:
        manifest.action("gte")
    assert "has no action 'gte' (it has: get, head)" in caught.value.message
    assert caught.value.hint == "did you mean acme/http.get?"


def test_wrong_type_is_located_with_expected_and_found(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("timeout: 5", "timeout: ten"))
    assert where(error) == (8, 14, "actions.get.timeout")
    assert error.message == 'expected number, got string "ten"'
    assert str(error).startswith(f"{tmp_path / 'demo' / 'plugin.yaml'}:8:14: actions.get.timeout: expected number")


def test_typo_in_a_key_suggests_the_nearest_valid_key(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("entrypoint:", "entrypont:"))
    assert where(error) == (5, 3, "runtime.entrypont")
    assert error.message == "unknown key 'entrypont'"
    assert error.hint == "did you mean 'entrypoint'?"


def test_unknown_top_level_key_lists_the_nearest(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "capabilites:\n  network: true\n")
    assert where(error)[2] == "capabilites"
    assert error.hint == "did you mean 'capabilities'?"


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("version: 1.0.0\n", ""))
    assert error.message == "missing required key 'version' at the top level"
    assert where(error)[:2] == (1, 1)


def test_missing_nested_key_points_at_its_parent(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "capabilities:\n  filesystem:\n    - access: read\n")
    assert error.message == "missing required key 'path'"
    assert where(error) == (16, 7, "capabilities.filesystem[0]")


def test_enum_mistake_suggests_a_choice(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "capabilities:\n  filesystem:\n    - {path: /out, access: write}\n")
    assert error.message == 'expected one of read, read-write; got string "write"'
    assert error.hint == "did you mean 'read-write'?"
    assert where(error)[2] == "capabilities.filesystem[0].access"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("namespace: Acme", "namespace", 'string "Acme" does not match the pattern ^[a-z][a-z0-9-]*$'),
        ("name: 9lives", "name", 'string "9lives" does not match the pattern ^[a-z][a-z0-9-]*$'),
    ],
)
def test_identifiers_must_be_lowercase(tmp_path: Path, line: str, field: str, message: str) -> None:
    original = "namespace: acme" if field == "namespace" else "name: demo"
    error = error_for(tmp_path, VALID.replace(original, line))
    assert (error.message, where(error)[2]) == (message, field)
    assert error.hint is not None and "lowercase letters" in error.hint


def test_unquoted_numeric_version_hints_to_quote_it(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("version: 1.0.0", "version: 1.10"))
    assert error.message == "expected string, got number 1.1"
    assert error.hint == "quote the value to make it a string"


def test_invalid_version_is_reported(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("version: 1.0.0", "version: banana"))
    assert error.message == "'banana' is not a valid version"
    assert where(error) == (3, 10, "version")


def test_entrypoint_and_command_are_exclusive(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("  entrypoint: main.py", "  entrypoint: main.py\n  command: [node]"))
    assert error.message == "give only one of 'entrypoint' or 'command', not both"
    assert where(error)[2] == "runtime"
    error = error_for(tmp_path, VALID.replace("  entrypoint: main.py", "  timeout: 3"))
    assert error.message == "needs one of 'entrypoint' or 'command'"


def test_empty_command_and_empty_actions(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("entrypoint: main.py", "command: []"))
    assert (error.message, where(error)[2]) == ("must not be empty", "runtime.command")
    actions_start = VALID.index("actions:")
    error = error_for(tmp_path, VALID[:actions_start] + "actions: {}\n")
    assert (error.message, where(error)[2]) == ("must not be empty", "actions")
    assert error.hint is not None and "at least one action" in error.hint


def test_action_names_follow_the_reference_grammar(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("  get:", "  Get:"))
    assert error.message == "the name 'Get' does not match the pattern ^[a-z][a-z0-9_-]*$"
    assert where(error) == (7, 3, "actions.Get")


@pytest.mark.parametrize(
    ("entrypoint", "files", "message"),
    [
        ("missing.py", ("main.py",), "'missing.py' does not exist in"),
        ("../outside.py", ("main.py",), "'../outside.py' points outside the plugin directory"),
        ("/usr/lib/python3/x.py", ("main.py",), "'/usr/lib/python3/x.py' is an absolute path"),
        ("run.sh", ("run.sh",), "entrypoint 'run.sh' is not a .py file"),
    ],
)
def test_entrypoint_must_be_a_python_file_inside_the_plugin(
    tmp_path: Path, entrypoint: str, files: tuple[str, ...], message: str
) -> None:
    (tmp_path / "outside.py").write_text("", encoding="utf-8")
    error = error_for(tmp_path, VALID.replace("main.py", entrypoint), files=files)
    assert message in error.message
    assert where(error) == (5, 15, "runtime.entrypoint")


def test_start_fork_is_read_into_the_model(tmp_path: Path) -> None:
    manifest = load_manifest(
        plugin(tmp_path, VALID.replace("  entrypoint: main.py", "  entrypoint: main.py\n  start: fork"))
    )
    assert manifest.runtime.start is StartMode.FORK


def test_start_fork_needs_a_python_entrypoint(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("  entrypoint: main.py", "  command: [node, index.js]\n  start: fork"))
    assert error.message.startswith("start: fork needs a Python entrypoint")
    assert error.hint is not None and "runtime.entrypoint" in error.hint
    assert where(error) == (6, 10, "runtime.start")


def test_an_unknown_start_mode_lists_the_choices(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("  entrypoint: main.py", "  entrypoint: main.py\n  start: forked"))
    assert error.message == 'expected one of cold, fork; got string "forked"'
    assert error.hint == "did you mean 'fork'?"
    assert where(error)[2] == "runtime.start"


def test_entrypoint_symlink_out_of_the_plugin_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text("", encoding="utf-8")
    folder = plugin(tmp_path, VALID, files=())
    (folder / "main.py").symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(ManifestError, match="points outside the plugin directory"):
        load_manifest(folder)


def test_relative_command_path_must_exist(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("entrypoint: main.py", "command: [./bin/run, --fast]"))
    assert "'./bin/run' does not exist" in error.message
    assert where(error)[2] == "runtime.command[0]"
    folder = plugin(tmp_path, VALID.replace("entrypoint: main.py", "command: [node, index.js]"), files=())
    assert load_manifest(folder).runtime.command == ("node", "index.js")


def test_invalid_inputs_schema_is_located_inside_the_schema(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("url: {type: string}", "url: {type: strin}"))
    assert where(error) == (13, 21, "actions.get.inputs.properties.url.type")
    assert 'unknown type string "strin"' in error.message
    assert error.hint == "did you mean 'string'?"


def test_invalid_pattern_in_inputs_schema(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("url: {type: string}", "url: {type: string, pattern: '(('}"))
    assert error.message == 'expected a valid regex, got string "(("'
    assert where(error)[2] == "actions.get.inputs.properties.url.pattern"


def test_remote_and_dangling_refs_are_refused(tmp_path: Path) -> None:
    remote = VALID.replace("url: {type: string}", "url: {$ref: 'http://127.0.0.1:9/schema.json'}")
    error = error_for(tmp_path, remote)
    assert "points outside the schema" in error.message
    assert where(error)[2] == "actions.get.inputs.properties.url.$ref"
    dangling = VALID.replace("url: {type: string}", "url: {$ref: '#/definitions/nope'}")
    assert "does not resolve inside the schema" in error_for(tmp_path, dangling).message


def test_local_refs_work(tmp_path: Path) -> None:
    manifest = VALID.replace("url: {type: string}", "url: {$ref: '#/definitions/url'}")
    manifest += "      definitions:\n        url: {type: string, minLength: 1}\n"
    action = load_manifest(plugin(tmp_path, manifest)).actions["get"]
    validator = action.input_validator()
    assert validator is not None
    assert [v.message for v in schema_violations(validator, {"url": ""})] == ["must not be empty"]


def test_secret_keyword_is_checked(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("url: {type: string}", "url: {type: string, secret: yes-please}"))
    assert (error.message, where(error)[2]) == (
        "`secret` must be true or false",
        "actions.get.inputs.properties.url.secret",
    )
    outputs = VALID + "    outputs:\n      properties:\n        key: {type: string, secret: true}\n"
    assert error_for(tmp_path, outputs).message == "`secret` marks inputs only"


def test_examples_must_fit_the_declared_schemas(tmp_path: Path) -> None:
    manifest = VALID + "    examples:\n      - inputs: {url: 5}\n"
    error = error_for(tmp_path, manifest)
    assert error.message == "does not fit the action's inputs schema: expected string, got integer 5"
    assert where(error) == (15, 23, "actions.get.examples[0].inputs.url")


def test_all_problems_are_listed_in_file_order_and_counted(tmp_path: Path) -> None:
    manifest = VALID.replace("namespace: acme", "namespace: Acme").replace("timeout: 5", "timeout: -1")
    manifest = manifest.replace("entrypoint:", "entrypont:")
    folder = plugin(tmp_path, manifest)
    problems = manifest_problems(folder)
    assert [p.location.field for p in problems if p.location] == [
        "namespace",
        "runtime.entrypont",
        "actions.get.timeout",
    ]
    with pytest.raises(ManifestError) as caught:
        load_manifest(folder)
    assert caught.value.hint is not None and caught.value.hint.endswith("2 more problems in this file")


def test_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"is not a plugin directory: it has no plugin\.yaml"):
        load_manifest(tmp_path)


def test_broken_yaml_fixture_reports_its_position() -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(FIXTURES / "broken-yaml")
    assert where(caught.value)[:2] == (8, 1)
    assert "invalid YAML" in caught.value.message


def test_manifests_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    folder = plugin(tmp_path, VALID)
    first = load_manifest(folder)
    assert load_manifest(folder) is first
    assert load_manifest(folder / "plugin.yaml") is first
    (folder / "plugin.yaml").write_text(VALID.replace("1.0.0", "1.0.1"), encoding="utf-8")
    assert load_manifest(folder).version == Version("1.0.1")


def _valid_data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / "acme-http" / "plugin.yaml").read_text(encoding="utf-8"))
    return loaded


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_manifests_only_ever_raise_manifest_errors(tmp_path: Path, data: st.DataObject) -> None:
    manifest = _valid_data()
    target = data.draw(st.sampled_from(_paths(manifest)[1:]))
    replacement = data.draw(JUNK)
    parent = manifest
    for part in target[:-1]:
        parent = parent[part]
    parent[target[-1]] = replacement
    folder = plugin(tmp_path, yaml.safe_dump(manifest), name="mutated")
    try:
        load_manifest(folder)
    except ManifestError as exc:
        assert exc.location is not None and exc.location.file == folder / "plugin.yaml"


COMMAND_MANIFEST = """\
namespace: acme
name: demo
version: 1.0.0
runtime:
  command: [bin/run.py, --quiet]
actions:
  go: {}
"""


def test_a_cached_manifest_notices_when_its_files_go_or_move_out(tmp_path: Path) -> None:
    folder = plugin(tmp_path, COMMAND_MANIFEST, files=("bin/run.py",))
    first = load_manifest(folder)
    assert load_manifest(folder) is first
    (folder / "bin" / "run.py").unlink()  # a subfolder changed: the plugin folder's own mtime did not
    with pytest.raises(ManifestError, match=r"'bin/run\.py' does not exist"):
        load_manifest(folder)
    outside = tmp_path / "outside.py"
    outside.write_text("", encoding="utf-8")
    (folder / "bin" / "run.py").symlink_to(outside)
    with pytest.raises(ManifestError, match=r"'bin/run\.py' points outside the plugin directory"):
        load_manifest(folder)
    (folder / "bin" / "run.py").unlink()
    (folder / "bin" / "real.py").write_text("", encoding="utf-8")
    (folder / "bin" / "run.py").symlink_to(folder / "bin" / "real.py")
    assert load_manifest(folder).runtime.command == ("bin/run.py", "--quiet")


@pytest.mark.parametrize(
    ("runtime", "serves"),
    [
        ("entrypoint: main.py", True),  # a Python entrypoint: the SDK's run() serves
        ("command: [node, index.js]", False),  # any language: one-shot unless it says so
        ("command: [node, index.js]\n  pool: {size: 2}", True),  # asking for a pool says it serves
        ("command: [node, index.js]\n  serve: true", True),
        ("entrypoint: main.py\n  serve: false", False),
    ],
)
def test_whether_a_plugin_serves_is_declared_or_follows_how_it_starts(
    tmp_path: Path, runtime: str, serves: bool
) -> None:
    text = f"namespace: acme\nname: demo\nversion: 1.0.0\nruntime:\n  {runtime}\nactions:\n  go: {{}}\n"
    assert load_manifest(plugin(tmp_path, text)).runtime.serve is serves


def test_serve_false_with_a_pool_is_a_contradiction_at_its_line(tmp_path: Path) -> None:
    text = "namespace: acme\nname: demo\nversion: 1.0.0\nruntime:\n  entrypoint: main.py\n  pool: {size: 2}\n"
    error = error_for(tmp_path, text + "  serve: false\nactions:\n  go: {}\n")
    assert "serve: false contradicts runtime.pool" in error.message
    assert where(error)[0] == 7
    assert "remove runtime.pool" in (error.hint or "")


def test_a_pool_without_a_size_caps_nothing(tmp_path: Path) -> None:
    text = "namespace: acme\nname: demo\nversion: 1.0.0\nruntime:\n  entrypoint: main.py\n  pool: {idle_timeout: 5}\n"
    pool = load_manifest(plugin(tmp_path, text + "actions:\n  go: {}\n")).runtime.pool
    assert pool == PoolSettings(size=None, idle_timeout=5.0, recycle_after=1000)


VERSION_PARTS = st.sampled_from(
    ["0", "1", "10", "007", "2", "99", "01", "\u0661", "1a1", "1rc2", "1.post3", "1-dev", "V1", "1+Local"]
)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(VERSION_PARTS, min_size=1, max_size=4))
def test_version_text_is_the_normalised_version_parsed_only_when_not_plainly_normal(parts: list[str]) -> None:
    raw = ".".join(parts)
    try:
        expected = str(Version(raw))
    except ValueError:
        return  # the checks refuse such a manifest: never modelled
    data = {"namespace": "acme", "name": "v", "version": raw, "runtime": {"entrypoint": "main.py"}, "actions": {}}
    manifest = to_model(data, plugin_dir=Path("/p"), manifest_path=Path("/p/plugin.yaml"))

    assert manifest.version_text == expected
    assert str(manifest.version) == expected
