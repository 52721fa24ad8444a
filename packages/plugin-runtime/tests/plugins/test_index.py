"""The on-disk plugin index: signatures, the racy-entry rule, corruption, unwritable dirs, concurrent writers."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import workflow_plugin_runtime
from workflow_plugin_runtime.plugins.index import _WATCHED, ManifestIndex, settled, signature

SETTLE_S = 0.15  # just over the index's 100 ms tick margin on filesystems with fine timestamps


def aged_file(path: Path, text: str) -> Path:
    """A file whose last change is old enough for the index to record it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    time.sleep(SETTLE_S)
    return path


def test_a_file_is_settled_only_once_its_change_is_a_tick_old(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    before = time.time_ns()
    path.write_text("name: x\n", encoding="utf-8")
    info = path.stat()
    assert not settled(info, before)
    assert not settled(info, time.time_ns())
    assert settled(info, max(info.st_ctime_ns, info.st_mtime_ns) + 2_000_000_001)


def test_entries_survive_a_reload_and_miss_once_the_file_changes(tmp_path: Path) -> None:
    manifest = aged_file(tmp_path / "p" / "plugin.yaml", "namespace: acme\nname: http\n")
    file = str(tmp_path / "cache" / "index.bin")
    sig = signature(manifest.stat())
    writer = ManifestIndex(file)
    writer.remember(str(manifest), sig, identity=("acme", "http"), data={"namespace": "acme", "n": [1, 2.5, None]})
    writer.flush()

    reader = ManifestIndex(file)
    assert reader.identity(str(manifest), sig) == ("acme", "http")
    assert reader.checked_data(str(manifest), sig) == {"namespace": "acme", "n": [1, 2.5, None]}

    stamp = manifest.stat()
    manifest.write_text("namespace: acme\nname: mttp\n", encoding="utf-8")  # same size, same inode
    os.utime(manifest, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # and the old mtime: ctime still moves
    changed = signature(manifest.stat())
    assert changed != sig
    assert ManifestIndex(file).identity(str(manifest), changed) is None


def test_checked_data_of_many_files_survives_repacking(tmp_path: Path) -> None:
    paths = [aged_file(tmp_path / f"p{n}" / "plugin.yaml", f"name: p{n}\n") for n in range(3)]
    file = str(tmp_path / "index.bin")
    first = ManifestIndex(file)
    for n, path in enumerate(paths[:2]):
        first.remember(str(path), signature(path.stat()), identity=("acme", f"p{n}"), data={"n": n, "s": "x" * n})
    first.flush()
    second = ManifestIndex(file)  # reads packed data, then adds a third file and rewrites everything
    path = paths[2]
    second.remember(str(path), signature(path.stat()), identity=("acme", "p2"), data={"n": 2, "s": "xx"})
    second.remember(str(paths[0]), signature(paths[0].stat()), identity=("acme", "p0"))  # keeps its data
    second.flush()
    third = ManifestIndex(file)
    for n, path in enumerate(paths):
        assert third.checked_data(str(path), signature(path.stat())) == {"n": n, "s": "x" * n}


def test_a_file_without_identity_is_remembered_as_such(tmp_path: Path) -> None:
    manifest = aged_file(tmp_path / "plugin.yaml", "{flow: style}\n")
    index = ManifestIndex(str(tmp_path / "index.bin"))
    sig = signature(manifest.stat())
    assert index.identity(str(manifest), sig) is None
    index.remember(str(manifest), sig, identity=None)
    assert index.identity(str(manifest), sig) == ()


def test_flush_drops_entries_of_deleted_and_changed_files(tmp_path: Path) -> None:
    kept = aged_file(tmp_path / "kept" / "plugin.yaml", "a")
    gone = aged_file(tmp_path / "gone" / "plugin.yaml", "b")
    edited = aged_file(tmp_path / "edited" / "plugin.yaml", "c")
    file = str(tmp_path / "index.bin")
    index = ManifestIndex(file)
    sigs = {path: signature(path.stat()) for path in (kept, gone, edited)}
    for path in (kept, gone, edited):
        index.remember(str(path), sigs[path], identity=("acme", path.parent.name))
    gone.unlink()
    edited.write_text("changed", encoding="utf-8")
    index.flush()
    reloaded = ManifestIndex(file)
    assert reloaded.identity(str(kept), sigs[kept]) == ("acme", "kept")
    assert reloaded.identity(str(gone), sigs[gone]) is None
    assert reloaded.identity(str(edited), sigs[edited]) is None


def test_a_corrupt_truncated_or_foreign_file_is_ignored_then_rewritten(tmp_path: Path) -> None:
    manifest = aged_file(tmp_path / "plugin.yaml", "namespace: acme\nname: http\n")
    sig = signature(manifest.stat())
    file = tmp_path / "index.bin"
    good = ManifestIndex(str(file))
    good.remember(str(manifest), sig, identity=("acme", "http"))
    good.flush()
    valid = file.read_bytes()
    flipped = bytearray(valid)
    flipped[valid.rindex(b"http")] ^= 0x01  # one bit in the payload: the checksum catches it
    foreign = valid.replace(b"workflow-plugin-index", b"workflow-plugin-indey")
    for damaged in (b"", b"\x00" * 64, b"not marshal at all", valid[: len(valid) // 2], bytes(flipped), foreign):
        file.write_bytes(damaged)
        index = ManifestIndex(str(file))
        assert index.identity(str(manifest), sig) is None
        index.remember(str(manifest), sig, identity=("acme", "http"))
        index.flush()
        assert ManifestIndex(str(file)).identity(str(manifest), sig) == ("acme", "http")


def test_an_unwritable_cache_dir_only_costs_speed(tmp_path: Path) -> None:
    manifest = aged_file(tmp_path / "plugin.yaml", "namespace: acme\nname: http\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    index = ManifestIndex(str(blocker / "cache" / "index.bin"))  # works even as root: a file is in the way
    sig = signature(manifest.stat())
    index.remember(str(manifest), sig, identity=("acme", "http"))
    index.flush()
    assert index.identity(str(manifest), sig) == ("acme", "http")  # still known within the process
    assert not (blocker / "cache").exists()
    assert ManifestIndex(None).identity(str(manifest), sig) is None  # caching off


WRITER = """
import sys
from workflow_plugin_runtime.plugins import index
from workflow_plugin_runtime.plugins.resolve import Resolver
for root in sys.argv[1:]:
    index._SHARED = None  # a fresh process view each round: read, merge, write
    assert len(Resolver([root], entry_points=False).list_plugins().plugins) == 15
"""


def test_concurrent_writers_never_expose_a_torn_index(tmp_path: Path) -> None:
    rounds: list[list[str]] = []
    for writer in range(4):
        roots = []
        for round_number in range(6):
            root = tmp_path / f"plugins-{writer}-{round_number}"
            for number in range(15):
                folder = root / f"p{number:02d}"
                folder.mkdir(parents=True)
                (folder / "main.py").write_text("", encoding="utf-8")
                (folder / "plugin.yaml").write_text(
                    f"namespace: w{writer}\nname: p{number:02d}\nversion: '1.0'\n"
                    "runtime: {entrypoint: main.py}\nactions: {run: {}}\n",
                    encoding="utf-8",
                )
            roots.append(str(root))
        rounds.append(roots)
    time.sleep(SETTLE_S)
    cache = tmp_path / "cache"
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(cache)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, *roots], env=env, stderr=subprocess.PIPE) for roots in rounds
    ]
    reads = 0
    deadline = time.monotonic() + 120
    while any(process.poll() is None for process in writers) and time.monotonic() < deadline:
        for file in cache.glob("plugin-index/*.bin"):
            assert ManifestIndex(str(file)).read_groups() is not None, "a reader saw a torn or unreadable index"
            reads += 1
    for process in writers:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()
    (file,) = cache.glob("plugin-index/*.bin")
    assert ManifestIndex(str(file)).read_groups() is not None
    assert not list(cache.glob("plugin-index/*.tmp"))
    assert reads > 0, "the writers finished before the reader could look"


LOADER = """
import json, sys
from pathlib import Path
from workflow_plugin_runtime.plugins import discovery, manifest_checks, manifest_loading
for plugin_dir in sys.argv[1:]:
    manifest_loading.load_cached(Path(plugin_dir) / "plugin.yaml")
    discovery.read_identities(discovery.plugin_dirs(plugin_dir), before_ns=0)
manifest_loading.shared_index().flush()
runtime = [module for name, module in sys.modules.items() if name.split(".")[0] == "workflow_plugin_runtime"]
print(json.dumps(sorted(module.__file__ for module in runtime)))
"""


def _is_docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def test_the_index_key_watches_every_module_the_manifest_checks_load(tmp_path: Path) -> None:
    """Editing any of them must discard the index: a check that changed may judge a cached manifest otherwise."""
    fixtures = Path(__file__).parents[1] / "fixtures" / "plugins"
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(tmp_path / "cache")}
    plugins = [str(fixtures / name) for name in ("acme-http", "typo-key", "broken-yaml")]
    done = subprocess.run(
        [sys.executable, "-c", LOADER, *plugins], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    package = Path(workflow_plugin_runtime.__file__).parent
    loaded = [Path(file) for file in json.loads(done.stdout)]
    unwatched = {
        path.relative_to(package).as_posix()
        for path in loaded
        if path.relative_to(package).as_posix() not in _WATCHED
        and not (path.name == "__init__.py" and _is_docstring_only(path))
    }
    assert unwatched == set(), "add these to plugins/index.py's _WATCHED"
    assert [name for name in _WATCHED if not (package / name).is_file()] == [], "a watched file was moved"
