"""Every failure kind a call can end in, through the real executor and real plugin processes.

``template`` failures belong to the scheduler (templates are resolved before a
call is prepared) and ``worker_lost`` to distributed executors; both are
tested where they arise.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from workflow_plugin_runtime.config import RuntimeKind
from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager, effective_timeout
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.permissions import Permissions, SecurityMode

PLUGINS = Path(__file__).parents[1] / "fixtures" / "executor_plugins"


@pytest.fixture
def executor():
    with PluginManager(Resolver([PLUGINS], entry_points=False)) as manager:
        yield PluginExecutor(manager)


def test_a_successful_call_returns_validated_outputs_logs_and_metrics(executor):
    outcome = executor.run("tests/misbehave.ok", {"count": 3})
    assert outcome.ok
    assert outcome.outputs == {"count": 3}
    assert [record["message"] for record in outcome.logs] == ["got 3"]
    assert outcome.metrics.exit_code == 0
    assert outcome.metrics.runtime.value == "process"
    assert outcome.manifest.ref == "tests/misbehave"


@pytest.mark.parametrize(
    ("ref", "inputs", "kind", "words"),
    [
        ("tests/nowhere.go", {}, FailureKind.NOT_FOUND, "tests/nowhere"),
        ("tests/misbehave.okay", {}, FailureKind.NOT_FOUND, "did you mean tests/misbehave.ok?"),
        ("tests/broken.go", {}, FailureKind.MANIFEST, "runtime.timeout"),
        (
            "tests/misbehave.ok",
            {"count": "3"},
            FailureKind.INPUT_VALIDATION,
            'inputs.count: expected integer, got string "3"',
        ),
        ("tests/misbehave.ok", {}, FailureKind.INPUT_VALIDATION, "inputs"),
        (
            "tests/misbehave.bad-output",
            {},
            FailureKind.OUTPUT_VALIDATION,
            'outputs.count: expected integer, got string "three"',
        ),
        ("tests/misbehave.fail", {}, FailureKind.ACTION, "the server is busy"),
        ("tests/misbehave.crash", {}, FailureKind.CRASHED, "exited with code 3"),
        ("tests/misbehave.garbage", {}, FailureKind.PROTOCOL, "not valid JSON"),
        ("tests/missing-command.go", {}, FailureKind.RUNTIME_UNAVAILABLE, "no-such-interpreter-here"),
    ],
)
def test_each_failure_kind_comes_back_typed_with_a_helpful_message(executor, ref, inputs, kind, words):
    outcome = executor.run(ref, inputs)
    assert outcome.outputs is None
    assert outcome.failure is not None
    assert outcome.failure.kind is kind, outcome.failure
    assert words in outcome.failure.message


def test_input_validation_fails_before_the_plugin_starts(executor):
    outcome = executor.run("tests/misbehave.ok", {"count": "3"})
    assert outcome.metrics is None  # nothing ran


def test_a_stdout_that_is_not_a_response_is_quoted_after_masking(executor):
    outcome = executor.run("tests/misbehave.garbage", {})
    assert outcome.failure.kind is FailureKind.PROTOCOL
    assert outcome.failure.message.endswith(
        "logs and print() output belong on stderr; it wrote: 'hello, this is not JSON'"
    )
    assert outcome.failure.stdout_head == ""  # quoted, never kept as is
    # What it wrote is masked like everything else (a secret across the quote's cut: tests of `workflow run`).
    masked = executor.run("tests/misbehave.garbage", {}, masker=Masker({"K": "this is not JSON"}))
    assert masked.failure.message.endswith("it wrote: 'hello, ***'")


def test_a_retryable_action_error_says_so(executor):
    failure = executor.run("tests/misbehave.fail", {}).failure
    assert failure.retryable
    assert failure.error_type == "Busy"


def test_a_crash_keeps_the_tail_of_stderr(executor):
    failure = executor.run("tests/misbehave.crash", {}).failure
    assert failure.exit_code == 3
    assert "about to crash" in failure.stderr_tail


def test_a_restricted_workflow_refuses_ungranted_capabilities_with_the_yaml_to_add():
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, permissions=Permissions())
    with PluginManager(Resolver([PLUGINS], entry_points=False), policy=policy) as manager:
        failure = PluginExecutor(manager).run("tests/needs-network.get", {}).failure
    assert failure.kind is FailureKind.PERMISSION
    assert "network" in failure.message
    assert "network: [tests/needs-network]" in failure.message


@pytest.mark.sandbox
def test_a_restricted_call_on_the_sandbox_backend_runs_the_plugin_sandboxed():
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, backend=RuntimeKind.SANDBOX)
    with PluginManager(Resolver([PLUGINS], entry_points=False), policy=policy) as manager:
        outcome = PluginExecutor(manager).run("tests/misbehave.ok", {"count": 1})
    assert outcome.ok, outcome.failure
    assert outcome.outputs == {"count": 1}
    assert outcome.metrics.runtime is RuntimeKind.SANDBOX


def test_secrets_are_masked_in_messages_logs_and_stderr(executor):
    secret = "hunter2-correct-horse"
    seen: list[str] = []
    outcome = executor.run(
        "tests/misbehave.leak",
        {"token": secret},
        masker=Masker({"TOKEN": secret}),
        on_log=lambda record: seen.append(record["message"]),
    )
    assert outcome.failure.kind is FailureKind.ACTION
    everything = [outcome.failure.message, outcome.failure.stderr_tail, *seen, *(r["message"] for r in outcome.logs)]
    assert seen == ["the token is ***"]
    assert all(secret not in text for text in everything)
    assert "***" in outcome.failure.message


def test_secret_marked_inputs_are_announced_to_the_plugin(executor):
    call = executor.manager.prepare("tests/misbehave.ok", {"count": 1, "token": "s3cr3t-value"})
    assert call.secret_inputs == ("token",)
    assert "s3cr3t-value" not in " ".join(call.invocation.argv)
    assert all("s3cr3t-value" not in value for value in call.invocation.env.values())


class TestTimeoutPrecedence:
    def manifest(self, executor):
        return executor.manager.resolver.resolve("tests/misbehave")

    def test_task_then_action_then_plugin_then_default(self, executor):
        manifest = self.manifest(executor)
        sleep, ok = manifest.action("sleep"), manifest.action("ok")
        assert effective_timeout(0.5, action=sleep, manifest=manifest) == 0.5
        assert effective_timeout(None, action=sleep, manifest=manifest) == 1.0
        assert effective_timeout(None, action=ok, manifest=manifest) == 3.0
        nameless = executor.manager.resolver.resolve("tests/needs-network")
        assert effective_timeout(None, action=nameless.action("get"), manifest=nameless) == 30.0

    @pytest.mark.parametrize(("task_timeout", "shown"), [(0.4, "0.4 s"), (None, "1 s")])
    def test_a_real_call_is_killed_at_its_effective_timeout(self, executor, task_timeout, shown):
        outcome = executor.run("tests/misbehave.sleep", {"seconds": 30}, timeout=task_timeout)
        assert outcome.failure.kind is FailureKind.TIMEOUT
        assert shown in outcome.failure.message
        assert outcome.metrics.duration_s < 5


def test_cancel_stops_a_running_call(executor):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    outcome = executor.run("tests/misbehave.sleep", {"seconds": 30}, cancel=cancel)
    assert outcome.failure.kind is FailureKind.CANCELLED


def test_the_pool_serves_warm_calls_through_the_executor():
    examples = Path(__file__).parents[4] / "examples" / "plugins"
    with PluginManager(Resolver([examples], entry_points=False), policy=ExecutionPolicy(pool=True)) as manager:
        executor = PluginExecutor(manager)
        first = executor.run("examples/text.words", {"text": "a b"})
        second = executor.run("examples/text.words", {"text": "c d e"})
        invalid = executor.run("examples/text.words", {"text": 5})
    assert (first.metrics.warm, second.metrics.warm) == (False, True)
    assert second.outputs == {"words": ["c", "d", "e"], "count": 3}
    assert invalid.failure.kind is FailureKind.INPUT_VALIDATION


def test_restricted_plugins_get_only_granted_configured_variables():
    from workflow_plugin_runtime.plugins.manifest import Access
    from workflow_plugin_runtime.workflows.permissions import MountGrant

    grants = Permissions(
        env=("LOG_*",), network=("tests/needs-network",), mounts=(MountGrant(Path("/srv/data"), "/data", Access.READ),)
    )
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, permissions=grants, backend=RuntimeKind.DOCKER)
    with PluginManager(Resolver([PLUGINS], entry_points=False), policy=policy) as manager:
        call = manager.prepare("tests/needs-network.get", {}, env={"LOG_LEVEL": "debug", "API_URL": "http://x"})
    invocation = call.invocation
    assert dict(invocation.env) == {"LOG_LEVEL": "debug"}
    assert invocation.network is True
    assert invocation.image == "tests/needs-network:1.0.0"
    assert invocation.mounts == ()  # the plugin declares no filesystem need, so no mount is given
    assert call.runtime.kind.value == "docker"
