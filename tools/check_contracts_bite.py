"""Show that the import contracts can fail: each deliberate violation, made in a copy, must break its contract.

``nox -s lint`` runs this after ``lint-imports``. For each case it copies the
three packages' sources and ``pyproject.toml`` to a temporary folder, adds
one offending import to the copy, and runs ``lint-imports`` there with the
copy first on ``sys.path``; the case passes only if the contract it names is
reported broken. A clean copy is checked first, so a failure of the copy
itself is not mistaken for a contract that bites. The repository is never
modified.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("packages/plugin-sdk/src", "packages/plugin-runtime/src", "packages/workflow-cli/src")


class Violation(NamedTuple):
    contract: str
    file: str  # relative to the copy's root
    line: str


CASES = (
    Violation(
        contract="The runtime's layers",
        file="packages/plugin-runtime/src/workflow_plugin_runtime/_util/files.py",
        line="from ..execution import scheduler as _upward  # deliberate: a helper importing the top layer",
    ),
    Violation(
        contract="No import cycle in the runtime",
        file="packages/plugin-runtime/src/workflow_plugin_runtime/plugins/references.py",
        line="if TYPE_CHECKING:\n    from . import resolve as _cycle  # deliberate, type-only: resolve imports this",
    ),
    Violation(
        contract="distributed (Dask) only in the Dask executor",
        file="packages/plugin-runtime/src/workflow_plugin_runtime/execution/scheduler.py",
        line="def _dask() -> object:\n    import distributed  # deliberate: Dask outside it\n\n    return distributed",
    ),
    Violation(
        contract="The CLI uses the runtime's public API",
        file="packages/workflow-cli/src/workflow_cli/errors.py",
        line="from workflow_plugin_runtime.plugins import resolve as _private  # deliberate: past the public API",
    ),
)


def _copy(into: Path) -> None:
    for source in SOURCES:
        shutil.copytree(ROOT / source, into / source, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")


def _lint_imports(copy: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(copy / source) for source in SOURCES)}
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],  # the one beside this interpreter
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _broken(output: str, contract: str) -> bool:
    """True when the report's summary line for ``contract`` ends in BROKEN (a long name wraps onto the next line)."""
    words = " ".join(output.split())
    start = words.find(contract)
    if start < 0:
        return False
    verdicts = [(words.find(verdict, start), verdict) for verdict in (" KEPT", " BROKEN")]
    found = [(at, verdict) for at, verdict in verdicts if at >= 0]
    return bool(found) and min(found)[1] == " BROKEN"


def _offence(case: Violation) -> str:
    return next(line.strip() for line in case.line.splitlines() if "deliberate" in line)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="contracts-") as temp:
        clean = Path(temp) / "clean"
        _copy(clean)
        result = _lint_imports(clean)
        if result.returncode != 0:
            print(result.stdout + result.stderr)
            print("check_contracts_bite: the unmodified copy already breaks a contract; fix that first")
            return 1
        failures = 0
        for index, case in enumerate(CASES):
            copy = Path(temp) / f"case-{index}"
            _copy(copy)
            target = copy / case.file
            target.write_text(target.read_text() + "\n" + case.line + "\n")
            result = _lint_imports(copy)
            bites = result.returncode != 0 and _broken(result.stdout, case.contract)
            print(f"{'ok  ' if bites else 'FAIL'} {case.contract!r} catches: {_offence(case)}")
            if not bites:
                failures += 1
                print(result.stdout + result.stderr)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
