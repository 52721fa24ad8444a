"""``workflow plugin test``: the conformance kit through the real CLI, on real runtimes and real plugins.

Good plugins (the ``plugin new`` scaffold, the POSIX sh plugin of
docs/protocol.md) pass every check on every runtime; each fixture under
``fixtures/conformance`` breaks one check and must fail it, with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).parent / "fixtures" / "conformance"
SHELL_GREETER = Path(__file__).parents[3] / "examples" / "protocol" / "greeter-sh"  # the plugin docs/protocol.md shows
PROTOCOL_DOC = Path(__file__).parents[3] / "docs" / "protocol.md"
CHECKS = [
    "example",
    "one-response",
    "response-shape",
    "stdin-to-eof",
    "malformed-request",
    "unknown-action",
    "serve-loop",
    "sigterm",
    "secret-leak",
]


def statuses(document: dict) -> dict[str, str]:
    return {check["check"]: check["status"] for check in document["checks"]}


def kit_json(run_cli, target: Path | str, *args: str, **options) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = run_cli("plugin", "test", str(target), "--json", *args, **options)
    assert done.returncode in {0, 1}, done.stderr
    return done, json.loads(done.stdout)


def new_plugin(run_cli, tmp_path: Path) -> tuple[str, Path]:
    """A fresh ``plugin new`` scaffold with a name no other test uses (so its image tag is its own)."""
    ref = f"kit{uuid.uuid4().hex[:10]}/hello"
    done = run_cli("plugin", "new", ref, "--dir", str(tmp_path / "hello"))
    assert done.returncode == 0, done.stderr
    return ref, tmp_path / "hello"


@pytest.mark.parametrize("runtime", ["process", pytest.param("sandbox", marks=pytest.mark.sandbox)])
def test_the_scaffold_passes_every_check(run_cli, tmp_path, runtime):
    _, folder = new_plugin(run_cli, tmp_path)

    done, document = kit_json(run_cli, folder, "--runtime", runtime)

    assert done.returncode == 0, document
    assert statuses(document) == dict.fromkeys(CHECKS, "passed")
    assert document["runtime"] == runtime
    assert document["timings"]["cold_start_s"] > 0
    assert 0 < document["timings"]["warm_call_s"] < document["timings"]["cold_start_s"]


@pytest.mark.docker
def test_the_scaffold_passes_every_check_in_its_docker_image(run_cli, tmp_path):
    ref, folder = new_plugin(run_cli, tmp_path)
    tag = f"{ref}:0.1.0"
    try:
        built = run_cli("plugin", "build", str(folder))
        assert built.returncode == 0, built.stderr

        done, document = kit_json(run_cli, folder, "--runtime", "docker", timeout=300)

        assert done.returncode == 0, document
        assert statuses(document) == dict.fromkeys(CHECKS, "passed")
        assert document["timings"]["warm_call_s"] is not None
    finally:
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)


@pytest.mark.parametrize("runtime", ["process", pytest.param("sandbox", marks=pytest.mark.sandbox)])
def test_the_protocol_docs_sh_plugin_passes_every_check(run_cli, runtime):
    done, document = kit_json(run_cli, SHELL_GREETER, "--runtime", runtime)

    assert done.returncode == 0, document
    assert statuses(document) == dict.fromkeys(CHECKS, "passed")


def test_the_sh_fixture_is_the_plugin_docs_protocol_md_shows():
    doc = PROTOCOL_DOC.read_text(encoding="utf-8")
    section = doc[doc.index("## A complete plugin in POSIX sh") :]

    assert re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0] == (SHELL_GREETER / "plugin.yaml").read_text()
    assert re.findall(r"```sh\n(#!/bin/sh\n.*?)```", section, re.DOTALL)[0] == (SHELL_GREETER / "main.sh").read_text()


BROKEN = [
    ("example-mismatch", "example", 'outputs {"greeting": "goodbye"} differ from the example\'s {"greeting": "hello"}'),
    ("two-responses", "one-response", "2 lines on stdout; the first: greeting..."),
    ("bad-shape", "response-shape", "not a valid response: response field 'outputs': expected object, got missing"),
    ("first-chunk-only", "stdin-to-eof", "stopped reading stdin after "),
    ("crashes-on-bad-json", "malformed-request", "0 lines on stdout instead of one error response (exit code 1"),
    ("greets-any-action", "unknown-action", "answered ok: true to action 'conformance-probe-no-such-action'"),
    ("serve-claimed", "serve-loop", "it wrote no ready line on stdout within"),
    ("ignores-sigterm", "sigterm", "still running 1 s after SIGTERM, so it was killed (SIGKILL)"),
    ("logs-its-request", "secret-leak", "the secret input (conformance_probe_secret) appears unmasked in log line 1"),
]


@pytest.mark.parametrize(("fixture", "check", "reason"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_plugin_breaking_a_check_fails_it_with_the_reason(run_cli, fixture, check, reason):
    done, document = kit_json(run_cli, CONFORMANCE / fixture)

    assert done.returncode == 1
    assert document["ok"] is False
    failed = [result for result in document["checks"] if result["status"] == "failed"]
    assert check in {result["check"] for result in failed}
    found = next(result for result in failed if result["check"] == check)
    assert reason in found["reason"]
    assert found["hint"]


def test_the_secret_never_appears_in_the_report(run_cli):
    done = run_cli("plugin", "test", str(CONFORMANCE / "logs-its-request"))

    assert done.returncode == 1
    assert "conformance-" not in done.stdout.replace("conformance-probe-no-such-action", "")
    assert "conformance-" not in done.stderr


def test_the_text_report_shows_each_check_reason_and_hint(run_cli):
    done = run_cli("plugin", "test", str(CONFORMANCE / "greets-any-action"))

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("conformance/greets-any-action 0.1.0 on the process runtime (")
    row = next(line for line in lines if line.startswith("unknown-action"))
    assert "failed" in row
    assert "answered ok: true to action 'conformance-probe-no-such-action'" in row
    assert any("hint: answer {" in line for line in lines)
    assert lines[-1] == "1 of 9 checks failed"
    assert "cold start: " in done.stdout


def test_json_is_one_document_of_the_documented_shape(run_cli):
    done, document = kit_json(run_cli, SHELL_GREETER)

    assert sorted(document) == ["checks", "ok", "plugin", "plugin_dir", "runtime", "timings", "version"]
    assert (document["plugin"], document["version"], document["ok"]) == ("acme/greeter", "1.0.0", True)
    assert document["plugin_dir"] == str(SHELL_GREETER)
    for check in document["checks"]:
        assert sorted(check) == ["check", "hint", "reason", "status", "subject"]
    assert document["checks"][0]["subject"] == "greet #1"
    assert sorted(document["timings"]) == ["cold_start_s", "warm_call_s"]
    assert done.stderr == ""


def test_a_ref_is_resolved_on_the_plugins_path(run_cli):
    done, document = kit_json(run_cli, "acme/greeter", "--plugins-path", str(SHELL_GREETER.parent))

    assert done.returncode == 0
    assert document["plugin_dir"] == str(SHELL_GREETER)


def test_nothing_is_left_running_after_a_plugin_that_ignores_sigterm(run_cli, processes_marked):
    done = run_cli("plugin", "test", str(CONFORMANCE / "ignores-sigterm"))

    assert done.returncode == 1
    assert processes_marked(str(CONFORMANCE / "ignores-sigterm")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("./no-such-plugin",), "no-such-plugin"),
        (("nobody/nothing",), "nobody/nothing"),
        ((str(SHELL_GREETER), "--runtime", "vm"), "'vm' is not a runtime; use one of: process, sandbox, docker"),
    ],
)
def test_bad_input_exits_2_with_one_message(run_cli, args, message):
    done = run_cli("plugin", "test", *args)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_runtime_that_cannot_run_here_exits_2_saying_why(run_cli, tmp_path):
    socket = tmp_path / "no-daemon.sock"

    done = run_cli(
        "plugin", "test", str(SHELL_GREETER), "--runtime", "docker", "--json", env={"DOCKER_HOST": f"unix://{socket}"}
    )

    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "runtime_unavailable"
    assert f"acme/greeter: no Docker daemon: nothing listens at {socket}" in error["message"]
