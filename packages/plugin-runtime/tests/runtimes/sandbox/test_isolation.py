"""The sandbox runtime with real bubblewrap sandboxes: what a plugin sees, who it is, what it can reach.

Each test runs the probe or the intruder plugin in a sandbox and checks,
from the inside, one promise of docs/runtimes.md ("Sandbox specifics").
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, PluginRuntime, RuntimeKind
from workflow_plugin_runtime.runtimes.process import ProcessRuntime
from workflow_plugin_runtime.runtimes.sandbox.command import HOSTNAME
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_runtime.workflows.mount_sources import ISOLATED_UID, Mount

pytestmark = pytest.mark.sandbox

MakeInvocation = Callable[..., Invocation]
NO_CAPABILITIES = "0000000000000000"


def outputs_of(runtime: PluginRuntime, invocation: Invocation) -> dict:
    result = runtime.invoke(invocation)
    assert result.outputs is not None, (result.failure, result.stderr_tail)
    return result.outputs


def test_a_real_plugin_runs_in_the_sandbox_and_returns_its_outputs(
    sandbox: SandboxRuntime, probe: MakeInvocation
) -> None:
    result = sandbox.invoke(probe("hello", {"name": "sandbox"}, kind=RuntimeKind.SANDBOX))

    assert result.outputs == {"greeting": "hello sandbox"}, (result.failure, result.stderr_tail)
    assert isinstance(sandbox, PluginRuntime) and sandbox.kind is RuntimeKind.SANDBOX
    assert result.metrics.runtime is RuntimeKind.SANDBOX and result.metrics.exit_code == 0
    timings = result.metrics.timings  # made (cgroups, bwrap, limits), ran, then reaped and its cgroups removed
    assert min(timings.startup_s, timings.action_s, timings.teardown_s) > 0, timings
    assert timings.startup_s + timings.action_s + timings.teardown_s == pytest.approx(result.metrics.duration_s)


def test_an_invocation_of_another_kind_or_without_argv_is_refused(
    sandbox: SandboxRuntime, probe: MakeInvocation
) -> None:
    """The kind decides, and a sandbox needs a host program: neither is a plugin's failure, both are bugs."""
    with pytest.raises(ValueError, match="a process invocation cannot run on a sandbox runtime"):
        sandbox.invoke(probe("hello"))
    with pytest.raises(ValueError, match="a sandbox invocation needs argv"):
        sandbox.invoke(probe("hello", kind=RuntimeKind.SANDBOX, argv=()))


def test_the_operators_environment_reaches_neither_the_plugin_nor_bwraps_init(
    sandbox: SandboxRuntime, probe: MakeInvocation, intruder: MakeInvocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"operator-only-{uuid.uuid4().hex}"
    monkeypatch.setenv("WORKFLOW_TEST_OPERATOR_MARKER", marker)
    monkeypatch.setenv("WORKFLOW_SECRET_API_TOKEN", marker)

    seen = outputs_of(sandbox, probe("environment", kind=RuntimeKind.SANDBOX, env={"LOG_LEVEL": "debug"}))
    inside = outputs_of(sandbox, intruder("inspect"))

    assert marker not in seen["environ"] and marker not in seen["cmdline"]
    assert seen["env"]["LOG_LEVEL"] == "debug"
    assert (seen["env"]["HOME"], seen["env"]["TMPDIR"], seen["env"]["LANG"]) == ("/tmp", "/tmp", "C.UTF-8")
    assert seen["env"]["PATH"].startswith(str(Path(os.sys.executable).parent))
    init = inside["other_environs"]["1"]  # bwrap's init: unreadable to the plugin, and clean anyway
    assert init == {"error": "EACCES"} or marker not in init["ok"]
    assert all(marker not in str(environ) for environ in inside["other_environs"].values())


def test_the_plugin_is_uid_65534_without_any_capability(sandbox: SandboxRuntime, intruder: MakeInvocation) -> None:
    inside = outputs_of(sandbox, intruder("inspect"))

    assert (inside["uid"], inside["gid"]) == (ISOLATED_UID, ISOLATED_UID)
    assert set(inside["groups"]) <= {ISOLATED_UID}
    status = inside["status"]
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert status[capabilities] == NO_CAPABILITIES, capabilities
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # a filter is loaded
    assert inside["hostname"] == HOSTNAME


def test_the_root_and_the_plugin_dir_are_read_only_and_tmp_is_writable_and_private(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    host_file = Path("/tmp") / f"workflow-sandbox-host-{uuid.uuid4().hex}"
    host_file.write_text("the host's")
    inside_name = f"/tmp/workflow-sandbox-inside-{uuid.uuid4().hex}"
    plugin_dir = str(intruder("inspect").plugin_dir)
    try:
        wrote = outputs_of(
            sandbox, intruder("write", {"paths": ["/new-file", "/usr/new-file", f"{plugin_dir}/new-file", inside_name]})
        )
        read = outputs_of(sandbox, intruder("read", {"paths": [str(host_file), inside_name]}))
    finally:
        host_file.unlink()

    assert wrote == {
        "/new-file": {"error": "EROFS"},
        "/usr/new-file": {"error": "EROFS"},
        f"{plugin_dir}/new-file": {"error": "EROFS"},
        inside_name: {"ok": True},
    }
    assert not Path(inside_name).exists()  # the sandbox's /tmp is its own
    assert read == {str(host_file): {"error": "ENOENT"}, inside_name: {"error": "ENOENT"}}  # and gone with it


def test_only_the_system_the_interpreter_and_the_plugin_are_there(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    """No Docker socket, nothing of the operator's home beyond the interpreter's own tree, no /etc, /var, /sys."""
    home = Path.home()
    interpreter_prefix = Path(os.path.realpath(os.sys.base_prefix))
    home_entries = [
        str(entry)
        for entry in sorted(home.iterdir())[:20]
        if not interpreter_prefix.is_relative_to(entry) and not Path(os.sys.executable).is_relative_to(entry)
    ]
    secrets = ["/var/run/docker.sock", "/run/docker.sock", "/etc/passwd", "/etc/shadow", "/sys/kernel", *home_entries]

    read = outputs_of(sandbox, intruder("read", {"paths": secrets}))
    inside = outputs_of(sandbox, intruder("inspect"))

    assert read == {path: {"error": "ENOENT"} for path in secrets}
    assert not {"var", "run", "sys", "home", "boot", "mnt", "opt", "srv"} & set(inside["root"])


def test_without_a_grant_there_is_no_network_and_the_hosts_loopback_refuses(
    sandbox: SandboxRuntime, intruder: MakeInvocation, host_listener
) -> None:
    inside = outputs_of(sandbox, intruder("inspect"))
    reached = outputs_of(sandbox, intruder("connect", {"port": host_listener.port}))

    assert inside["interfaces"] == ["lo"]
    assert reached == {"error": "ECONNREFUSED"}  # its own loopback: nothing listens there


def test_a_network_grant_shares_the_hosts_network(
    sandbox: SandboxRuntime, intruder: MakeInvocation, host_listener
) -> None:
    reached = outputs_of(sandbox, intruder("connect", {"port": host_listener.port}, network=True))

    assert reached == {"ok": host_listener.greeting}


def test_granted_mounts_are_read_only_unless_granted_read_write(
    sandbox: SandboxRuntime, intruder: MakeInvocation, tmp_path: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    out.chmod(0o777)  # a read-write source must be writable by uid 65534, as for Docker
    (data / "input.txt").write_text("granted data")
    mounts = (Mount(data, "/data"), Mount(out, "/out", read_only=False))

    read = outputs_of(sandbox, intruder("read", {"paths": ["/data/input.txt"]}, mounts=mounts))
    wrote = outputs_of(sandbox, intruder("write", {"paths": ["/data/new.txt", "/out/new.txt"]}, mounts=mounts))

    assert read == {"/data/input.txt": {"ok": "granted data"}}
    assert wrote == {"/data/new.txt": {"error": "EROFS"}, "/out/new.txt": {"ok": True}}
    assert (out / "new.txt").read_text() == "written"
    if os.geteuid() == 0:  # the plugin is the host's uid 65534, as in a container: never root on the host
        assert (out / "new.txt").stat().st_uid == ISOLATED_UID


def test_a_symlink_planted_in_a_read_write_mount_is_not_followed_out(
    sandbox: SandboxRuntime, intruder: MakeInvocation, tmp_path: Path
) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host only")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    (out / "absolute").symlink_to(secret)
    (out / "relative").symlink_to(Path("..") / "host-secret.txt")
    (out / "root").symlink_to("/")
    paths = ["/out/absolute", "/out/relative", f"/out/root{secret}"]

    read = outputs_of(sandbox, intruder("read", {"paths": paths}, mounts=(Mount(out, "/out", read_only=False),)))

    assert read == {path: {"error": "ENOENT"} for path in paths}  # links resolve inside the sandbox, where none leads


def test_other_processes_are_invisible_and_their_environments_unreadable(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    inside = outputs_of(sandbox, intruder("inspect"))

    assert set(inside["other_environs"]) == {"1"}  # bwrap's init, the sandbox's PID 1: nothing of the host
    assert inside["other_environs"]["1"] == {"error": "EACCES"}  # and it runs as another user


def test_the_sandbox_gives_the_plugin_no_descriptor_a_process_would_not_have(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    """bwrap's info, release and seccomp descriptors are all closed before the plugin starts."""
    bare = ProcessRuntime().invoke(
        intruder("inspect").replace(kind=RuntimeKind.PROCESS)  # the same call, unsandboxed
    )
    inside = outputs_of(sandbox, intruder("inspect"))

    assert bare.outputs is not None, bare.failure
    assert sorted(inside["fds"]) == sorted(bare.outputs["fds"])  # stdio, the SDK's own, and listdir's


def test_a_mount_source_that_now_leads_elsewhere_fails_the_call_as_permission(
    sandbox: SandboxRuntime, intruder: MakeInvocation, tmp_path: Path
) -> None:
    """Sources are resolved and checked again as each sandbox is made (mount_sources.bind_sources)."""
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    mount = Mount(link, "/data", pinned=tmp_path / "real")
    link.unlink()
    link.symlink_to("/etc")

    result = sandbox.invoke(intruder("inspect", mounts=(mount,)))

    assert result.failure is not None and result.failure.kind is FailureKind.PERMISSION
    assert "now leads to /etc" in result.failure.message


def test_a_program_the_sandbox_does_not_have_is_reported_with_why(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    missing = f"workflow-no-such-program-{uuid.uuid4().hex[:8]}"

    result = sandbox.invoke(intruder("inspect", argv=(missing, "main.js")))

    assert result.failure is not None and result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE, result.failure
    assert f"could not start: {missing} was not found (exit code 127)" in result.failure.message
    assert "the sandbox shows plugins only /usr" in result.failure.message
