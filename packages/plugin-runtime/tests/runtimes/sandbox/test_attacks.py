"""A hostile plugin against the sandbox: the ways out that the isolation tests do not already try.

Each test names the attack and what stops it (the network namespace, the
kernel's refusal to link across mounts, the engine choosing what is
bound), and an engine-side set checks that a plugin breaking the protocol
from inside a sandbox fails as it would as a process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, MiB, RuntimeKind
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_runtime.workflows.mount_sources import Mount
from workflow_plugin_sdk.protocol import make_request

pytestmark = pytest.mark.sandbox

MakeInvocation = Callable[..., Invocation]

SHELL_PLUGIN = """#!/bin/sh
# Whether the path in $1 is there, answered by hand on the wire protocol.
if [ -e "$1" ]; then seen=something; else seen=nothing; fi
printf '{"ok": true, "outputs": {"seen": "%s"}}\\n' "$seen"
"""


def test_a_virtualenv_shipped_in_the_plugin_folder_binds_no_host_folder(
    sandbox: SandboxRuntime, tmp_path: Path
) -> None:
    """The plugin chooses its program; a ``pyvenv.cfg`` and a ``.pth`` beside it must not choose what is bound.

    Only the engine's own virtualenv (and the folders its ``.pth`` files
    name) is bound: this plugin's ``.pth`` names an operator's folder.
    """
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "notes.txt").write_text("the operator's")
    plugin = tmp_path / "plugin"
    site = plugin / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    (plugin / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "reach.pth").write_text(f"{operator}\n")
    program = plugin / "bin" / "run"
    program.parent.mkdir()
    program.write_text(SHELL_PLUGIN)
    program.chmod(0o755)
    invocation = Invocation(
        kind=RuntimeKind.SANDBOX,
        plugin_ref=f"test/venv-shipper-{uuid.uuid4().hex[:12]}",
        request=make_request("look", {}),
        plugin_dir=plugin,
        argv=(str(program), str(operator / "notes.txt")),
    )

    result = sandbox.invoke(invocation)

    assert result.outputs == {"seen": "nothing"}, (result.failure, result.stderr_tail)


def test_a_host_abstract_unix_socket_is_out_of_reach_without_a_network_grant(
    sandbox: SandboxRuntime, intruder: MakeInvocation, abstract_listener
) -> None:
    """Abstract Unix sockets belong to a network namespace: the sandbox's own, unless it shares the host's.

    With a grant the same name answers (the host's network, as on Docker's
    ``host`` network): that is what shows the refusal comes from the namespace.
    """
    address = {"address": abstract_listener.address}
    refused = sandbox.invoke(intruder("connect-unix", address))
    granted = sandbox.invoke(intruder("connect-unix", address, network=True))

    assert refused.outputs == {"error": "ECONNREFUSED"}, (refused.failure, refused.stderr_tail)
    assert granted.outputs == {"ok": abstract_listener.greeting}, (granted.failure, granted.stderr_tail)


def test_a_hard_link_cannot_carry_a_read_only_file_into_a_read_write_mount(
    sandbox: SandboxRuntime, intruder: MakeInvocation, tmp_path: Path
) -> None:
    """A link in ``/out`` to a file of ``/data`` or of the plugin's folder would make it writable: the kernel refuses.

    Links never cross mounts (``EXDEV``), though here every source is on the same host filesystem.
    """
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    out.chmod(0o777)
    (data / "input.txt").write_text("granted data")
    mounts = (Mount(data, "/data"), Mount(out, "/out", read_only=False))
    plugin_file = str(intruder("inspect").plugin_dir / "main.py")
    pairs = [["/data/input.txt", "/out/input.txt"], [plugin_file, "/out/main.py"]]

    linked = sandbox.invoke(intruder("link", {"pairs": pairs}, mounts=mounts))

    assert linked.outputs == {"/out/input.txt": {"error": "EXDEV"}, "/out/main.py": {"error": "EXDEV"}}
    assert sorted(out.iterdir()) == []


@pytest.mark.parametrize(
    ("action", "inputs", "kind", "expected"),
    [
        ("garbage", {}, FailureKind.PROTOCOL, "not valid JSON"),
        ("empty", {}, FailureKind.PROTOCOL, "without writing a response"),
        ("two-documents", {}, FailureKind.PROTOCOL, "Extra data"),
        ("flood-stdout", {"bytes": 32 * MiB}, FailureKind.PROTOCOL, "more than 16 MiB on stdout"),
        ("ok-then-exit", {}, FailureKind.CRASHED, "wrote a response but then exited with code 3"),
        ("hold-stdout", {"pid_dir": "/tmp"}, None, None),
    ],
)
def test_a_plugin_breaking_the_protocol_fails_as_it_would_as_a_process(
    sandbox: SandboxRuntime,
    raw: MakeInvocation,
    action: str,
    inputs: dict,
    kind: FailureKind | None,
    expected: str | None,
) -> None:
    """Garbage, silence, floods, a late exit, a grandchild holding stdout: the process runtime's answers."""
    result = sandbox.invoke(raw(action, inputs, kind=RuntimeKind.SANDBOX, timeout_s=20))

    if kind is None:
        assert result.ok, result.failure
    else:
        assert result.failure is not None and result.failure.kind is kind, result.failure
        assert expected is not None and expected in result.failure.message
