"""check_plugin on real sh plugins in a local process: the report's verdicts, the probe call, bad runtimes."""

from __future__ import annotations

import pytest

from workflow_plugin_runtime import (
    CheckName,
    CheckStatus,
    RuntimeKind,
    RuntimeUnavailableError,
    check_plugin,
    load_manifest,
)
from workflow_plugin_runtime.conformance.kit import probe_call

from .conftest import ANSWER


def test_a_plugin_following_the_protocol_passes_and_the_serve_loop_is_skipped(sh_plugin):
    manifest = sh_plugin("request=$(cat)\n" + ANSWER)

    report = check_plugin(manifest)

    assert report.ok, report.failed
    found = {(result.check, result.subject): result.status for result in report.checks}
    assert found[CheckName.EXAMPLE, "greet #1"] is CheckStatus.PASSED
    assert found[CheckName.SERVE_LOOP, ""] is CheckStatus.SKIPPED
    assert [result.check for result in report.checks] == list(CheckName)
    assert report.timings.cold_start_s is not None
    assert report.timings.warm_call_s is None
    assert report.to_json()["ok"] is True


def test_without_examples_the_example_check_is_skipped_with_a_hint(sh_plugin):
    manifest = sh_plugin("request=$(cat)\n" + ANSWER, examples="[]")

    report = check_plugin(manifest)

    example = report.checks[0]
    assert (example.check, example.status) == (CheckName.EXAMPLE, CheckStatus.SKIPPED)
    assert example.hint is not None
    assert "examples" in example.hint
    assert report.ok


def test_the_probe_call_is_the_first_example_else_the_first_action_with_no_inputs(sh_plugin):
    with_example = probe_call(sh_plugin("", examples="[{inputs: {name: x}, outputs: {greeting: y}}]"))
    without = probe_call(sh_plugin("", examples="[]"))

    assert (with_example.action.name, dict(with_example.inputs), with_example.expected) == (
        "greet",
        {"name": "x"},
        {"greeting": "y"},
    )
    assert (without.action.name, dict(without.inputs), without.expected) == ("greet", {}, None)


def test_a_failed_check_makes_the_report_fail_and_names_only_it(sh_plugin):
    manifest = sh_plugin('request=$(cat)\nprintf "%s\\n" "$request" >&2\n' + ANSWER)

    report = check_plugin(manifest)

    assert not report.ok
    assert [result.check for result in report.failed] == [CheckName.SECRET_LEAK]
    assert report.to_json()["checks"][-1]["status"] == "failed"


def test_a_plugin_whose_interpreter_is_missing_cannot_be_checked(sh_plugin):
    manifest = sh_plugin("request=$(cat)\n" + ANSWER)
    yaml_path = manifest.manifest_path
    yaml_path.write_text(yaml_path.read_text().replace("[sh, main.sh]", "[no-such-shell-here, main.sh]"))
    with pytest.raises(RuntimeUnavailableError, match="cannot start the plugin"):
        check_plugin(load_manifest(manifest.plugin_dir), runtime=RuntimeKind.PROCESS)
