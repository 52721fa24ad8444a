"""The sandbox's kernel surface: each syscall Docker's default profile denies (and ptrace) tried from inside.

Every case runs the raw syscall in a real sandbox and expects the
filter's answer. The id says which defence stops it. ``seccomp``: without
the filter the same call answers otherwise (EFAULT, EBADF, a new
namespace, a success), so the filter is what stopped it. ``seccomp, then
no capability``: without the filter the kernel refuses it too, with the
same EPERM, for want of a capability (both were checked, by running these
cases once without ``--seccomp``).
"""

from __future__ import annotations

import platform
from collections.abc import Callable

import pytest

from workflow_plugin_runtime.runtimes.base import Invocation
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_runtime.runtimes.sandbox.seccomp import PERSONALITIES

MakeInvocation = Callable[..., Invocation]

CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
KEY_SPEC_SESSION_KEYRING = -3
ADDR_NO_RANDOMIZE = 0x0040000
PERSONALITY_QUERY = 0xFFFFFFFF
AF_VSOCK = 40
SOCK_STREAM = 1
FAN_REPORT_FID = 0x200
I386_UNSHARE = 310
SECCOMP = "seccomp"
BEHIND = "seccomp, then no capability"
VSOCK = "seccomp (vsock is not namespaced: a VM's way to its host)"

# (syscall, arguments, expected errno, what stops it)
DENIED = [
    ("mount", [0, 0, 0, 0, 0], "EPERM", SECCOMP),
    ("umount2", [0, 0], "EPERM", SECCOMP),
    ("pivot_root", [0, 0], "EPERM", BEHIND),
    ("unshare", [CLONE_NEWUSER], "EPERM", SECCOMP),  # a new user namespace needs no capability
    ("setns", [-1, 0], "EPERM", SECCOMP),
    ("clone", [CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0], "EPERM", SECCOMP),
    ("clone3", [0, 0], "ENOSYS", "seccomp (ENOSYS: libc falls back to clone, which it can check)"),
    ("keyctl", [0, KEY_SPEC_SESSION_KEYRING, 0, 0, 0], "EPERM", SECCOMP),
    ("add_key", [0, 0, 0, 0, 0], "EPERM", SECCOMP),
    ("request_key", [0, 0, 0, 0], "EPERM", SECCOMP),
    ("bpf", [0, 0, 0], "EPERM", SECCOMP),
    ("perf_event_open", [0, 0, -1, -1, 0], "EPERM", SECCOMP),
    ("init_module", [0, 0, 0], "EPERM", SECCOMP),
    ("finit_module", [-1, 0, 0], "EPERM", SECCOMP),
    ("delete_module", [0, 0], "EPERM", SECCOMP),
    ("kexec_load", [0, 0, 0, 0], "EPERM", SECCOMP),
    ("kexec_file_load", [-1, -1, 0, 0, 0], "EPERM", SECCOMP),
    ("reboot", [0, 0, 0, 0], "EPERM", BEHIND),
    ("swapon", [0, 0], "EPERM", BEHIND),
    ("swapoff", [0], "EPERM", BEHIND),
    ("acct", [0], "EPERM", BEHIND),
    ("settimeofday", [0, 0], "EPERM", BEHIND),
    ("clock_settime", [0, 0], "EPERM", SECCOMP),
    ("open_by_handle_at", [-1, 0, 0], "EPERM", SECCOMP),
    ("userfaultfd", [0], "EPERM", BEHIND),
    ("personality", [ADDR_NO_RANDOMIZE], "EPERM", SECCOMP),
    ("ptrace", [0, 0, 0, 0], "EPERM", "seccomp (Docker allows ptrace)"),
    ("process_vm_readv", [1, 0, 0, 0, 0, 0], "EPERM", SECCOMP),
    ("io_uring_setup", [0, 0], "EPERM", SECCOMP),
    ("pidfd_getfd", [-1, 0, 0], "EPERM", SECCOMP),
    ("process_madvise", [-1, 0, 0, 0, 0], "EPERM", SECCOMP),
    ("fanotify_init", [FAN_REPORT_FID, 0], "EPERM", SECCOMP),  # unprivileged since Linux 5.13
    ("inotify_init1", [0], "EPERM", "seccomp (counted against root host-wide otherwise; Docker allows it)"),
    ("migrate_pages", [0, 0, 0, 0], "EPERM", SECCOMP),
    ("set_mempolicy_home_node", [0, 0, 0, 0], "EPERM", SECCOMP),
    ("sethostname", [0, 0], "EPERM", BEHIND),
    ("setdomainname", [0, 0], "EPERM", BEHIND),
    ("socket", [AF_VSOCK, SOCK_STREAM, 0], "EPERM", VSOCK),
    ("socket", [AF_VSOCK | 1 << 32, SOCK_STREAM, 0], "EPERM", f"{VSOCK}, whatever bits lie above the int"),
]

pytestmark = pytest.mark.sandbox


def syscall_number(name: str) -> int:
    import pyseccomp

    number: int = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    assert number >= 0, f"{name} is not a syscall of this architecture"
    return number


@pytest.mark.parametrize(
    ("name", "args", "expected", "defence"),
    [pytest.param(*case, id=f"{case[0]}: {case[3]}") for case in DENIED],
)
def test_a_denied_syscall_fails_from_inside_the_sandbox(
    sandbox: SandboxRuntime, intruder: MakeInvocation, name: str, args: list[int], expected: str, defence: str
) -> None:
    result = sandbox.invoke(intruder("syscall", {"number": syscall_number(name), "args": args}))

    assert result.outputs is not None, (result.failure, result.stderr_tail)
    assert result.outputs == {"result": -1, "errno": expected}, f"{name} was not stopped by {defence}"


@pytest.mark.parametrize("persona", sorted(PERSONALITIES), ids=hex)
def test_the_personalities_docker_allows_still_work(
    sandbox: SandboxRuntime, intruder: MakeInvocation, persona: int
) -> None:
    result = sandbox.invoke(intruder("syscall", {"number": syscall_number("personality"), "args": [persona]}))

    assert result.outputs is not None and result.outputs["errno"] is None, result.outputs


@pytest.mark.parametrize("persona", [1, 0x20001, 0x20000 | ADDR_NO_RANDOMIZE, PERSONALITY_QUERY - 1, 1 << 32], ids=hex)
def test_any_other_personality_is_denied_whatever_bits_it_shares_with_an_allowed_one(
    sandbox: SandboxRuntime, intruder: MakeInvocation, persona: int
) -> None:
    """The kernel reads the low 32 bits only: a value above them must not pass for an allowed one."""
    result = sandbox.invoke(intruder("syscall", {"number": syscall_number("personality"), "args": [persona]}))

    assert result.outputs == {"result": -1, "errno": "EPERM"}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the 32-bit and x32 ABIs are x86-64's")
@pytest.mark.parametrize(("abi", "number"), [("i386", I386_UNSHARE), ("x32", None)])
def test_a_syscall_through_another_abi_kills_the_process(
    sandbox: SandboxRuntime, intruder: MakeInvocation, abi: str, number: int | None
) -> None:
    """``unshare(CLONE_NEWUSER)`` by ``int 0x80`` or x32's numbering: seccomp kills the caller.

    The filter's rules name the native table's numbers; a call through
    another table would pass them, so the filter kills it first. Without
    the filter, the ``int 0x80`` call makes its namespace (kernels with
    32-bit emulation, as CI's); the x32 one answers ENOSYS where the kernel
    lacks x32, as CI's does.
    """
    result = sandbox.invoke(
        intruder("syscall-abi", {"abi": abi, "number": number or syscall_number("unshare"), "args": [CLONE_NEWUSER]})
    )

    assert result.outputs == {"signal": "SIGSYS"}, (result.failure, result.stderr_tail)
