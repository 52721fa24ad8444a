"""The sandbox's seccomp filter: a kernel surface no wider than a Docker container's.

Namespaces, a read-only root and an unprivileged user keep a plugin away
from the host's files and processes; the filter keeps it away from the
parts of the kernel it has no business calling, which are where kernel
exploits live. It denies, with ``EPERM``, at least what Docker's default
profile denies (:data:`DENIED_SYSCALLS`: mounts, namespaces, keyrings,
bpf, perf, modules, kexec, reboot, swap, accounting, the clocks,
``open_by_handle_at``, ``userfaultfd``, ``io_uring``...), and ``ptrace``
too, which Docker allows on kernels 4.8 and later: a plugin has no need of
it. ``socket`` is denied for vsock (:data:`DENIED_SOCKET_FAMILIES`),
whose addresses no namespace separates. ``clone`` is denied only with a
namespace flag; ``clone3``, whose flags sit in memory a filter cannot read, answers ``ENOSYS`` so that libc
falls back to ``clone`` (as Docker does). ``personality`` is allowed only
with the values Docker allows (:data:`PERSONALITIES`).

Every other syscall is allowed: a deny list, unlike Docker's allow list,
so that a new syscall works in the sandbox before anyone reviews it. Only the native architecture's syscalls are
let through (libseccomp kills a process that calls through another ABI,
such as 32-bit ``int 0x80`` on x86-64).

The program is built once per process with libseccomp (through
``pyseccomp``, imported only here and only then) and handed to bubblewrap
as an anonymous file (``--seccomp FD``); bwrap loads it after its own
setup, just before it starts the plugin.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from collections.abc import Iterator

__all__ = [
    "CLONE_NAMESPACE_FLAGS",
    "DENIED_SOCKET_FAMILIES",
    "DENIED_SYSCALLS",
    "ENOSYS_SYSCALLS",
    "PERSONALITIES",
    "seccomp_program",
    "seccomp_program_fd",
]

DENIED_SYSCALLS = (
    # filesystems: the sandbox's mounts are fixed once bwrap has made them
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    "quotactl",
    "quotactl_fd",
    "fanotify_init",  # unprivileged since Linux 5.13; Docker keeps it for CAP_SYS_ADMIN
    # inotify counts against the user namespace's owner (root, for a root engine): a plugin could use up
    # root's instances host-wide while it runs; a container, counted as its own uid, cannot (stricter than Docker)
    "inotify_init",
    "inotify_init1",
    "nfsservctl",
    "ustat",
    "sysfs",
    "_sysctl",
    "uselib",
    # namespaces: no way out of the sandbox's, no new ones
    "unshare",
    "setns",
    # the kernel keyring
    "keyctl",
    "add_key",
    "request_key",
    # kernel programs, tracing and modules
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_load",
    "kexec_file_load",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "userfaultfd",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    # the whole machine
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "stime",
    "clock_settime",
    "clock_adjtime",
    "syslog",
    "vhangup",
    "iopl",
    "ioperm",
    "vm86",
    "vm86old",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "move_pages",
    "migrate_pages",
    "set_mempolicy_home_node",
    "sethostname",
    "setdomainname",
)
"""Denied with EPERM whatever their arguments (names the native architecture lacks are skipped)."""

ENOSYS_SYSCALLS = ("clone3",)
"""Answered ENOSYS, so that libc falls back to a call the filter can check (``clone``)."""

CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
"""``clone`` with any of these is denied: a new namespace is a way around the sandbox's."""

DENIED_SOCKET_FAMILIES = (40,)  # AF_VSOCK
"""``socket`` in these families is denied (Docker denies vsock): no namespace separates vsock, a VM's way to its host.
The family is an ``int``: only its low 32 bits are compared, as the kernel reads only those."""

PERSONALITIES = frozenset({0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF})
"""What ``personality`` may be called with (Docker's list): Linux, 32-bit Linux, UNAME26 and the query.
Anything else could, for one, turn address space randomisation off."""

_PERSONALITY_BITS = 32
_INT_BITS = 0xFFFFFFFF


def _outside(allowed: frozenset[int], *, bits: int) -> Iterator[tuple[int, int]]:
    """``(mask, value)`` pairs such that ``x & mask == value`` for one of them exactly when ``x`` is not allowed.

    libseccomp compares an argument once per rule, so "not one of these
    values" is spelt as the branches of the allowed values' binary trie
    that no allowed value takes (a few dozen rules for five values).
    """

    def branches(mask: int, value: int, members: frozenset[int], bit: int) -> Iterator[tuple[int, int]]:
        if bit < 0:
            return
        for branch in (0, 1 << bit):
            taking = frozenset(member for member in members if member & (1 << bit) == branch)
            if taking:
                yield from branches(mask | 1 << bit, value | branch, taking, bit - 1)
            else:
                yield mask | 1 << bit, value | branch

    yield from branches(0, 0, allowed, bits - 1)


@functools.cache
def seccomp_program() -> bytes:
    """The BPF program bwrap loads, built once per process.

    Raises ``OSError`` (or ``RuntimeError`` from ``pyseccomp`` when
    libseccomp is missing) when it cannot be built.
    """
    import pyseccomp

    deny = pyseccomp.ERRNO(errno.EPERM)
    program = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    program.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    with contextlib.suppress(OSError):  # a binary tree of syscalls: fewer checks per call (libseccomp 2.5)
        program.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
    for name in DENIED_SYSCALLS:
        if pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name) >= 0:
            program.add_rule(deny, name)
    for name in ENOSYS_SYSCALLS:
        program.add_rule(pyseccomp.ERRNO(errno.ENOSYS), name)
    for flag in CLONE_NAMESPACE_FLAGS:
        program.add_rule(deny, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    for family in DENIED_SOCKET_FAMILIES:
        program.add_rule(deny, "socket", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, _INT_BITS, family))
    program.add_rule(deny, "personality", pyseccomp.Arg(0, pyseccomp.GT, (1 << _PERSONALITY_BITS) - 1))
    for mask, value in _outside(PERSONALITIES, bits=_PERSONALITY_BITS):
        program.add_rule(deny, "personality", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, mask, value))
    exported = os.memfd_create("workflow-seccomp-build", os.MFD_CLOEXEC)
    try:
        with open(exported, "wb", closefd=False) as target:
            program.export_bpf(target)
        return os.pread(exported, os.fstat(exported).st_size, 0)
    finally:
        os.close(exported)


def seccomp_program_fd() -> int:
    """A new anonymous file holding :func:`seccomp_program`, at its start: for one ``bwrap --seccomp FD``.

    bwrap reads it to the end, so each sandbox gets its own; the caller closes it.
    """
    program = seccomp_program()
    fd = os.memfd_create("workflow-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
