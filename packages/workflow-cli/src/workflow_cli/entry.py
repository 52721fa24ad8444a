"""The ``workflow`` entry point: ``--help``, ``--version`` and well-formed everyday commands without Typer.

Importing Typer costs about six bare interpreter starts on our machines
(benchmarks/bench_cli_startup.py), and the commands people type most need
none of it: ``--help`` and ``--version`` are answered here, and a
well-formed command line of ``run``, ``validate``, ``lock``, ``plugin
list`` or ``plugin inspect`` is run by :mod:`.fast_path`. Everything else
(any help of a command, any mistake on the command line) goes to the Typer
app in :mod:`.app`, which stays the one definition of the commands.

The root help printed here is :data:`.root_help.ROOT_HELP`, a copy of what
Typer renders; a test compares the two. The copy is only used where it is
exact: no shell completion in progress, a terminal of 80 columns or more
(Click's help is 78 wide there; narrower terminals get Typer's own wrap).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

from .terminal import (
    MAX_HELP_WIDTH,
    exit_code_after_output,
    guard_output,
    in_shell_completion,
    program_name,
    terminal_columns,
)

__all__ = ["RUNNING_GC_THRESHOLD", "START_UP_GC_THRESHOLD", "command", "main", "resume_cyclic_gc"]


class _ProcessEnd:
    """Ends the process with ``os._exit`` once the interpreter's exit has done all it promises, skipping its teardown.

    Python's exit joins the non-daemon threads, calls the ``atexit`` handlers
    (the last registered first) and flushes the standard streams; then it
    finalises every module, freeing each object one by one: 2-3 ms after a
    ``workflow run``, which loads some 180 modules (docs/performance.md,
    "`workflow run`'s fixed cost: the interpreter's teardown skipped"), and
    nothing anyone can see, since every file the CLI writes is closed (a
    record also ``fsync``ed) before its command returns. Registered when
    this module is imported, this handler is called after every handler
    registered later. It acts only for :func:`command`, the process's own
    entry point, and stays out of the way where it could lose anything:
    where a handler was registered before it (it would run after this one:
    a ``sitecustomize``'s, a coverage tool's), where the command did not
    end with an exit status the interpreter passes on as it is (an uncaught
    exception), or where a standard stream cannot be flushed (the
    interpreter reports that and exits 120).
    """

    def __init__(self) -> None:
        count_handlers = getattr(atexit, "_ncallbacks", None)  # CPython's; without it, never assume we are first
        self.first_handler = count_handlers is not None and count_handlers() == 0
        self.status: int | None = None
        atexit.register(self)

    def __call__(self) -> None:
        if self.status is None or not self.first_handler:
            return
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None and not stream.closed:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    return  # the interpreter's own exit says so, as it always did
        os._exit(self.status)


_process_end = _ProcessEnd()

START_UP_GC_THRESHOLD = 100_000
"""Allocations between two young-generation collections while a command starts.

A command's start-up imports a hundred-odd modules and loads its files: some
25,000 container objects that all live until the command ends, so every
collection the default threshold (700) triggers on the way, about 30 of them
in ``workflow run``, walks objects that are never garbage: 4-6 ms of its CPU
(docs/performance.md, "What `workflow run` adds to `validate`, cut again").
Raised, not disabled: a command over a huge input still collects, every
100,000 allocations. Set for the whole process, as befits a console script.
"""
RUNNING_GC_THRESHOLD = 700
"""Python's own default, which :func:`resume_cyclic_gc` puts back before ``run``'s tasks start."""


def main() -> None:
    """The command, on standard streams that a failed write never stops (:func:`~.terminal.guard_output`)."""
    _young, *older = gc.get_threshold()
    gc.set_threshold(START_UP_GC_THRESHOLD, *older)
    guard_output()
    code: str | int | None = 0
    try:
        _run(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    code = exit_code_after_output(code)
    # The interpreter's exit collects twice more, walking every object the collector tracks: after
    # `validate` that is everything it ever loaded (no collection ran), 4-8 ms of its exit. Frozen, they
    # are skipped, and freed by the process's end; only cyclic garbage keeps its finalizers unrun, as
    # Python never promised at exit (what the CLI writes is closed, and flushed, before this point).
    gc.freeze()
    sys.exit(code)


def command() -> None:
    """The ``workflow`` console script and ``python -m workflow_cli``: :func:`main`, in a process of its own.

    The process is the command's, so it ends without the interpreter's
    teardown (:class:`_ProcessEnd`). A program that runs the CLI in its own
    process, and goes on after it, calls :func:`main`: its exit, status and
    teardown stay its own.
    """
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is None or (isinstance(code, int) and 0 <= code <= 255):  # else the interpreter's conversion
            _process_end.status = 0 if code is None else code
        raise


def _run(argv: list[str]) -> None:
    if _answered_without_typer(argv):
        return
    from .fast_path import fast_command_line

    line = fast_command_line(argv)
    if line is not None:
        from .fast_path import run_fast

        sys.exit(run_fast(line))
    from .app import main as typer_main

    typer_main()


def resume_cyclic_gc() -> None:
    """Collect as usual from here on, but never again walk what start-up built: a long run allocates for hours.

    ``gc.freeze()`` moves every object alive now (modules, classes, the checked
    workflow) out of the collector's reach, so a full collection in a long
    run walks only what the run itself allocated; what start-up left as
    cyclic garbage, a few hundred objects, stays allocated.
    """
    _young, *older = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(RUNNING_GC_THRESHOLD, *older)


def _answered_without_typer(argv: list[str]) -> bool:
    if len(argv) != 1 or sys.stdout is None or in_shell_completion(os.environ):
        return False  # no stdout at all (>&-): Click's echo writes nothing there, and Typer's path is it
    if argv[0] == "--version":
        from .__about__ import __version__

        sys.stdout.write(f"workflow {__version__}\n")
        return True
    if argv[0] not in ("--help", "-h") or terminal_columns() < MAX_HELP_WIDTH + 2:
        return False
    from .root_help import ROOT_HELP

    text = ROOT_HELP.replace("{prog}", program_name(), 1)
    if len(text.partition("\n")[0]) > MAX_HELP_WIDTH:
        return False
    sys.stdout.write(text)
    return True
