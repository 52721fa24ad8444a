"""`workflow run --pool` end to end: warm workers as big as the run, honest metrics, no silent fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
SHELL_PLUGIN = Path(__file__).parents[3] / "examples" / "protocol" / "greeter-sh"  # docs/protocol.md's sh plugin
TOKEN = "Zq9-secret-value-7731"


def naps(count: int, journal: Path, *, uses: str = "tests/e2e.nap", seconds: float = 1.0) -> str:
    tasks = "".join(
        f"  nap{i}: {{uses: {uses}, inputs: {{seconds: {seconds}, journal: '{journal}'}}}}\n" for i in range(count)
    )
    return f"name: naps\ntasks:\n{tasks}"


def test_the_pool_grows_to_the_runs_concurrency(run_workflow, tmp_path):
    journal = tmp_path / "journal.jsonl"
    done, record = run_workflow(naps(4, journal, seconds=2.0), "--pool", "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    naps_seen = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(naps_seen) == 4
    assert max(n["start"] for n in naps_seen) < min(n["end"] for n in naps_seen), "the four naps did not overlap"
    for task in record["tasks"].values():
        assert task["metrics"]["runtime"] == "process"
        assert task["metrics"]["queued_s"] < 0.5  # nobody waited for a worker


def test_a_capped_pool_records_the_wait_apart_from_the_duration(run_workflow, tmp_path):
    plugins = tmp_path / "plugins"
    shutil.copytree(PLUGINS / "e2e", plugins / "e2e")
    manifest = plugins / "e2e" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("  timeout: 20\n", "  timeout: 20\n  pool: {size: 1}\n"))
    journal = tmp_path / "journal.jsonl"
    done, record = run_workflow(naps(3, journal), "--concurrency", "3", plugins=plugins)
    assert done.returncode == 0, done.stderr
    metrics = [task["metrics"] for task in record["tasks"].values()]
    assert all(m["warm"] is (m["queued_s"] > 0) for m in metrics)  # one worker: who waited got it warm
    queued = sorted(m["queued_s"] for m in metrics)
    assert queued[1] >= 0.9 and queued[2] >= 1.9, queued  # behind one nap, then behind two
    assert max(m["duration_s"] for m in metrics) < 2.5, metrics  # each its own nap, never the wait


def test_a_timeout_records_the_same_ending_warm_or_cold(run_workflow, tmp_path):
    flow = f"""
name: slow
tasks:
  slow:
    uses: tests/e2e.nap
    inputs: {{seconds: 60, journal: '{tmp_path / "journal"}'}}
    timeout: 1
"""
    endings = {}
    for mode in ((), ("--pool",)):
        done, record = run_workflow(flow, *mode)
        assert done.returncode == 1, done.stderr
        task = record["tasks"]["slow"]
        assert task["error"]["kind"] == "timeout"
        endings[mode] = (task["error"].get("exit_code"), task["metrics"]["exit_code"], task["metrics"]["signal"])
    # The SDK plugin dies of the SIGTERM a timeout sends first, whether it ran one-shot or as a warm worker.
    assert endings[()] == endings[("--pool",)] == (None, None, 15)


def test_a_plugin_started_by_command_is_never_asked_to_serve(run_workflow, tmp_path):
    journal = tmp_path / "journal.jsonl"
    flow = f"""
name: oneshot
env: {{JOURNAL: '{journal}'}}
tasks:
  first: {{uses: tests/oneshot.hello}}
  second: {{needs: [first], uses: tests/oneshot.hello}}
"""
    done, record = run_workflow(flow, "--pool")
    assert done.returncode == 0, done.stderr
    starts = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [start["serve"] for start in starts] == [None, None]  # two one-shot starts, no ready-line wait
    assert record["warnings"] == []
    assert "warning" not in done.stderr


def test_a_command_plugin_that_says_it_serves_is_kept_warm(run_workflow, tmp_path):
    shutil.copytree(SHELL_PLUGIN, tmp_path / "plugins" / "greeter-sh")
    flow = """
name: shell
tasks:
  first: {uses: acme/greeter.greet, inputs: {name: one}}
  second: {needs: [first], uses: acme/greeter.greet, inputs: {name: two}}
"""
    done, record = run_workflow(flow, "--pool", plugins=tmp_path / "plugins")
    assert done.returncode == 0, done.stderr
    assert record["tasks"]["second"]["outputs"] == {"greeting": "hello, two"}
    assert record["tasks"]["second"]["metrics"]["warm"] is True


def test_a_plugin_that_does_not_serve_falls_back_with_one_warning(run_workflow):
    flow = """
name: legacy
tasks:
  first: {uses: tests/legacy.hello}
  second: {uses: tests/legacy.hello}
  third: {needs: [first, second], uses: tests/legacy.hello}
"""
    done, record = run_workflow(flow, "--pool")
    assert done.returncode == 0, done.stderr
    assert {task["status"] for task in record["tasks"].values()} == {"succeeded"}
    assert done.stderr.count("tests/legacy did not start as a warm worker") == 1, done.stderr
    assert "runtime.serve: false" in done.stderr
    assert max(task["metrics"]["queued_s"] for task in record["tasks"].values()) >= 2.9  # the ready wait
    assert [w["message"] for w in record["warnings"]] == [
        "tests/legacy did not start as a warm worker: it wrote no ready line on stdout within 3 s; "
        "its calls run cold (one process per call)"
    ]


@pytest.mark.parametrize(("mode", "args"), [("a one-shot call", ()), ("a warm worker", ("--pool",))])
def test_print_output_on_stdout_is_quoted_masked_and_cut(run_workflow, mode, args):
    flow = "name: chatty\ntasks:\n  chat: {uses: tests/raw.chatty, inputs: {token: '{{ secrets.TOKEN }}'}}\n"
    done, record = run_workflow(flow, *args, env={"WORKFLOW_SECRET_TOKEN": TOKEN})
    assert done.returncode == 1, done.stderr
    error = record["tasks"]["chat"]["error"]
    assert error["kind"] == "protocol"
    message = error["message"]
    assert "logs and print() output belong on stderr" in message
    assert f"it wrote: 'debug from {mode}: ..." in message
    assert "token=*** xxx" in message and message.endswith("x'...")  # masked, then cut at 120 characters
    assert "x" * 100 not in message
    assert TOKEN[:4] not in message and TOKEN[:4] not in done.stderr


def test_a_scaffolded_plugin_says_it_serves_and_is_kept_warm(run_cli, run_workflow, tmp_path):
    made = run_cli("plugin", "new", "acme/hello")
    assert made.returncode == 0, made.stderr
    assert "  serve: true" in (tmp_path / "plugins" / "hello" / "plugin.yaml").read_text()
    flow = """
name: hello
tasks:
  first: {uses: acme/hello.greet, inputs: {name: one}}
  second: {needs: [first], uses: acme/hello.greet, inputs: {name: two}}
"""
    done, record = run_workflow(flow, "--pool", plugins=tmp_path / "plugins")
    assert done.returncode == 0, done.stderr
    assert record["tasks"]["second"]["outputs"] == {"greeting": "Hello, two!"}
    assert record["tasks"]["second"]["metrics"]["warm"] is True


@pytest.mark.sandbox
def test_a_restricted_workflow_with_the_pool_runs_in_warm_sandboxes(run_workflow):
    flow = """
name: warm-sandbox
security: restricted
tasks:
  first: {uses: tests/e2e.number, inputs: {value: 1}}
  second: {needs: [first], uses: tests/e2e.number, inputs: {value: 2}}
"""
    done, record = run_workflow(flow, "--pool", "--backend", "sandbox")
    assert done.returncode == 0, done.stderr
    first, second = (record["tasks"][name] for name in ("first", "second"))
    assert second["outputs"] == {"value": 2}
    assert [task["metrics"]["runtime"] for task in (first, second)] == ["sandbox", "sandbox"]
    assert [task["metrics"]["warm"] for task in (first, second)] == [False, True]  # one sandbox served both
    assert second["provenance"]["runtime"] == "sandbox"
    assert record["warnings"] == []
