from __future__ import annotations

import importlib.machinery
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workflow_plugin_runtime.config import PathSource, PluginsPath
from workflow_plugin_runtime.plugins.discovery import (
    _group_may_be_declared,
    entry_point_locations,
    scan_identity,
    scan_path,
)
from workflow_plugin_runtime.plugins.resolve import Resolver


def manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plugin.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("namespace: acme\nname: http\nversion: 1.0.0\n", ("acme", "http")),
        ("# comment\n---\nname: 'http'  # trailing\nnamespace: \"acme\"\nruntime:\n  name: inner\n", ("acme", "http")),
        ("namespace: acme\nname:\n  http\n", None),
        ("namespace: acme\n", None),
        ("  namespace: acme\n  name: http\n", None),
        ("{namespace: acme, name: http}\n", None),
        ('"namespace": acme\nname: http\n', None),
        ("namespace: Acme\nname: http\n", None),
        ("namespace: *ns\nname: http\n", None),
        ('description: "x\nnamespace: decoy\n  "\nnamespace: acme\nname: http\n', None),
        ("namespace: acme\nname: http\n---\nnamespace: other\n", None),
    ],
)
def test_scan_identity_reads_only_unambiguous_layouts(
    tmp_path: Path, text: str, expected: tuple[str, str] | None
) -> None:
    assert scan_identity(manifest(tmp_path, text)) == expected


def test_scan_identity_tolerates_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "plugin.yaml").write_bytes(b"namespace: \xff\n")
    assert scan_identity(tmp_path / "plugin.yaml") is None
    assert scan_identity(tmp_path / "absent.yaml") is None


def test_scan_path_finds_plugin_folders_at_depth_one(tmp_path: Path) -> None:
    for folder in ("b", "a", ".hidden", "not-a-plugin", "a/nested"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("a", "b", ".hidden", "a/nested"):
        (tmp_path / folder / "plugin.yaml").write_text("", encoding="utf-8")
    (tmp_path / "file.txt").write_text("", encoding="utf-8")
    location = PluginsPath(tmp_path, PathSource.DEFAULT, "default")
    assert [c.plugin_dir.name for c in scan_path(location)] == ["a", "b"]
    assert scan_path(PluginsPath(tmp_path / "missing", PathSource.DEFAULT, "default")) == []


def test_entry_points_lead_to_installed_plugin_directories(
    installed_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_dist))
    locations, problems = entry_point_locations()
    (location,) = [loc for loc in locations if "acme-echo-plugin" in loc.origin]
    assert location.path == installed_dist / "acme_echo_plugin"
    assert location.source is PathSource.ENTRY_POINT
    assert location.origin == "entry point acme-echo = acme_echo_plugin (acme-echo-plugin 0.3.0)"
    messages = {p.origin.split(" = ")[0]: p.message for p in problems}
    assert messages["entry point ghost"] == "package 'acme_ghost_not_installed' is not installed"
    assert messages["entry point callable"] == "the value must name a package, e.g. acme_http_plugin"


def test_entry_point_plugins_resolve_after_configured_paths(
    installed_dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_dist))
    resolver = Resolver([tmp_path / "empty"])
    manifest = resolver.resolve_action("acme/echo.echo").manifest
    assert manifest.plugin_dir == installed_dist / "acme_echo_plugin"
    assert any("entry point acme-echo" in line for line in resolver.where_looked())
    assert len(resolver.list_plugins().entry_point_problems) == 2

    local = tmp_path / "local" / "echo"
    local.mkdir(parents=True)
    (local / "main.py").write_text("", encoding="utf-8")
    (local / "plugin.yaml").write_text(
        (installed_dist / "acme_echo_plugin" / "plugin.yaml").read_text(encoding="utf-8").replace("0.3.0", "0.9.0"),
        encoding="utf-8",
    )
    resolver = Resolver([tmp_path / "local"])
    assert str(resolver.resolve("acme/echo").version) == "0.9.0"
    (listed,) = [p for p in resolver.list_plugins().plugins if p.manifest.ref == "acme/echo"]
    assert [c.plugin_dir for c in listed.shadowed] == [installed_dist / "acme_echo_plugin"]
    assert str(resolver.resolve("acme/echo", specifier="<0.5").version) == "0.3.0"


def test_entry_points_can_be_turned_off(installed_dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(installed_dist))
    resolver = Resolver([tmp_path], entry_points=False)
    assert resolver.list_plugins().plugins == ()


def test_without_a_declaration_the_entry_point_scan_never_imports_importlib_metadata(tmp_path: Path) -> None:
    other = tmp_path / "site" / "other_tool-1.0.dist-info"
    other.mkdir(parents=True)
    (other / "entry_points.txt").write_text("[console_scripts]\nother = other_tool:main\n", encoding="utf-8")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from workflow_plugin_runtime.plugins.discovery import entry_point_locations\n"
        "print(entry_point_locations(), 'importlib.metadata' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "site")], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["([],", "[])", "False"]


@pytest.fixture
def only_path_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter's own finders only: another test's finder that finds distributions would answer for it."""
    monkeypatch.setattr(sys, "meta_path", [importlib.machinery.BuiltinImporter, importlib.machinery.PathFinder])


@pytest.mark.usefixtures("only_path_finder")
@pytest.mark.parametrize("folder", ["acme_echo-0.3.0.dist-info", "acme_echo.egg-info", "ACME_ECHO-0.3.0.DIST-INFO"])
def test_a_declaration_in_any_metadata_folder_leaves_the_scan_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    other = tmp_path / "other" / "other_tool-1.0.dist-info"
    other.mkdir(parents=True)
    (other / "entry_points.txt").write_text("[console_scripts]\nother = other_tool:main\n", encoding="utf-8")
    info = tmp_path / "site" / folder
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text("[workflow.plugins]\nacme-echo = acme_echo\n", encoding="utf-8")

    monkeypatch.setattr(sys, "path", [str(tmp_path / "other"), str(tmp_path / "missing")])
    assert not _group_may_be_declared()
    monkeypatch.setattr(sys, "path", [str(tmp_path / "other"), str(tmp_path / "site")])
    assert _group_may_be_declared()


@pytest.mark.usefixtures("only_path_finder")
def test_a_zip_on_sys_path_leaves_the_scan_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("acme_echo-0.3.0.dist-info/entry_points.txt", "[workflow.plugins]\nacme-echo = acme_echo\n")
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert _group_may_be_declared()


def test_another_finder_of_distributions_leaves_the_scan_to_importlib_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    class Finder:
        @staticmethod
        def find_distributions(*_: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "path", [])
    monkeypatch.setattr(sys, "meta_path", [importlib.machinery.PathFinder])
    assert not _group_may_be_declared()
    monkeypatch.setattr(sys, "meta_path", [importlib.machinery.PathFinder, Finder()])
    assert _group_may_be_declared()
