from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from workflow_plugin_runtime.config import PathSource, PluginsPath, load_config
from workflow_plugin_runtime.errors import ManifestError, PluginNotFoundError, ReferenceSyntaxError
from workflow_plugin_runtime.plugins import manifest_loading
from workflow_plugin_runtime.plugins.index import ManifestIndex, signature
from workflow_plugin_runtime.plugins.references import PluginRef
from workflow_plugin_runtime.plugins.resolve import Resolver

FIXTURES = Path(__file__).parents[1] / "fixtures" / "plugins"


def make(
    root: Path,
    namespace: str,
    name: str,
    version: str = "1.0.0",
    *,
    folder: str | None = None,
    actions: tuple[str, ...] = ("run",),
    text: str | None = None,
) -> Path:
    directory = root / (folder or name)
    directory.mkdir(parents=True)
    (directory / "main.py").write_text("", encoding="utf-8")
    if text is None:
        body = "".join(f"  {action}: {{}}\n" for action in actions)
        head = f"namespace: {namespace}\nname: {name}\nversion: '{version}'\n"
        text = f"{head}runtime:\n  entrypoint: main.py\nactions:\n{body}"
    (directory / "plugin.yaml").write_text(text, encoding="utf-8")
    return directory


def resolver(*paths: Path) -> Resolver:
    return Resolver([PluginsPath(p, PathSource.OPTION, f"option {p.name}") for p in paths], entry_points=False)


def test_first_path_wins_and_shadowed_copies_are_kept(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    make(first, "acme", "http", "1.0.0")
    make(second, "acme", "http", "2.0.0")
    make(second, "acme", "text")
    found = resolver(first, second)
    assert found.resolve("acme/http").version == Version("1.0.0")
    copies = found.copies("acme/http")
    assert [(c.version, c.plugin_dir, c.location.origin) for c in copies] == [
        (Version("1.0.0"), first / "http", "option first"),
        (Version("2.0.0"), second / "http", "option second"),
    ]
    listing = found.list_plugins()
    assert [(p.manifest.ref, [c.plugin_dir for c in p.shadowed]) for p in listing.plugins] == [
        ("acme/http", [second / "http"]),
        ("acme/text", []),
    ]
    assert listing.broken == ()


def test_identity_comes_from_the_manifest_not_the_folder(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http", folder="zz-misleading-name")
    make(tmp_path / "p", "other", "thing", folder="http")
    found = resolver(tmp_path / "p")
    assert found.resolve("acme/http").plugin_dir == tmp_path / "p" / "zz-misleading-name"
    assert found.resolve("other/thing").plugin_dir == tmp_path / "p" / "http"


def test_within_one_path_the_first_folder_by_name_wins(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http", "1.0.0", folder="b-http")
    make(tmp_path / "p", "acme", "http", "9.0.0", folder="a-http")
    assert resolver(tmp_path / "p").resolve("acme/http").version == Version("9.0.0")


def test_a_path_may_be_a_plugin_directory_itself(tmp_path: Path) -> None:
    single = make(tmp_path, "acme", "solo")
    assert resolver(single).resolve("acme/solo").plugin_dir == single


def test_resolve_action_and_nearest_action(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http", actions=("get", "post"))
    found = resolver(tmp_path / "p")
    resolved = found.resolve_action("acme/http.post")
    assert (str(resolved.ref), resolved.action.name) == ("acme/http.post", "post")
    with pytest.raises(PluginNotFoundError) as caught:
        found.resolve_action("acme/http.gett")
    assert caught.value.hint == "did you mean acme/http.get?"


def test_not_found_suggests_the_nearest_plugin_and_says_where_it_looked(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http")
    found = resolver(tmp_path / "p", tmp_path / "missing")
    with pytest.raises(PluginNotFoundError) as caught:
        found.resolve("acme/htp")
    assert caught.value.message == "plugin acme/htp not found"
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("did you mean acme/http? looked in: ")
    assert f"{tmp_path / 'p'} (option p)" in caught.value.hint
    assert f"{tmp_path / 'missing'} (option missing, missing)" in caught.value.hint


def test_not_found_suggests_the_same_name_in_another_namespace(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http")
    with pytest.raises(PluginNotFoundError) as caught:
        resolver(tmp_path / "p").resolve("zzzzzz/http")
    assert caught.value.hint is not None and caught.value.hint.startswith("did you mean acme/http?")


def test_malformed_ref_is_a_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ReferenceSyntaxError):
        resolver(tmp_path).resolve_action("acme/http")


def test_broken_manifest_does_not_break_others_and_is_listed(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "good")
    make(
        tmp_path / "p",
        "acme",
        "bad",
        text="namespace: acme\nname: bad\nversion: 1.0.0\nruntime: {}\nactions: {a: {}}\n",
    )
    found = resolver(tmp_path / "p")
    assert found.resolve("acme/good").ref == "acme/good"
    listing = found.list_plugins()
    assert [p.manifest.ref for p in listing.plugins] == ["acme/good"]
    (broken,) = listing.broken
    assert broken.ref == PluginRef("acme", "bad") and broken.manifest is None
    assert broken.problems[0].message == "needs one of 'entrypoint' or 'command'"
    with pytest.raises(ManifestError) as caught:
        found.resolve("acme/bad")
    assert caught.value.message == "needs one of 'entrypoint' or 'command'"
    assert caught.value.location is not None and caught.value.location.line == 4


def test_broken_first_copy_is_surfaced_instead_of_a_later_good_one(tmp_path: Path) -> None:
    make(
        tmp_path / "a",
        "acme",
        "http",
        text="namespace: acme\nname: http\nversion: one\nruntime: {entrypoint: main.py}\nactions: {a: {}}\n",
    )
    make(tmp_path / "b", "acme", "http")
    with pytest.raises(ManifestError) as caught:
        resolver(tmp_path / "a", tmp_path / "b").resolve("acme/http")
    assert caught.value.message == "'one' is not a valid version"
    assert caught.value.hint is not None and "first copy of acme/http on plugins.paths" in caught.value.hint


def test_unreadable_broken_manifest_is_surfaced_when_its_folder_matches(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http", text="{namespace: acme, name: http, version: [\n")
    found = resolver(tmp_path / "p")
    with pytest.raises(PluginNotFoundError) as caught:
        found.resolve("acme/http")
    assert "may be it but is broken: invalid YAML" in caught.value.message
    assert caught.value.location is not None and caught.value.location.line == 2
    assert found.list_plugins().broken[0].ref is None


def test_a_broken_manifest_quoted_in_not_found_counts_its_other_problems(tmp_path: Path) -> None:
    text = "namespace: Acme\nname: http\nversion: '1.0'\nruntime: {entrypoint: main.py}\nactions: {run: {}}\nextra: 1\n"
    plugin_dir = make(tmp_path / "p", "acme", "http", text=text)
    with pytest.raises(PluginNotFoundError) as caught:
        resolver(tmp_path / "p").resolve("acme/http")
    assert "may be it but is broken" in caught.value.message
    assert caught.value.hint is not None
    assert caught.value.hint.endswith(
        f"1 more problem in that file: `workflow plugin inspect {plugin_dir}` lists every one"
    )


def test_version_requirement_selects_the_first_matching_copy(tmp_path: Path) -> None:
    make(tmp_path / "a", "acme", "http", "2.1.0")
    make(tmp_path / "b", "acme", "http", "1.4.0")
    make(tmp_path / "c", "acme", "http", "1.2.0")
    found = resolver(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert found.resolve("acme/http", specifier=">=1.2,<2").version == Version("1.4.0")
    assert found.resolve("acme/http", specifier="<1.3").version == Version("1.2.0")
    with pytest.raises(PluginNotFoundError) as caught:
        found.resolve("acme/http", specifier=">=3")
    message = caught.value.message
    assert message.startswith("no copy of acme/http matches >=3: found 2.1.0 at ")
    assert f"1.4.0 at {tmp_path / 'b' / 'http'} (option b)" in message
    with pytest.raises(ReferenceSyntaxError, match="not a valid version requirement"):
        found.resolve("acme/http", specifier="=>1")


@pytest.mark.parametrize(
    "text",
    [
        "{namespace: acme, name: http, version: '1.0', runtime: {entrypoint: main.py}, actions: {run: {}}}\n",
        "  namespace: acme\n  name: http\n  version: '1.0'\n  runtime: {entrypoint: main.py}\n  actions: {run: {}}\n",
        '"namespace": acme\n"name": http\nversion: "1.0"\nruntime: {entrypoint: main.py}\nactions: {run: {}}\n',
        "namespace: &ns acme\nname: !!str http\nversion: '1.0'\nruntime: {entrypoint: main.py}\nactions: {run: {}}\n",
        'description: "a\nnamespace: decoy\n  "\nnamespace: acme\nname: http\nversion: "1.0"\n'
        "runtime: {entrypoint: main.py}\nactions: {run: {}}\n",
    ],
    ids=["flow", "indented", "quoted-keys", "anchor-and-tag", "decoy-in-quoted-scalar"],
)
def test_unusual_yaml_layouts_still_resolve(tmp_path: Path, text: str) -> None:
    make(tmp_path / "p", "acme", "http", folder="x", text=text)
    make(tmp_path / "p", "decoy", "http", folder="y")
    found = resolver(tmp_path / "p")
    assert found.resolve("acme/http").plugin_dir == tmp_path / "p" / "x"
    assert found.resolve("decoy/http").plugin_dir == tmp_path / "p" / "y"


def test_resolving_one_ref_parses_only_its_manifest(tmp_path: Path) -> None:
    for index in range(40):
        make(tmp_path / "p", "bulk", f"plugin-{index:02d}")
    manifest_loading.clear()
    resolver(tmp_path / "p").resolve("bulk/plugin-37")
    # The per-process manifest cache holds exactly the manifests that were parsed.
    assert list(manifest_loading._CACHE) == [tmp_path / "p" / "plugin-37" / "plugin.yaml"]


def test_fixture_tree_lists_good_and_broken_plugins() -> None:
    listing = Resolver([FIXTURES], entry_points=False).list_plugins()
    assert [p.manifest.ref for p in listing.plugins] == ["acme/http", "acme/text", "tools/minimal"]
    assert sorted(str(b.ref) for b in listing.broken) == ["broken/typo", "broken/yaml"]


def test_resolver_from_config_searches_project_plugins(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / ".workflow").mkdir(parents=True)
    (root / ".workflow" / "config.yaml").write_text("plugins:\n  paths: [vendor]\n", encoding="utf-8")
    make(root / "vendor", "acme", "http", "2.0.0")
    make(root / "plugins", "acme", "http", "1.0.0")
    config = load_config(start=root, env={}, user_config_dir=tmp_path / "u", user_data_dir=tmp_path / "d")
    found = Resolver.from_config(config, entry_points=False)
    assert found.resolve("acme/http").version == Version("2.0.0")
    assert [c.location.source for c in found.copies("acme/http")] == [PathSource.PROJECT_CONFIG, PathSource.DEFAULT]


# A cold resolve: each call below is a new interpreter sharing one cache dir, as one-shot commands are.
COLD = """
import json, sys
from workflow_plugin_runtime.plugins.resolve import Resolver
roots, ref = json.loads(sys.argv[1]), sys.argv[2]
try:
    manifest = Resolver(roots, entry_points=False).resolve(ref)
except Exception as exc:
    result = {"error": type(exc).__name__, "message": exc.message}
else:
    result = {"dir": str(manifest.plugin_dir), "repr": None}
heavy = ("yaml", "dataclasses", "fastjsonschema", "platformdirs", "packaging.version")
result["imported"] = sorted(name for name in heavy if name in sys.modules)
if "dir" in result:
    result["version"] = str(manifest.version)
    result["repr"] = repr(manifest)
print(json.dumps(result))
"""
SETTLE_S = 0.15  # just over the index's 100 ms racy-entry margin: files this old get recorded


def cold(roots: list[Path], ref: str, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", COLD, json.dumps([str(r) for r in roots]), ref],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_cold_resolve_reads_the_index_and_imports_no_parser(tmp_path: Path) -> None:
    for index in range(30):
        make(tmp_path / "p", "bulk", f"plugin-{index:02d}", f"1.{index}.0")
    time.sleep(SETTLE_S)
    first = cold([tmp_path / "p"], "bulk/plugin-29", tmp_path / "cache")
    assert "yaml" in first["imported"]  # nothing cached yet: parsed and checked
    again = cold([tmp_path / "p"], "bulk/plugin-29", tmp_path / "cache")
    assert again["imported"] == []
    assert (again["dir"], again["version"], again["repr"]) == (first["dir"], "1.29.0", first["repr"])


def test_a_manifest_from_the_index_equals_the_parsed_one(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "acme-http", tmp_path / "p" / "acme-http")
    shutil.copytree(FIXTURES / "acme-text", tmp_path / "p" / "acme-text")
    time.sleep(SETTLE_S)
    reprs = {}
    for ref in ("acme/http", "acme/text"):
        parsed = cold([tmp_path / "p"], ref, tmp_path / "cache")
        indexed = cold([tmp_path / "p"], ref, tmp_path / "cache")
        assert indexed["imported"] == [] and "yaml" in parsed["imported"]
        assert indexed["repr"] == parsed["repr"]
        reprs[ref] = parsed["repr"]
    listed = subprocess.run(
        [sys.executable, "-c", LIST_REPRS, str(tmp_path / "p")],
        env={**os.environ, "WORKFLOW_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout) == {"reprs": reprs, "parsed": False}


LIST_REPRS = """
import json, sys
from workflow_plugin_runtime.plugins.resolve import Resolver
listing = Resolver([sys.argv[1]], entry_points=False).list_plugins()
reprs = {p.manifest.ref: repr(p.manifest) for p in listing.plugins}
print(json.dumps({"reprs": reprs, "parsed": "workflow_plugin_runtime.plugins.manifest_checks" in sys.modules}))
"""


def test_an_edit_after_a_cached_resolve_is_seen_by_the_next_process(tmp_path: Path) -> None:
    folder = make(tmp_path / "p", "acme", "http", "1.0.0")
    time.sleep(SETTLE_S)
    assert cold([tmp_path / "p"], "acme/http", tmp_path / "cache")["version"] == "1.0.0"
    assert cold([tmp_path / "p"], "acme/http", tmp_path / "cache")["imported"] == []
    manifest = folder / "plugin.yaml"
    stamp = manifest.stat()
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.0.0", "1.0.1"), encoding="utf-8")
    os.utime(manifest, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, inode and mtime: only ctime moves
    assert cold([tmp_path / "p"], "acme/http", tmp_path / "cache")["version"] == "1.0.1"


def test_a_renamed_plugin_moves_and_a_deleted_one_is_gone(tmp_path: Path) -> None:
    one = make(tmp_path / "p", "acme", "one", "1.0.0", folder="a")
    make(tmp_path / "p", "acme", "two", "2.0.0", folder="b")
    time.sleep(SETTLE_S)
    for ref in ("acme/one", "acme/two", "acme/one", "acme/two"):
        assert "dir" in cold([tmp_path / "p"], ref, tmp_path / "cache")
    manifest = one / "plugin.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("name: one", "name: two"), encoding="utf-8")
    moved = cold([tmp_path / "p"], "acme/two", tmp_path / "cache")
    assert (moved["dir"], moved["version"]) == (str(one), "1.0.0")  # folder a now comes first as acme/two
    assert cold([tmp_path / "p"], "acme/one", tmp_path / "cache")["error"] == "PluginNotFoundError"
    shutil.rmtree(one)
    assert cold([tmp_path / "p"], "acme/two", tmp_path / "cache")["version"] == "2.0.0"
    shutil.rmtree(tmp_path / "p" / "b")
    assert cold([tmp_path / "p"], "acme/two", tmp_path / "cache")["error"] == "PluginNotFoundError"


def test_a_plugin_added_earlier_on_the_path_shadows_the_cached_one(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    make(second, "acme", "http", "2.0.0")
    time.sleep(SETTLE_S)
    for _ in range(2):
        assert cold([first, second], "acme/http", tmp_path / "cache")["version"] == "2.0.0"
    make(first, "acme", "http", "1.0.0", folder="zz-late")
    assert cold([first, second], "acme/http", tmp_path / "cache")["version"] == "1.0.0"


def test_a_missing_entrypoint_is_reported_even_when_the_manifest_is_cached(tmp_path: Path) -> None:
    folder = make(tmp_path / "p", "acme", "http")
    time.sleep(SETTLE_S)
    for _ in range(2):
        assert "dir" in cold([tmp_path / "p"], "acme/http", tmp_path / "cache")
    (folder / "main.py").unlink()
    failed = cold([tmp_path / "p"], "acme/http", tmp_path / "cache")
    assert failed["error"] == "ManifestError"
    assert failed["message"] == f"'main.py' does not exist in {folder.resolve()}"


def test_an_unwritable_cache_dir_only_costs_speed(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "http")
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    time.sleep(SETTLE_S)
    for _ in range(2):
        assert "yaml" in cold([tmp_path / "p"], "acme/http", blocker / "cache")["imported"]
    assert blocker.is_file()


WRITE_THEN_RESOLVE = """
import sys
from pathlib import Path
from workflow_plugin_runtime.plugins.resolve import Resolver
manifest = Path(sys.argv[1])
manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.0.0", "1.0.1"), encoding="utf-8")
assert str(Resolver([manifest.parent.parent], entry_points=False).resolve("acme/http").version) == "1.0.1"
"""


def test_a_manifest_changed_within_the_last_tick_is_not_recorded(tmp_path: Path) -> None:
    folder = make(tmp_path / "p", "acme", "http", "1.0.0")
    time.sleep(SETTLE_S)
    cache = tmp_path / "cache"
    cold([tmp_path / "p"], "acme/http", cache)
    (index_file,) = cache.glob("plugin-index/*.bin")
    manifest = str(folder / "plugin.yaml")
    assert ManifestIndex(str(index_file)).identity(manifest, signature(Path(manifest).stat())) == ("acme", "http")
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-c", WRITE_THEN_RESOLVE, manifest], env=env, check=True)
    # Rewritten and resolved within the tick margin: its new signature was not recorded.
    assert ManifestIndex(str(index_file)).identity(manifest, signature(Path(manifest).stat())) is None
    again = cold([tmp_path / "p"], "acme/http", cache)
    assert again["version"] == "1.0.1" and "yaml" in again["imported"]


def test_a_manifest_added_to_an_existing_folder_is_found_though_the_listing_is_cached(tmp_path: Path) -> None:
    make(tmp_path / "p", "acme", "other")
    (tmp_path / "p" / "later").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("", encoding="utf-8")
    time.sleep(SETTLE_S)
    for _ in range(2):
        assert cold([tmp_path / "p"], "acme/http", tmp_path / "cache")["error"] == "PluginNotFoundError"
    (tmp_path / "p" / "later" / "main.py").write_text("", encoding="utf-8")
    (tmp_path / "p" / "later" / "plugin.yaml").write_text(
        "namespace: acme\nname: http\nversion: '3.0'\nruntime: {entrypoint: main.py}\nactions: {run: {}}\n",
        encoding="utf-8",
    )  # the plugins folder itself did not change: only "later" did
    assert cold([tmp_path / "p"], "acme/http", tmp_path / "cache")["version"] == "3.0"


def test_a_listing_reuses_only_its_own_stats_so_the_next_listing_sees_an_edit(tmp_path: Path) -> None:
    plugin = make(tmp_path / "plugins", "acme", "edited", "1.0.0")
    time.sleep(SETTLE_S)  # settled: the process keeps the manifest without its bytes, trusting its signature
    same = resolver(tmp_path / "plugins")
    assert [p.manifest.version_text for p in same.list_plugins().plugins] == ["1.0.0"]

    manifest = plugin / "plugin.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.0.0", "1.10.0"), encoding="utf-8")

    # the folder's listing is this resolver's from the first call: its stat is stale, the manifest is stat'ed again
    assert [p.manifest.version_text for p in same.list_plugins().plugins] == ["1.10.0"]
    assert [p.manifest.version_text for p in resolver(tmp_path / "plugins").list_plugins().plugins] == ["1.10.0"]
