"""The ``workflow`` entry point: ``--help`` and ``--version`` answered without loading Typer.

Importing Typer costs about five bare interpreter starts on our machines
(benchmarks/bench_cli_startup.py), and the two commands people type first
need none of it. Everything else goes to the Typer app in :mod:`.app`,
which stays the one definition of the commands.

The root help printed here is :data:`.root_help.ROOT_HELP`, a copy of what
Typer renders; a test compares the two. The copy is only used where it is
exact: no shell completion in progress, a terminal of 80 columns or more
(Click's help is 78 wide there; narrower terminals get Typer's own wrap).
"""

from __future__ import annotations

import os
import sys

__all__ = ["main", "program_name"]

HELP_WIDTH = 78
"""Click's help width on terminals of 80 columns and more (it caps at 80, minus 2)."""


def main() -> None:
    if not _answered_without_typer(sys.argv[1:]):
        from .app import main as typer_main

        typer_main()


def _answered_without_typer(argv: list[str]) -> bool:
    if len(argv) != 1 or any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ):
        return False
    if argv[0] == "--version":
        from .__about__ import __version__

        sys.stdout.write(f"workflow {__version__}\n")
        return True
    if argv[0] not in ("--help", "-h") or _terminal_columns() < HELP_WIDTH + 2:
        return False
    from .root_help import ROOT_HELP

    text = ROOT_HELP.replace("{prog}", program_name(), 1)
    if len(text.partition("\n")[0]) > HELP_WIDTH:
        return False
    sys.stdout.write(text)
    return True


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says (COLUMNS, else the terminal), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ is not None else 0
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def program_name() -> str:
    """The program name in usage lines, detected as Click does: ``workflow``, or ``python -m workflow_cli``."""
    main_module = sys.modules.get("__main__")
    path = sys.argv[0]
    package = getattr(main_module, "__package__", None)
    if not package:
        return os.path.basename(path)  # noqa: PTH119 - pathlib costs an import here, where every millisecond shows
    name = os.path.splitext(os.path.basename(path))[0]  # noqa: PTH119, PTH122 - as above
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"
