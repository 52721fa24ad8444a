"""The test helper for plugin authors: in-process, one-shot subprocess, warm worker, pytest fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_sdk import DefinitionError, ProtocolError
from workflow_plugin_sdk._action import default_registry
from workflow_plugin_sdk.testing import call_action, load_plugin, run_plugin, serve_plugin

Entrypoint = Callable[[str], Path]

TEXT_PLUGIN = Path(__file__).parents[3] / "examples" / "plugins" / "text" / "main.py"
SDK_DOC = Path(__file__).parents[3] / "docs" / "sdk.md"


def _plugin_file(folder: Path, body: str) -> Path:
    """A small real plugin written for one test (for behaviour no fixture plugin should have)."""
    path = folder / "main.py"
    path.write_text(
        "from workflow_plugin_sdk import ActionError, define_action, run\n"
        + textwrap.dedent(body)
        + "\nif __name__ == '__main__':\n    run()\n",
        encoding="utf-8",
    )
    return path


# load_plugin and call_action: in this process


def test_load_plugin_twice_gives_two_working_registries() -> None:
    before = default_registry.names()
    first = load_plugin(TEXT_PLUGIN)
    second = load_plugin(TEXT_PLUGIN)
    assert first is not second
    assert first.names() == second.names() == ["echo", "render", "words"]
    assert call_action("words", {"text": "a b"}, registry=first).outputs == {"words": ["a", "b"], "count": 2}
    assert call_action("words", {"text": "c"}, registry=second).outputs == {"words": ["c"], "count": 1}
    assert default_registry.names() == before, "loading a plugin must leave the default registry alone"


def test_load_plugin_finds_sibling_modules_and_an_own_registry(fixture_plugin: Entrypoint) -> None:
    path_before = list(sys.path)
    actions = load_plugin(fixture_plugin("own-registry"))
    assert actions.names() == ["count", "whoami"]
    assert call_action("count", {"text": "one two three"}, registry=actions).outputs == {"words": 3}
    assert sys.path == path_before


def test_load_plugin_of_a_file_without_actions_says_so(tmp_path: Path) -> None:
    path = tmp_path / "main.py"
    path.write_text("VALUE = 1\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="defines no actions"):
        load_plugin(path)


def test_a_plugin_that_fails_to_load_leaves_the_default_registry_alone(tmp_path: Path) -> None:
    before = default_registry.names()
    path = _plugin_file(
        tmp_path,
        """
        @define_action("go")
        def go(ctx, inputs):
            return {}

        @define_action("go")
        def go_again(ctx, inputs):
            return {}
        """,
    )
    with pytest.raises(DefinitionError, match="defined twice"):
        load_plugin(path)
    assert default_registry.names() == before


def test_call_action_captures_logs_as_records() -> None:
    result = call_action("words", {"text": "x y z"}, registry=load_plugin(TEXT_PLUGIN))
    assert result.ok
    assert result.logs == [{"level": "info", "message": "counted 3 words", "structured": True}]
    assert result.stderr == '{"level": "info", "message": "counted 3 words"}\n'
    assert result.returncode is None


def test_a_failed_call_says_why_when_asked_for_outputs() -> None:
    result = call_action("render", {"template": "{x}"}, registry=load_plugin(TEXT_PLUGIN))
    assert not result.ok
    assert result.error is not None and result.error["type"] == "ActionError"
    with pytest.raises(AssertionError, match="action failed with ActionError: cannot render the template"):
        _ = result.outputs


def test_call_action_passes_context_and_a_default_one(fixture_plugin: Entrypoint) -> None:
    actions = load_plugin(fixture_plugin("own-registry"))
    default = call_action("whoami", registry=actions).outputs
    assert (default["run_id"], default["workflow"], default["task"]) == ("test-run", "test", "test")
    given = call_action("whoami", registry=actions, context={"run_id": "r9", "workflow_dir": "/w"}).outputs
    assert (given["run_id"], given["task"], given["workflow_dir"]) == ("r9", None, "/w")


def test_call_action_goes_through_json_like_a_real_call(fixture_plugin: Entrypoint) -> None:
    failing = load_plugin(fixture_plugin("failing"))
    assert call_action("nan", registry=failing).error["type"] == "InvalidOutputs"  # type: ignore[index]
    echoed = call_action("echo", {"when": (1, 2)}, registry=load_plugin(TEXT_PLUGIN))
    assert echoed.outputs == {"when": [1, 2]}, "a tuple reaches the action as a JSON array"
    with pytest.raises(ProtocolError, match="not JSON-serialisable"):
        call_action("echo", {"path": Path()}, registry=load_plugin(TEXT_PLUGIN))


# run_plugin: one-shot subprocess


def test_run_plugin_runs_a_real_process() -> None:
    result = run_plugin(TEXT_PLUGIN, "words", {"text": "one two"})
    assert result.returncode == 0
    assert result.outputs == {"words": ["one", "two"], "count": 2}
    assert result.logs == [{"level": "info", "message": "counted 2 words", "structured": True}]
    failed = run_plugin(TEXT_PLUGIN, "render", {"template": "{name}"})
    assert failed.returncode == 1
    assert failed.error is not None and "KeyError('name')" in failed.error["message"]


def test_run_plugin_gives_the_protocol_environment_and_folder(fixture_plugin: Entrypoint) -> None:
    entrypoint = fixture_plugin("own-registry")
    outputs = run_plugin(entrypoint, "whoami", env={"GREETING": "hi"}).outputs
    assert outputs["cwd"] == str(entrypoint.parent)
    assert set(outputs["environment"]) <= {"PATH", "LANG", "LC_CTYPE", "GREETING"}
    assert "GREETING" in outputs["environment"]
    assert not any(name.startswith("PYTEST") for name in outputs["environment"])


def test_run_plugin_reports_a_non_protocol_reply_with_the_plugins_stderr(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nsys.exit(4)\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        run_plugin(script, "go")
    message = str(caught.value)
    assert "response is not valid JSON" in message
    assert "exit code 4" in message
    assert message.endswith("--- plugin stderr ---\noops\n")


def test_run_plugin_timeout_kills_the_whole_process_group(tmp_path: Path, alive: Callable[[int], bool]) -> None:
    pid_file = tmp_path / "grandchild.pid"
    path = _plugin_file(
        tmp_path,
        f"""
        import subprocess, time
        from pathlib import Path

        @define_action("hang")
        def hang(ctx, inputs):
            child = subprocess.Popen(["sleep", "60"])
            Path({str(pid_file)!r}).write_text(str(child.pid))
            time.sleep(60)
            return {{}}
        """,
    )
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_plugin(path, "hang", timeout=2)
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the plugin's child outlived the timeout"


# serve_plugin: a warm worker


def test_serve_plugin_calls_in_order_with_logs_per_call(fixture_plugin: Entrypoint) -> None:
    with serve_plugin(fixture_plugin("noisy")) as worker:
        assert worker.actions == ["print-secret", "shout"]
        first = worker.call("shout", {"text": "a"})
        second = worker.call("print-secret", {"token": "hunter22-x"}, secret_inputs=["token"])
        assert first.outputs == {"text": "A"}
        assert (first.response.get("id"), second.response.get("id")) == (1, 2)
        assert first.logs[-1] == {"level": "info", "message": "shouting", "data": {"length": 1}, "structured": True}
        assert "printed by print()" in first.stderr
        assert [record["message"] for record in second.logs] == ["the token is ***", "the token is '***'"]
        assert worker.returncode is None
    assert worker.returncode == 0
    messages = [record["message"] for record in worker.logs]
    assert messages[0] == "printed while the plugin was imported"
    assert messages.count("shouting") == 1
    assert "hunter22" not in worker.stderr


def test_serve_plugin_keeps_the_workers_stderr_off_ours(
    fixture_plugin: Entrypoint, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve_plugin(fixture_plugin("noisy")) as worker:
        worker.call("shout", {"text": "quiet"})
    out, err = capfd.readouterr()
    assert "printed by print()" not in out + err
    assert "shouting" not in out + err
    assert "printed by print()" in worker.stderr


def test_serve_plugin_call_raw_sends_any_line(fixture_plugin: Entrypoint) -> None:
    with serve_plugin(fixture_plugin("noisy")) as worker:
        broken = worker.call_raw(b'{"protocol": 1, "action": "shout", "id": 77}')
        assert broken.error is not None and broken.error["type"] == "ProtocolError"
        assert broken.response.get("id") == 77
        assert worker.call("shout", {"text": "still here"}).ok


def test_serve_plugin_reports_a_plugin_without_serve_loop(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text("import sys\nprint('no loop here')\nprint('why', file=sys.stderr)\n", encoding="utf-8")
    expected = r"(?s)did not start the serve loop: ready line is not valid JSON.*exit code 0.*why"
    with pytest.raises(ProtocolError, match=expected), serve_plugin(script):
        pass


def test_serve_plugin_reports_a_worker_that_died(tmp_path: Path) -> None:
    path = _plugin_file(
        tmp_path,
        """
        import os

        @define_action("die")
        def die(ctx, inputs):
            ctx.log.error("going down")
            os._exit(5)
        """,
    )
    with (
        serve_plugin(path) as worker,
        pytest.raises(ProtocolError, match=r"(?s)response is empty.*exit code 5.*going down"),
    ):
        worker.call("die")


def test_serve_plugin_times_out_a_stuck_call(tmp_path: Path) -> None:
    path = _plugin_file(
        tmp_path,
        """
        import time

        @define_action("stuck")
        def stuck(ctx, inputs):
            time.sleep(60)
        """,
    )
    started = time.monotonic()
    with serve_plugin(path, timeout=1.5) as worker, pytest.raises(TimeoutError, match="no response"):
        worker.call("stuck")
    assert time.monotonic() - started < 10
    assert worker.returncode is not None


# The pytest fixture, from a plain test file with no set-up


def _doc_block(name: str) -> str:
    blocks: list[str] = re.findall(
        rf"```python\n# {re.escape(name)}\n(.*?)```", SDK_DOC.read_text(encoding="utf-8"), re.DOTALL
    )
    assert len(blocks) == 1, f"docs/sdk.md should show {name} once"
    return blocks[0]


def test_plugin_harness_fixture_works_with_no_set_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK guide's plugin and test file, as they stand, in a fresh pytest run."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(main=_doc_block("main.py"), test_main=_doc_block("test_main.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_harness_fixture_reports_failures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(main=_doc_block("main.py"))
    pytester.makepyfile(
        test_wrong="""
        from pathlib import Path

        def test_expects_the_wrong_greeting(plugin_harness):
            result = plugin_harness.run_plugin(Path(__file__).parent / "main.py", "greet")
            assert result.outputs == {"greeting": "goodbye"}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*'hello, world'*"])


def test_the_pytest_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [point for point in entry_points(group="pytest11") if point.value == "workflow_plugin_sdk.pytest_plugin"]
    assert len(found) == 1
    assert os.fspath(found[0].load().__file__).endswith("pytest_plugin.py")
