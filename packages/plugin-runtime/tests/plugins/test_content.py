"""A plugin's content hash: stable where the code is the same, sensitive to every change, cached by stat signature."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflow_plugin_runtime.plugins.content import content_cache_file, ignored_in_plugin, plugin_content

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plugins"
HTTP = FIXTURES / "acme-http"  # checked out long ago: its files are settled, so they are cached
SETTLE_S = 0.15  # just over the 100 ms racy-entry margin (plugins.index.settled): files this old get recorded


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A small real plugin with a subfolder, an executable and a symlink."""
    root = tmp_path / "plugin"
    shutil.copytree(HTTP, root)
    (root / "lib").mkdir()
    (root / "lib" / "helper.py").write_text("X = 1\n")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "latest").symlink_to("lib/helper.py")
    return root


def test_entries_name_each_file_by_relative_path_kind_and_digest(plugin: Path) -> None:
    files = plugin_content(plugin).files

    assert sorted(files) == ["bin/tool", "latest", "lib/helper.py", "main.py", "plugin.yaml"]
    assert files["bin/tool"].startswith("exec sha256:")
    assert files["lib/helper.py"].startswith("file sha256:")
    assert files["latest"] == "link lib/helper.py"


def test_the_hash_survives_new_mtimes_a_copy_elsewhere_and_another_creation_order(plugin: Path, tmp_path: Path) -> None:
    before = plugin_content(plugin).digest
    for path in plugin.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
    assert plugin_content(plugin).digest == before

    rebuilt = tmp_path / "elsewhere" / "rebuilt"
    rebuilt.mkdir(parents=True)
    for relative in sorted(plugin_content(plugin).files, reverse=True):  # created in the opposite order
        source, target = plugin / relative, rebuilt / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    assert plugin_content(rebuilt).digest == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda root: (root / "lib" / "helper.py").write_text("X = 2\n"), id="one byte"),
        pytest.param(lambda root: (root / "lib" / "helper.py").chmod(0o755), id="executable bit"),
        pytest.param(lambda root: (root / "bin" / "tool").chmod(0o644), id="executable bit removed"),
        pytest.param(lambda root: (root / "lib" / "helper.py").rename(root / "lib" / "helpers.py"), id="rename"),
        pytest.param(lambda root: (root / "lib").rename(root / "library"), id="folder rename"),
        pytest.param(
            lambda root: ((root / "latest").unlink(), (root / "latest").symlink_to("main.py")), id="symlink target"
        ),
        pytest.param(lambda root: (root / "lib" / "empty.txt").write_text(""), id="an empty file added"),
    ],
)
def test_the_hash_changes_with_every_change_of_the_code(plugin: Path, change) -> None:
    before = plugin_content(plugin).digest

    change(plugin)

    assert plugin_content(plugin).digest != before


def test_caches_vcs_folders_editor_droppings_and_lock_files_do_not_count(plugin: Path) -> None:
    before = plugin_content(plugin)
    for folder in ("__pycache__", ".git", ".hg", ".venv", ".mypy_cache", "lib/__pycache__"):
        (plugin / folder).mkdir(parents=True)
        (plugin / folder / "junk").write_text(folder)
    for name in ("main.pyc", "main.py~", ".main.py.swp", ".main.py.swo", ".DS_Store", "#main.py#", "x.lock.json"):
        (plugin / name).write_text("not the plugin's code")

    assert plugin_content(plugin) == before
    assert ignored_in_plugin(plugin, sorted(path.name for path in plugin.iterdir())) == {
        "__pycache__",
        ".git",
        ".hg",
        ".venv",
        ".mypy_cache",
        "main.pyc",
        "main.py~",
        ".main.py.swp",
        ".main.py.swo",
        ".DS_Store",
        "#main.py#",
        "x.lock.json",
    }


def test_names_that_only_look_ignored_count(plugin: Path) -> None:
    """A file named like an ignored folder, a lone ``#``, a lock that is not ``.lock.json``: all code."""
    before = plugin_content(plugin).digest
    for name in ("venv", "#", "poetry.lock", "swp"):
        (plugin / name).write_text(name)
        after = plugin_content(plugin).digest
        assert after != before, name
        before = after


PLANTED = "file sha256:" + "0" * 64


def _plant(plugin: Path, relative: str, *, others: dict[str, str] | None = None, digest: str | None = None) -> None:
    """Put a false digest for ``relative`` in the cache, under the file's current stat signature.

    ``others``: entries of other files to record as they are (under their
    signatures too); ``digest``: a content hash to record with them.
    """
    cache_file = content_cache_file(plugin)
    assert cache_file is not None
    files = {}
    for name, entry in {**(others or {}), relative: PLANTED}.items():
        info = (plugin / name).lstat()
        files[name] = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode, entry]
    document = {"format": 2, "root": os.path.realpath(plugin), "files": files, "digest": digest}
    Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
    Path(cache_file).write_text(json.dumps(document))


def test_the_first_hash_records_each_settled_file_in_the_cache() -> None:
    plugin_content(HTTP)
    cache_file = content_cache_file(HTTP)
    assert cache_file is not None

    assert sorted(json.loads(Path(cache_file).read_text())["files"]) == ["main.py", "plugin.yaml"]


def test_digests_of_unchanged_files_come_from_the_cache_file(plugin: Path) -> None:
    """Proved by effect: a digest planted in the cache comes back while the file's stat signature holds."""
    truth = plugin_content(plugin)
    _plant(plugin, "main.py")

    cached = plugin_content(plugin)

    assert cached.files["main.py"] == PLANTED
    assert cached.files["plugin.yaml"] == truth.files["plugin.yaml"]
    assert cached.digest != truth.digest


def test_the_hash_of_a_plugin_whose_every_file_matches_the_cache_comes_from_it(plugin: Path) -> None:
    """Proved by effect, as above: a planted hash comes back while every file and no other is as recorded."""
    truth = plugin_content(plugin)
    others = {name: entry for name, entry in truth.files.items() if name != "main.py"}
    _plant(plugin, "main.py", others=others, digest="sha256:planted")

    assert plugin_content(plugin).digest == "sha256:planted"
    (plugin / "lib" / "new.py").write_text("Y = 2\n")  # a file the cache does not know: the hash is computed
    assert plugin_content(plugin).digest not in ("sha256:planted", truth.digest)


def test_an_unchanged_plugin_is_hashed_again_without_importing_hashlib(tmp_path: Path) -> None:
    shutil.copytree(HTTP, tmp_path / "plugin")
    time.sleep(SETTLE_S)
    probe = (
        "import json, sys\nfrom workflow_plugin_runtime.plugins.content import plugin_content\n"
        "print(json.dumps([plugin_content(sys.argv[1]).digest, 'hashlib' in sys.modules]))"
    )
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-c", probe, str(tmp_path / "plugin")]
    first, again = (json.loads(subprocess.run(argv, env=env, capture_output=True, check=True).stdout) for _ in "12")
    assert first == [plugin_content(HTTP).digest, True]
    assert again == [first[0], False]


def test_a_file_whose_stat_signature_changed_is_read_again(plugin: Path) -> None:
    truth = plugin_content(plugin).files["main.py"]
    _plant(plugin, "main.py")
    os.utime(plugin / "main.py", (2_000_000, 2_000_000))  # a new signature: the planted digest no longer applies

    assert plugin_content(plugin).files["main.py"] == truth


def test_a_file_changed_within_a_clock_tick_is_not_cached(plugin: Path) -> None:
    """Its signature could repeat after a later change in the same tick, so it is read again next time."""
    (plugin / "fresh.py").write_text("X = 1\n")

    plugin_content(plugin)
    cache_file = content_cache_file(plugin)
    assert cache_file is not None

    recorded = json.loads(Path(cache_file).read_text())["files"] if Path(cache_file).exists() else {}
    assert "fresh.py" not in recorded


def test_caching_off_still_hashes(plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = plugin_content(plugin).digest
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", "")

    assert content_cache_file(plugin) is None
    assert plugin_content(plugin).digest == before
