from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path

import pytest

from workflow_plugin_runtime.config import (
    Config,
    ExecutorKind,
    ExecutorSettings,
    PathSource,
    PoolSettings,
    RuntimeKind,
    find_project_root,
    load_config,
    restricted_backend,
)
from workflow_plugin_runtime.errors import ConfigError


@pytest.fixture
def user_dirs(tmp_path: Path) -> tuple[Path, Path]:
    config_dir, data_dir = tmp_path / "user-config", tmp_path / "user-data"
    config_dir.mkdir()
    data_dir.mkdir()
    return config_dir, data_dir


def load(start: Path, user_dirs: tuple[Path, Path], **options: object) -> Config:
    options.setdefault("env", {})
    return load_config(start=start, user_config_dir=user_dirs[0], user_data_dir=user_dirs[1], **options)  # type: ignore[arg-type]


def project(tmp_path: Path, config: str | None = None) -> Path:
    root = tmp_path / "proj"
    (root / ".workflow").mkdir(parents=True)
    if config is not None:
        (root / ".workflow" / "config.yaml").write_text(config, encoding="utf-8")
    return root


def test_defaults_without_any_config(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    start = tmp_path / "somewhere"
    start.mkdir()
    config = load(start, user_dirs)
    assert config.project_root == start
    assert [(p.path, p.source) for p in config.plugins_paths] == [
        (start / ".workflow" / "plugins", PathSource.DEFAULT),
        (start / "plugins", PathSource.DEFAULT),
        (user_dirs[1] / "plugins", PathSource.DEFAULT),
    ]
    assert (config.project_config, config.user_config) == (None, None)
    assert (config.backend, config.pool) == (None, None)


def test_project_root_is_found_upward(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "plugins:\n  paths: [vendor/plugins, /opt/shared]\n")
    nested = root / "workflows" / "release"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == root
    config = load(nested, user_dirs)
    assert config.project_root == root
    assert config.project_config == root / ".workflow" / "config.yaml"
    first, second = config.plugins_paths[:2]
    assert (first.path, first.source) == (root / "vendor" / "plugins", PathSource.PROJECT_CONFIG)
    assert first.origin == f"{root / '.workflow' / 'config.yaml'}:2"
    assert second.path == Path("/opt/shared")


def test_full_precedence_order(tmp_path: Path, user_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, "plugins:\n  paths: [from-project]\n")
    (user_dirs[0] / "config.yaml").write_text("plugins:\n  paths: [from-user, ~/home-plugins]\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    env = {"WORKFLOW_PLUGINS_PATH": os.pathsep.join([str(tmp_path / "env-a"), "", "env-b"])}
    config = load(root / "sub", user_dirs, env=env, plugins_paths=[tmp_path / "option", "relative-option"])
    assert [(p.path, p.source) for p in config.plugins_paths] == [
        (tmp_path / "option", PathSource.OPTION),
        (tmp_path / "relative-option", PathSource.OPTION),
        (tmp_path / "env-a", PathSource.ENV),
        (tmp_path / "env-b", PathSource.ENV),
        (root / "from-project", PathSource.PROJECT_CONFIG),
        (user_dirs[0] / "from-user", PathSource.USER_CONFIG),
        (tmp_path / "home" / "home-plugins", PathSource.USER_CONFIG),
        (root / ".workflow" / "plugins", PathSource.DEFAULT),
        (root / "plugins", PathSource.DEFAULT),
        (user_dirs[1] / "plugins", PathSource.DEFAULT),
    ]
    assert config.user_config == user_dirs[0] / "config.yaml"
    assert str(config.plugins_paths[2]) == f"{tmp_path / 'env-a'} (WORKFLOW_PLUGINS_PATH)"


def test_a_directory_listed_twice_keeps_its_first_place(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "plugins:\n  paths: [plugins, ./plugins/]\n")
    (root / "plugins").mkdir()
    config = load(root, user_dirs)
    plugin_dirs = [p for p in config.plugins_paths if p.path == root / "plugins"]
    assert [p.source for p in plugin_dirs] == [PathSource.PROJECT_CONFIG]
    assert len(config.plugins_paths) == 3


def test_project_settings_override_user_settings(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "restricted: {backend: docker}\npool: {size: 4}\n")
    (user_dirs[0] / "config.yaml").write_text(
        "restricted: {backend: sandbox}\npool: {size: 2, idle_timeout: 5}\n", encoding="utf-8"
    )
    config = load(root, user_dirs)
    assert config.backend is RuntimeKind.DOCKER
    assert config.pool == PoolSettings(size=4, idle_timeout=5.0, recycle_after=1000)
    assert config.pool_enabled is False


def test_the_pool_can_be_enabled_for_every_run(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    config = load(project(tmp_path, "pool: {enabled: true, size: 3}\n"), user_dirs)
    assert config.pool_enabled is True
    assert config.pool == PoolSettings(size=3, idle_timeout=60.0, recycle_after=1000)


def test_the_executor_section_with_tls_paths_from_the_folder_of_the_config_that_set_them(
    tmp_path: Path, user_dirs: tuple[Path, Path]
) -> None:
    (user_dirs[0] / "config.yaml").write_text(
        "executor: {kind: dask, tls: {ca_file: ca.pem, cert_file: me.pem, key_file: me.key}}\n", encoding="utf-8"
    )
    root = project(tmp_path, "executor: {address: 'tls://10.0.0.5:8786', project_dir: /srv/flows}\n")
    executor = load(root, user_dirs).executor
    assert (executor.kind, executor.address, executor.project_dir) == (
        ExecutorKind.DASK,
        "tls://10.0.0.5:8786",
        "/srv/flows",
    )
    assert (executor.tls_ca, executor.tls_key) == (user_dirs[0] / "ca.pem", user_dirs[0] / "me.key")
    assert executor.tls
    assert load(project(tmp_path / "bare", ""), user_dirs).executor.kind is ExecutorKind.DASK  # the user's
    assert Config(tmp_path, ()).executor == ExecutorSettings()


def test_a_loaded_config_pickles_copies_and_replaces_as_a_dataclass_would(
    tmp_path: Path, user_dirs: tuple[Path, Path]
) -> None:
    # Both constructors take their later fields by keyword only: a copy must pass them by name.
    (user_dirs[0] / "config.yaml").write_text(
        "executor: {kind: dask, tls: {ca_file: ca.pem, cert_file: me.pem, key_file: me.key}}\npool: {enabled: true}\n",
        encoding="utf-8",
    )
    config = load(project(tmp_path, "executor: {project_dir: /srv/flows}\n"), user_dirs)

    assert pickle.loads(pickle.dumps(config)) == config  # noqa: S301 - our own bytes, just made
    assert copy.copy(config) == config
    assert copy.deepcopy(config.executor) == config.executor
    assert config.replace(pool_enabled=False).executor is config.executor


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("executor: {kind: spark}", "executor.kind"),
        ("executor: {address: '10.0.0.5:8786'}", "executor.address"),
        ("executor: {address: 'inproc://127.0.0.1/1/1'}", "executor.address"),  # no scheme the executor takes
        ("executor: {address: 'ws://127.0.0.1:8786'}", "executor.address"),
    ],
)
def test_a_bad_executor_section_is_refused_with_its_field(
    tmp_path: Path, user_dirs: tuple[Path, Path], section: str, field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(project(tmp_path, section + "\n"), user_dirs)
    assert caught.value.location is not None and caught.value.location.field == field


def test_empty_config_is_fine(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "# nothing yet\n")
    assert load(root, user_dirs).project_config == root / ".workflow" / "config.yaml"


def test_typo_in_config_is_located_with_a_suggestion(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "plugins:\n  path: [x]\n")
    with pytest.raises(ConfigError) as caught:
        load(root, user_dirs)
    error = caught.value
    assert error.location is not None
    assert (error.location.file, error.location.line, error.location.column, error.location.field) == (
        root / ".workflow" / "config.yaml",
        2,
        3,
        "plugins.path",
    )
    assert (error.message, error.hint) == ("unknown key 'path'", "did you mean 'paths'?")


def test_bad_backend_in_user_config(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    (user_dirs[0] / "config.yaml").write_text("restricted:\n  backend: sandbx\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, user_dirs)
    assert caught.value.message == 'expected one of auto, sandbox, docker; got string "sandbx"'
    assert caught.value.hint == "did you mean 'sandbox'?"


@pytest.mark.parametrize(
    ("text", "backend"), [("auto", None), ("sandbox", RuntimeKind.SANDBOX), ("docker", RuntimeKind.DOCKER)]
)
def test_the_backend_setting_is_a_restricted_runtime_or_auto(text: str, backend: RuntimeKind | None) -> None:
    assert restricted_backend(text) is backend


@pytest.mark.parametrize("text", ["process", "engine", "Docker", ""])
def test_a_place_that_does_not_isolate_is_no_backend(text: str) -> None:
    """A RuntimeKind is not enough: a restricted workflow never runs as a bare process."""
    with pytest.raises(ValueError) as caught:
        restricted_backend(text)
    assert str(caught.value) == f"{text!r} is not one of auto, sandbox, docker"


def test_wrong_type_and_broken_yaml(tmp_path: Path, user_dirs: tuple[Path, Path]) -> None:
    root = project(tmp_path, "plugins:\n  paths: vendor\n")
    with pytest.raises(ConfigError, match='expected list, got string "vendor"'):
        load(root, user_dirs)
    (root / ".workflow" / "config.yaml").write_text("plugins: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load(root, user_dirs)


def test_platform_dirs_are_used_when_not_injected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    (tmp_path / "xdg-config" / "workflow").mkdir(parents=True)
    (tmp_path / "xdg-config" / "workflow" / "config.yaml").write_text("plugins: {paths: [mine]}\n", encoding="utf-8")
    config = load_config(start=tmp_path, env={})
    assert config.user_config == tmp_path / "xdg-config" / "workflow" / "config.yaml"
    assert config.plugins_paths[0].path == tmp_path / "xdg-config" / "workflow" / "mine"
    assert config.plugins_paths[-1].path == tmp_path / "xdg-data" / "workflow" / "plugins"


def test_a_folder_holding_only_run_records_is_not_a_project(tmp_path: Path) -> None:
    root = project(tmp_path, "plugins:\n  paths: [plugins]\n")
    workflows = root / "workflows"
    (workflows / ".workflow" / "runs").mkdir(parents=True)
    assert find_project_root(workflows) == root
    (workflows / ".workflow" / "plugins").mkdir()
    assert find_project_root(workflows) == workflows
