"""The runtime's public surface, and every module's: each names what it exports in ``__all__``.

In the style of httpx's ``tests/test_exported_members.py``: the package's
``__all__`` is sorted and every name in it resolves to something defined
inside the package; and, read from the source, every module lists each
public name it defines in its own ``__all__``, and no module imports from
another a name that module does not export (a re-export listed in
``__all__`` counts as exported).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import workflow_plugin_runtime

PACKAGE = Path(workflow_plugin_runtime.__file__).parent
NAME = workflow_plugin_runtime.__name__


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _exports(module: str) -> set[str] | None:
    """A module's ``__all__`` read from its source (None: it has none); no import, so no side effects."""
    tree = ast.parse(MODULES[module].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {ast.literal_eval(element) for element in node.value.elts}  # type: ignore[attr-defined]
    return None


def _public_definitions(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_") and name != "TYPE_CHECKING"}


def _imports_from_the_runtime(path: Path, module: str) -> list[tuple[int, str, str]]:
    """``(line, source module, name)`` of each ``from ... import name`` that takes a name from the runtime."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        if source == NAME or source.startswith(NAME + "."):
            found += [(node.lineno, source, alias.name) for alias in node.names]
    return found


def test_all_is_sorted_and_complete():
    names = workflow_plugin_runtime.__all__
    # ruff's RUF022 order: CONSTANTS, then Classes, then the rest
    assert names == sorted(names, key=lambda name: (0 if name.isupper() else 1 if name[0].isupper() else 2, name))
    for name in names:
        assert getattr(workflow_plugin_runtime, name) is not None, name


def test_each_export_is_defined_in_the_package():
    for name in workflow_plugin_runtime.__all__:
        value = getattr(workflow_plugin_runtime, name)
        module = getattr(value, "__module__", NAME)
        assert module.startswith(NAME), (name, module)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchThing"):
        workflow_plugin_runtime.NoSuchThing  # noqa: B018 - the access is the test


@pytest.mark.parametrize("module", sorted(set(MODULES) - {NAME}))
def test_each_module_lists_every_public_name_it_defines(module: str):
    exported = _exports(module)
    defined = _public_definitions(ast.parse(MODULES[module].read_text()))
    if exported is None:
        assert not defined, f"{module} defines public names but has no __all__: {sorted(defined)}"
        return
    assert sorted(defined - exported) == [], f"{module}: public but missing from __all__ (or rename with a '_')"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_name_its_source_does_not_export(module: str):
    wrong = []
    for line, source, name in _imports_from_the_runtime(MODULES[module], module):
        if f"{source}.{name}" in MODULES:
            continue  # a submodule
        exported = _exports(source)
        if exported is None or name not in exported:
            wrong.append(f"line {line}: {name} from {source}")
    assert wrong == [], f"{module} imports names their modules do not export"


def test_the_package_exports_resolve_lazily_to_the_named_module():
    """Each lazy export names the module that defines (or re-exports) it, so a move shows up here."""
    for name in workflow_plugin_runtime.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(f"{NAME}.{workflow_plugin_runtime._EXPORTS[name]}")
        assert name in (_exports(module.__name__) or set()), (name, module.__name__)


CLI_PACKAGE = Path(__file__).resolve().parents[2] / "workflow-cli" / "src" / "workflow_cli"
"""The CLI's sources, read from this checkout: the CLI is the runtime's first user of its public API."""


def _private_runtime_imports(source: str) -> list[str]:
    """Each import in ``source`` that reaches past the runtime's package root, or takes a name it does not export."""
    wrong = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            wrong += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith(NAME + ".")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if node.module.startswith(NAME + "."):
                wrong.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module == NAME:
                unexported = [a.name for a in node.names if a.name not in workflow_plugin_runtime.__all__]
                wrong += [f"line {node.lineno}: {name} is not in {NAME}.__all__" for name in unexported]
    return wrong


def test_the_check_of_the_cli_finds_every_way_past_the_public_api():
    source = (
        f"import {NAME}\n"
        f"import {NAME}.errors\n"
        f"from {NAME}.execution.scheduler import new_run_id\n"
        f"from {NAME} import Problem, errors\n"
        "def lazily():\n"
        f"    from {NAME}._util.control_chars import neutralise_controls\n"
    )
    assert _private_runtime_imports(source) == [
        f"line 2: import {NAME}.errors",
        f"line 3: from {NAME}.execution.scheduler import ...",
        f"line 4: errors is not in {NAME}.__all__",
        f"line 6: from {NAME}._util.control_chars import ...",
    ]


@pytest.mark.parametrize(
    "path", sorted(CLI_PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(CLI_PACKAGE.parent))
)
def test_the_cli_imports_only_the_runtimes_public_api(path: Path):
    assert _private_runtime_imports(path.read_text()) == [], f"{path} imports the runtime's modules directly"


def test_the_cli_sources_are_found():
    assert (CLI_PACKAGE / "commands" / "run.py").is_file(), CLI_PACKAGE
