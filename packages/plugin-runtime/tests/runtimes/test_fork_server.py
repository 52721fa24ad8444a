"""ForkServerRuntime with real templates and real forked children: same results as cold, nothing shared or left.

Every call here runs the fixture plugin ``forkable``: its template is a
real interpreter that imported the plugin, each call a real child of it.
Where a test must act while a call runs (cancel it, kill its template),
it does so from the log line the plugin writes once it is running, so
nothing waits on a clock.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import workflow_plugin_sdk
from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, InvocationResult, PluginRuntime, RuntimeKind
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.process import ProcessRuntime
from workflow_plugin_sdk.protocol import LogRecord, make_request

from .conftest import FORKABLE_DIR

MakeInvocation = Callable[..., Invocation]
GONE_WITHIN_S = 10.0
"""How long a SIGKILLed process may take to end on a busy machine."""

FAST_GRACE_S = 0.3


@pytest.fixture
def runtime() -> Iterator[ForkServerRuntime]:
    forks = ForkServerRuntime(kill_grace_s=FAST_GRACE_S)
    yield forks
    forks.close()


class _Running:
    """The child and grandchild pids a ``hang`` call logs, and what to do once it has."""

    def __init__(self, then: Callable[[], None]) -> None:
        self.then = then
        self.pids: list[int] = []

    def __call__(self, record: LogRecord) -> None:
        if record["message"].startswith("pids "):
            self.pids = [int(pid) for pid in record["message"].split()[1:]]
            self.then()


def _comparable(result: InvocationResult) -> tuple[object, ...]:
    failure = result.failure
    outputs = dict(result.outputs or {})
    outputs.pop("home", None)  # each call's own scratch folder
    if failure is None:
        return (outputs,)
    return (outputs, failure.kind, failure.message, failure.exit_code, failure.error_type, result.metrics.signal)


def test_fork_server_runtime_implements_the_protocol(runtime: ForkServerRuntime) -> None:
    assert isinstance(runtime, PluginRuntime)
    assert runtime.kind is RuntimeKind.PROCESS


@pytest.mark.parametrize(
    ("action", "inputs"),
    [("echo", {"text": "same either way"}), ("fail", {}), ("crash", {})],
    ids=["outputs", "action-error", "crash"],
)
def test_a_forked_call_ends_exactly_as_a_cold_one(
    runtime: ForkServerRuntime, forkable: MakeInvocation, action: str, inputs: dict[str, str]
) -> None:
    invocation = forkable(action, inputs)
    forked = runtime.invoke(invocation)
    cold = ProcessRuntime(kill_grace_s=FAST_GRACE_S).invoke(invocation)
    assert runtime.template_pid(invocation) is not None  # it really ran forked
    assert _comparable(forked) == _comparable(cold)
    assert forked.metrics.runtime is RuntimeKind.PROCESS and not forked.metrics.warm


def test_a_forked_call_has_the_environment_of_a_cold_one(runtime: ForkServerRuntime, forkable: MakeInvocation) -> None:
    """The same variables with the same values; only the scratch folder (HOME, TMPDIR) is each call's own."""
    invocation = forkable("environment", env={"GIVEN": f"value-{uuid.uuid4().hex}"})
    forked = runtime.invoke(invocation).outputs
    cold = ProcessRuntime(kill_grace_s=FAST_GRACE_S).invoke(invocation).outputs
    assert runtime.template_pid(invocation) is not None
    assert forked is not None and cold is not None

    def scratch_named(environ: dict[str, str]) -> dict[str, str]:
        return {name: value.replace(environ["HOME"], "<scratch>") for name, value in environ.items()}

    assert forked["environ"]["HOME"] != cold["environ"]["HOME"]
    assert scratch_named(forked["environ"]) == scratch_named(cold["environ"])
    assert forked["environ"]["GIVEN"] == invocation.env["GIVEN"]


def test_a_forked_calls_scratch_home_is_removed_however_deep_the_tree_it_left(
    runtime: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    result = runtime.invoke(forkable("litter", {"depth": sys.getrecursionlimit() + 200}))

    assert result.outputs is not None, result.failure
    assert not Path(result.outputs["home"]).exists()


def test_the_crash_of_a_child_is_its_signal(runtime: ForkServerRuntime, forkable: MakeInvocation) -> None:
    result = runtime.invoke(forkable("crash"))
    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED
    assert result.metrics.signal == signal.SIGABRT


def test_each_call_is_a_fresh_child_of_one_template_that_imported_the_plugin(
    runtime: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    invocation = forkable("where")
    first, second = runtime.invoke(invocation).outputs, runtime.invoke(invocation).outputs
    template = runtime.template_pid(invocation)
    assert first is not None and second is not None
    assert first["pid"] != second["pid"] and template not in (first["pid"], second["pid"])
    assert first["ppid"] == second["ppid"] == first["imported_in"] == second["imported_in"] == template
    assert first["calls"] == second["calls"] == 1  # module state is the template's, never another call's
    assert first["pgid"] == first["sid"] == first["pid"]  # its own session, as a cold process


def test_calls_at_once_start_one_template_and_run_side_by_side(
    runtime: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    barrier = threading.Barrier(3)
    results: list[InvocationResult] = []

    def call() -> None:
        barrier.wait()
        results.append(runtime.invoke(forkable("where")))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outputs = [result.outputs for result in results]
    assert all(output is not None for output in outputs), [result.failure for result in results]
    assert {output["ppid"] for output in outputs if output} == {runtime.template_pid(forkable("where"))}
    assert len({output["pid"] for output in outputs if output}) == 3


def test_the_request_and_environment_go_straight_to_the_child(
    runtime: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    """The template reads none of a call's bytes and never holds its secrets in its argv or environment."""
    secret = f"input-secret-{uuid.uuid4().hex}" * 1_500  # about 66 KiB: reading it would show
    token = f"env-secret-{uuid.uuid4().hex}"
    runtime.invoke(forkable("where"))  # the template is up; what it read at start-up is not counted
    invocation = forkable("echo", {"secret": secret}, secret_inputs=["secret"], env={"TOKEN": token})
    template = runtime.template_pid(invocation)
    read_before = _bytes_read(template)
    result = runtime.invoke(invocation)
    assert result.outputs is not None
    assert result.outputs["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert result.outputs["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert result.outputs["serve"] is None  # the child has the call's environment, not the template's
    assert _bytes_read(template) - read_before < 4096
    for name in ("environ", "cmdline"):
        seen = Path(f"/proc/{template}/{name}").read_bytes()
        assert token.encode() not in seen and secret[:64].encode() not in seen


def _bytes_read(pid: int | None) -> int:
    """What the process's own (only) thread has read: ``/proc/<pid>/io`` would add the children it reaped."""
    lines = Path(f"/proc/{pid}/task/{pid}/io").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("rchar:"))


def test_a_timeout_kills_the_child_and_its_descendants_and_spares_the_template(
    runtime: ForkServerRuntime, forkable: MakeInvocation, gone_within: Callable[[int, float], bool]
) -> None:
    running = _Running(then=lambda: None)
    invocation = forkable("hang", timeout_s=2.0)
    result = runtime.invoke(invocation, on_log=running)
    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert len(running.pids) == 2 and all(gone_within(pid, GONE_WITHIN_S) for pid in running.pids)
    after = runtime.invoke(forkable("where")).outputs
    assert after is not None and after["ppid"] == runtime.template_pid(invocation) == after["imported_in"]


def test_cancel_kills_the_child_and_its_descendants(
    runtime: ForkServerRuntime, forkable: MakeInvocation, gone_within: Callable[[int, float], bool]
) -> None:
    cancel = threading.Event()
    running = _Running(then=cancel.set)
    result = runtime.invoke(forkable("hang", cancel=cancel), on_log=running)
    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert len(running.pids) == 2 and all(gone_within(pid, GONE_WITHIN_S) for pid in running.pids)


def test_killing_the_template_fails_its_call_cleanly_and_the_next_call_gets_a_new_one(
    runtime: ForkServerRuntime, forkable: MakeInvocation, gone_within: Callable[[int, float], bool]
) -> None:
    invocation = forkable("hang")
    runtime.invoke(forkable("where"))
    template = runtime.template_pid(invocation)
    assert template is not None
    running = _Running(then=lambda: os.kill(template, signal.SIGKILL))
    result = runtime.invoke(invocation, on_log=running)
    assert result.failure is not None and result.failure.kind is FailureKind.WORKER_LOST
    assert "template ended during the call" in result.failure.message
    assert all(gone_within(pid, GONE_WITHIN_S) for pid in (template, *running.pids))
    after = runtime.invoke(forkable("where"))
    assert after.ok and runtime.template_pid(invocation) not in (None, template)


def test_closing_the_runtime_ends_its_templates_and_a_call_in_flight(
    runtime: ForkServerRuntime, forkable: MakeInvocation, gone_within: Callable[[int, float], bool]
) -> None:
    invocation = forkable("hang")
    running = _Running(then=runtime.close)
    runtime.invoke(forkable("where"))
    template = runtime.template_pid(invocation)
    result = runtime.invoke(invocation, on_log=running)
    assert result.failure is not None and result.failure.kind is FailureKind.WORKER_LOST
    assert template is not None and all(gone_within(pid, GONE_WITHIN_S) for pid in (template, *running.pids))
    assert runtime.template_pid(invocation) is None


ENGINE = """
import sys
from pathlib import Path

from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_sdk.protocol import make_request

plugin_dir = Path(sys.argv[1])
runtime = ForkServerRuntime()
invocation = Invocation(
    kind=RuntimeKind.PROCESS,
    plugin_ref="test/forkable",
    request=make_request("hang", {}),
    plugin_dir=plugin_dir,
    argv=plugin_argv(plugin_dir, entrypoint="main.py"),
    timeout_s=300,
)
runtime.invoke(invocation, on_log=lambda record: print(runtime.template_pid(invocation), record["message"], flush=True))
"""


def test_an_engine_that_dies_takes_its_templates_and_their_calls_with_it(
    tmp_path: Path, gone_within: Callable[[int, float], bool]
) -> None:
    """No orphans: a real engine process, SIGKILLed mid-call, leaves neither template nor child nor grandchild.

    Its scratch folders stay, as a killed engine's cold calls' do (a registered run's are cleaned
    later): here they go under ``tmp_path``.
    """
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(FORKABLE_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        assert engine.stdout is not None
        template, _, child, grandchild = engine.stdout.readline().split()
    finally:
        engine.kill()
        engine.wait()
        assert engine.stdout is not None
        engine.stdout.close()
    assert all(gone_within(int(pid), GONE_WITHIN_S) for pid in (template, child, grandchild))


def _written_plugin(folder: Path, source: str, *, action: str) -> Invocation:
    """A call of ``action`` of a one-file plugin whose ``main.py`` is ``source``, written into ``folder``."""
    (folder / "main.py").write_text(source)
    return Invocation(
        kind=RuntimeKind.PROCESS,
        plugin_ref=f"test/written-{uuid.uuid4().hex[:12]}",
        request=make_request(action, {}),
        plugin_dir=folder,
        argv=plugin_argv(folder, entrypoint="main.py"),
    )


def test_a_plugin_that_cannot_be_imported_runs_cold_and_fails_as_cold(
    runtime: ForkServerRuntime, tmp_path: Path
) -> None:
    invocation = _written_plugin(tmp_path, "raise RuntimeError('broken at import')\n", action="where")
    forked = runtime.invoke(invocation)
    cold = ProcessRuntime().invoke(invocation)
    assert runtime.template_pid(invocation) is None
    assert forked.failure is not None and forked.failure.kind is FailureKind.CRASHED
    assert _comparable(forked) == _comparable(cold)
    assert "broken at import" in forked.stderr_tail


def test_a_plugin_that_ignores_sigchld_at_import_keeps_it_in_its_calls_and_its_template_still_reaps(
    runtime: ForkServerRuntime, tmp_path: Path
) -> None:
    """The kernel would reap the template's children before it could report them; every call was "lost"."""
    sdk = Path(workflow_plugin_sdk.__file__).parent.parent  # the SDK under test, in the template too
    source = (
        f"import signal, sys\nsys.path.insert(0, {str(sdk)!r})\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "from workflow_plugin_sdk import define_action, run\n"
        "@define_action('disposition')\n"
        "def disposition(ctx, inputs):\n"
        "    return {'sigchld_ignored': signal.getsignal(signal.SIGCHLD) is signal.SIG_IGN}\n"
        "run()\n"
    )
    invocation = _written_plugin(tmp_path, source, action="disposition")
    first, second = runtime.invoke(invocation), runtime.invoke(invocation)
    assert first.failure is None and second.failure is None, (first.failure, second.failure)
    assert first.outputs == second.outputs == {"sigchld_ignored": True}
    assert runtime.template_pid(invocation) is not None


def test_a_python_plugin_that_never_calls_run_is_run_cold_once_its_template_is_not_ready(
    runtime: ForkServerRuntime, raw: MakeInvocation
) -> None:
    """The hand-written protocol plugin reads its stdin (the control socket) instead of forking: no template."""
    invocation = raw("echo", {"text": "cold after all"}, timeout_s=1.0)
    result = runtime.invoke(invocation)
    assert runtime.template_pid(invocation) is None
    assert _comparable(result) == _comparable(ProcessRuntime().invoke(invocation))
