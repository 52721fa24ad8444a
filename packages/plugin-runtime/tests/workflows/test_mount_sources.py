"""Mount sources resolved and re-checked: on real files and links, and when real containers are made."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind, PermissionDeniedError
from workflow_plugin_runtime.runtimes.base import Invocation, Mount, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime
from workflow_plugin_runtime.runtimes.pool import WarmPool
from workflow_plugin_runtime.workflows.mount_sources import (
    ISOLATED_UID,
    bind_sources,
    nested_in,
    resolve_source,
    unwritable_mounts_hint,
    unwritable_reason,
)
from workflow_plugin_sdk.protocol import make_request

RUNTIME_PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "runtime_plugins"


class TestResolveSource:
    def test_every_link_is_followed(self, tmp_path: Path) -> None:
        (tmp_path / "real").mkdir()
        (tmp_path / "hop").symlink_to("real")
        (tmp_path / "link").symlink_to(tmp_path / "hop")
        assert resolve_source(tmp_path / "link", shown="./link") == tmp_path / "real"

    def test_nothing_there_is_none(self, tmp_path: Path) -> None:
        (tmp_path / "dangling").symlink_to("nowhere")
        assert resolve_source(tmp_path / "missing", shown="./missing") is None
        assert resolve_source(tmp_path / "dangling", shown="./dangling") is None

    def test_a_loop_is_one_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / "a").symlink_to("b")
        (tmp_path / "b").symlink_to("a")
        with pytest.raises(PermissionDeniedError) as caught:
            resolve_source(tmp_path / "a", shown="./a")
        assert caught.value.message == "mount source ./a is a symbolic link loop"
        assert caught.value.hint == "point the link at a real folder, or grant the folder itself"

    def test_a_nul_byte_is_one_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(PermissionDeniedError, match=r"^mount source \./x is not a valid path"):
            resolve_source(tmp_path / "x\0y", shown="./x")


def test_nested_in_means_strictly_inside() -> None:
    out = Path("/p/out")
    assert nested_in([Path("/p/out/sub")], [out]) == out
    assert nested_in([Path("/p/out")], [out]) is None
    assert nested_in([Path("/p/outer")], [out]) is None
    assert nested_in([Path("/elsewhere"), Path("/p/out/x")], [Path("/q"), out]) == out


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """``out`` (a grant's read-write source), ``shared`` and ``link`` (``link`` -> ``out/hop`` -> ``shared``)."""
    out, shared = tmp_path / "out", tmp_path / "shared"
    out.mkdir()
    shared.mkdir()
    (out / "hop").symlink_to(shared)
    (tmp_path / "link").symlink_to(out / "hop")
    return {"out": out, "shared": shared, "link": tmp_path / "link"}


class TestBindSources:
    def test_the_resolved_path_is_what_gets_bound(self, folders: dict[str, Path]) -> None:
        granted = Mount(folders["link"], "/data", pinned=folders["shared"], writable_roots=(folders["out"],))
        (bound,) = bind_sources([granted])
        assert bound.source == folders["shared"]
        assert (bound.target, bound.read_only) == ("/data", True)

    def test_a_source_that_now_leads_elsewhere_is_refused(self, folders: dict[str, Path]) -> None:
        granted = Mount(folders["link"], "/data", pinned=folders["shared"])
        (folders["out"] / "hop").unlink()
        (folders["out"] / "hop").symlink_to("/")
        with pytest.raises(PermissionDeniedError) as caught:
            bind_sources([granted])
        assert caught.value.message == (
            f"mount source {folders['link']} (mounted at /data) now leads to /, not to {folders['shared']}"
            " as when the workflow was checked"
        )

    def test_a_source_inside_a_writable_root_is_refused_lexically_and_resolved(self, folders: dict[str, Path]) -> None:
        (folders["out"] / "sub").mkdir()
        (folders["shared"].parent / "into-out").symlink_to(folders["out"] / "sub")
        for source in (folders["out"] / "sub", folders["shared"].parent / "into-out"):
            with pytest.raises(PermissionDeniedError, match="which a read-write grant lets plugins change"):
                bind_sources([Mount(source, "/data", writable_roots=(folders["out"],))])

    def test_a_source_that_does_not_exist_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(PermissionDeniedError) as caught:
            bind_sources([Mount(tmp_path / "gone", "/data")])
        assert caught.value.message == f"mount source {tmp_path / 'gone'} (mounted at /data) does not exist"

    @pytest.mark.parametrize("source", ["/run", "/"])
    def test_the_docker_socket_is_refused_even_when_pinned(self, source: str) -> None:
        with pytest.raises(PermissionDeniedError, match="exposes the Docker socket"):
            bind_sources([Mount(Path(source), "/data", pinned=Path(source))])

    def test_a_sensitive_folder_is_refused_only_when_it_was_never_checked(self) -> None:
        with pytest.raises(PermissionDeniedError, match=r"exposes the host's configuration \(/etc\), and was not"):
            bind_sources([Mount(Path("/etc"), "/data")])
        (bound,) = bind_sources([Mount(Path("/etc"), "/data", pinned=Path("/etc"))])  # granted and warned about
        assert bound.source == Path("/etc")


class TestWritableByTheIsolatedUser:
    def test_mode_bits_decide(self, tmp_path: Path) -> None:
        folder = tmp_path / "out"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        assert unwritable_reason(folder) == (
            f"it is owned by uid {os.getuid()}, gid {os.getgid()} with mode drwxr-xr-x, which gives other users no"
            " write access"
        )
        folder.chmod(0o777)
        assert unwritable_reason(folder) is None

    @pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to uid 65534 needs root")
    def test_a_folder_owned_by_the_isolated_user_is_writable(self, tmp_path: Path) -> None:
        folder = tmp_path / "out"
        folder.mkdir(mode=0o700)
        os.chown(folder, ISOLATED_UID, ISOLATED_UID)
        assert unwritable_reason(folder) is None

    def test_the_hint_names_the_target_the_folder_and_the_fix(self, tmp_path: Path) -> None:
        folder = tmp_path / "out"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        hint = unwritable_mounts_hint([Mount(tmp_path, "/in"), Mount(folder, "/out", read_only=False)])
        assert hint is not None
        assert hint.startswith(f"/out is mounted read-write from {folder}, but plugins run as uid 65534 and it is")
        assert f"chown 65534:65534 {folder}" in hint
        assert unwritable_mounts_hint([Mount(folder, "/out")]) is None  # read-only: nothing to write


# --- At creation, with real containers ------------------------------------------------------------


@pytest.fixture
def swapped(folders: dict[str, Path]) -> Mount:
    """A mount checked while ``link`` led to ``shared``, whose path a plugin has since pointed at ``/``."""
    mount = Mount(folders["link"], "/data", pinned=folders["shared"])
    (folders["out"] / "hop").unlink()
    (folders["out"] / "hop").symlink_to("/")
    return mount


@pytest.fixture
def in_container(test_image: str) -> Callable[..., Invocation]:
    def make(**fields: Any) -> Invocation:
        return Invocation(
            kind=RuntimeKind.DOCKER,
            plugin_ref=f"test/mounts-{uuid.uuid4().hex[:12]}",
            request=make_request("hello", {}),
            plugin_dir=RUNTIME_PLUGINS / "probe",
            image=test_image,
            **fields,
        )

    return make


@pytest.mark.docker
def test_a_one_shot_container_with_a_swapped_source_is_never_made(
    swapped: Mount, in_container: Callable[..., Invocation], containers_of: Callable[[str], list[Any]]
) -> None:
    invocation = in_container(mounts=(swapped,))
    runtime = DockerRuntime()
    try:
        result = runtime.invoke(invocation)
    finally:
        runtime.close()
    assert result.failure is not None and result.failure.kind is FailureKind.PERMISSION
    assert "now leads to /, not to" in result.failure.message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_a_warm_container_with_a_swapped_source_is_never_made(
    swapped: Mount, in_container: Callable[..., Invocation], containers_of: Callable[[str], list[Any]]
) -> None:
    invocation = in_container(mounts=(swapped,))
    with WarmPool(docker=DockerRuntime()) as pool:
        result = pool.invoke(invocation)
    assert result.failure is not None and result.failure.kind is FailureKind.PERMISSION
    assert "now leads to /, not to" in result.failure.message
    assert containers_of(invocation.plugin_ref) == []
