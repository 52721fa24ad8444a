from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from workflow_plugin_runtime.errors import Severity, SourceLocation
from workflow_plugin_runtime.plugins.manifest import Access, Capabilities, FilesystemNeed
from workflow_plugin_runtime.plugins.manifest_loading import load_manifest
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.checks import check_workflow_file
from workflow_plugin_runtime.workflows.grant_warnings import broad_grant_problems, capability_warnings
from workflow_plugin_runtime.workflows.permissions import (
    MountGrant,
    Permissions,
    SecurityMode,
    missing_grants,
    parse_permissions,
    parse_size,
    permissions_yaml,
    recommended_permissions,
)

PLUGINS = Path(__file__).parents[1] / "fixtures" / "workflows" / "plugins"


def locate(path: tuple[str | int, ...]) -> SourceLocation:
    return SourceLocation(Path("wf.yaml"), field=".".join(map(str, path)))


def check_mounts(tmp_path: Path, mounts: str, *, security: str = "restricted") -> list[tuple[str, str]]:
    """(severity, message) of every permission problem of a workflow with these mounts and no tasks needing them."""
    lines = "".join(f"    {line}\n" for line in textwrap.dedent(mounts).strip().splitlines())
    text = f"name: x\nsecurity: {security}\npermissions:\n  mounts:\n{lines}tasks:\n  t: {{uses: acme/plain.go}}\n"
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    check = check_workflow_file(path, resolver=Resolver([PLUGINS], entry_points=False))
    return [(p.severity.value, p.message) for p in check.problems if "is not needed by any plugin" not in p.message]


class TestBroadGrants:
    def test_root_of_the_host(self, tmp_path: Path) -> None:
        assert ("warning", "mount / exposes the whole host filesystem") in check_mounts(
            tmp_path, "- {source: /, target: /host}"
        )

    @pytest.mark.parametrize("source", ["~", "~/", "/root", "/home", "/home/someone"])
    def test_home_directories(self, tmp_path: Path, source: str) -> None:
        assert check_mounts(tmp_path, f"- {{source: '{source}', target: /h}}") == [
            ("warning", f"mount {source} exposes a home directory (SSH keys, cloud credentials, shell history)")
        ]

    @pytest.mark.parametrize(
        ("source", "reason"),
        [
            ("/etc", "exposes the host's configuration (/etc)"),
            ("/proc", "exposes kernel interfaces (/proc, /sys)"),
            ("/sys/fs/cgroup", "exposes kernel interfaces (/proc, /sys)"),
        ],
    )
    def test_system_folders(self, tmp_path: Path, source: str, reason: str) -> None:
        assert check_mounts(tmp_path, f"- {{source: {source}, target: /s}}") == [
            ("warning", f"mount {source} {reason}")
        ]

    def test_etc_subfolder_is_fine(self, tmp_path: Path) -> None:
        assert check_mounts(tmp_path, "- {source: /etc/ssl/certs, target: /certs}") == []

    @pytest.mark.parametrize("source", ["/var/run/docker.sock", "/run/docker.sock", "/run"])
    def test_docker_socket_is_refused_in_restricted_mode(self, tmp_path: Path, source: str) -> None:
        assert check_mounts(tmp_path, f"- {{source: {source}, target: /d}}") == [
            ("error", f"mount {source} exposes the Docker socket, which gives root on the host")
        ]

    def test_docker_socket_warns_in_trusted_mode(self, tmp_path: Path) -> None:
        found = check_mounts(tmp_path, "- {source: /var/run/docker.sock, target: /d}", security="trusted")
        assert (
            "warning",
            "mount /var/run/docker.sock exposes the Docker socket, which gives root on the host",
        ) in found

    @pytest.mark.parametrize("source", [".", "./", "..", "../.."])
    def test_read_write_mount_of_the_workflow_folder(self, tmp_path: Path, source: str) -> None:
        (tmp_path / "deep").mkdir()
        found = check_mounts(tmp_path, f"- {{source: '{source}', target: /w, access: read-write}}")
        assert (
            "warning",
            f"mount {source} is read-write and holds this workflow's own folder: plugins could rewrite the workflow"
            " file and its lock",
        ) in found

    def test_read_only_workflow_folder_and_a_read_write_subfolder_are_fine(self, tmp_path: Path) -> None:
        assert (
            check_mounts(tmp_path, "- {source: ., target: /w}\n- {source: ./out, target: /o, access: read-write}") == []
        )

    def test_network_everywhere_and_env_wildcard(self) -> None:
        permissions = Permissions(network_all=True, env=("HTTP_*", "*"), declared=True)
        problems = broad_grant_problems(
            permissions,
            security=SecurityMode.RESTRICTED,
            workflow_dir=Path("/nowhere"),
            locate=locate,
            network_needed=["acme/http", "acme/dns", "acme/http"],
        )
        assert [(p.severity, p.message, p.hint) for p in problems] == [
            (
                Severity.WARNING,
                "network: true grants network access to every plugin",
                "list the plugins that need it: network: [acme/dns, acme/http]",
            ),
            (
                Severity.WARNING,
                "env: '*' passes every configured variable to every plugin",
                "list the variable names plugins need",
            ),
        ]
        assert problems[1].location == locate(("permissions", "env", 1))


class TestGrants:
    def test_env_grants_match_names_and_prefixes(self) -> None:
        permissions = Permissions(env=("LANG", "AWS_*"))
        assert permissions.allows_env("LANG")
        assert permissions.allows_env("AWS_REGION")
        assert not permissions.allows_env("LANGUAGE")
        assert not permissions.allows_env("HOME")
        assert Permissions(env=("*",)).allows_env("ANYTHING")

    def test_most_specific_mount_wins(self) -> None:
        wide = MountGrant(Path("/w"), "/data", Access.READ, "./w")
        narrow = MountGrant(Path("/n"), "/data/in", Access.READ_WRITE, "./n")
        permissions = Permissions(mounts=(wide, narrow))
        assert permissions.mount_for(FilesystemNeed("/data/in/x")) is narrow
        assert permissions.mount_for(FilesystemNeed("/data/other")) is wide
        assert permissions.mount_for(FilesystemNeed("/database")) is None

    def test_missing_grants(self) -> None:
        needs = Capabilities(
            network=True,
            filesystem=(FilesystemNeed("/out", Access.READ_WRITE), FilesystemNeed("/in"), FilesystemNeed("/gone")),
            env=("LANG", "TZ"),
        )
        permissions = Permissions(
            mounts=(
                MountGrant(Path("/o"), "/out", Access.READ, "./o"),
                MountGrant(Path("/i"), "/in", Access.READ, "./i"),
            ),
            env=("TZ",),
        )
        missing = missing_grants(permissions, plugin_ref="acme/x", capabilities=needs)
        assert not missing.ok
        assert missing.network
        assert missing.mounts == (FilesystemNeed("/gone"),)
        assert [need.path for need, _ in missing.read_only] == ["/out"]
        assert missing.env == ("LANG",)
        assert missing_grants(
            Permissions(network_all=True), plugin_ref="acme/x", capabilities=Capabilities(network=True)
        ).ok

    def test_parse_size(self) -> None:
        assert [parse_size(t) for t in ("512", "1k", "1.5m", "2G", "64mb", 4096)] == [
            512,
            1024,
            1572864,
            2 * 1024**3,
            64 * 1024**2,
            4096,
        ]
        with pytest.raises(ValueError, match="greater than zero"):
            parse_size("0m")


class TestRecommendations:
    def test_recommended_block_for_a_plugin_is_valid_workflow_yaml(self) -> None:
        manifest = load_manifest(PLUGINS / "acme-http")
        block = recommended_permissions(manifest.ref, manifest.capabilities)
        assert block == {"network": ["acme/http"], "env": ["HTTP_PROXY"]}
        text = permissions_yaml(block)
        assert text == "permissions:\n  network: [acme/http]\n  env: [HTTP_PROXY]"
        assert yaml.safe_load(text) == {"permissions": block}

    def test_mounts_in_the_recommendation(self) -> None:
        manifest = load_manifest(PLUGINS / "acme-text")
        block = recommended_permissions(manifest.ref, manifest.capabilities)
        assert block == {"mounts": [{"source": "./out", "target": "/out", "access": "read-write"}]}
        assert permissions_yaml(block, indent=2) == (
            "  permissions:\n    mounts:\n    - {source: ./out, target: /out, access: read-write}"
        )

    def test_a_plugin_needing_nothing(self) -> None:
        assert recommended_permissions("a/b", Capabilities()) == {}

    def test_capability_warnings_for_inspect(self) -> None:
        caps = Capabilities(
            filesystem=(
                FilesystemNeed("/var/run/docker.sock", Access.READ_WRITE),
                FilesystemNeed("/", Access.READ),
                FilesystemNeed("/etc"),
                FilesystemNeed("/data"),
            ),
        )
        assert [p.message for p in capability_warnings("acme/x", caps)] == [
            "acme/x asks for /var/run/docker.sock, the Docker socket: root on the host; restricted mode refuses it",
            "acme/x asks for / (read), which exposes the whole host filesystem",
            "acme/x asks for /etc (read), which exposes the host's configuration (/etc)",
        ]


class TestMountSources:
    """Sources are resolved when the workflow loads; one a plugin could rewrite is refused."""

    def test_a_source_inside_a_read_write_grant_is_an_error_when_restricted(self, tmp_path: Path) -> None:
        (tmp_path / "out" / "sub").mkdir(parents=True)
        mounts = "- {source: ./out, target: /out, access: read-write}\n- {source: ./out/sub, target: /data}"
        message = (
            "mount ./out/sub lies inside the read-write mount ./out (mounts[0]): a plugin that writes /out could"
            " replace it with a symbolic link to any host folder, which the next container would show at /data"
        )
        assert ("error", message) in check_mounts(tmp_path, mounts)
        assert ("warning", message) in check_mounts(tmp_path, mounts, security="trusted")

    def test_a_source_that_leads_inside_a_read_write_grant_is_an_error_too(self, tmp_path: Path) -> None:
        (tmp_path / "out" / "sub").mkdir(parents=True)
        (tmp_path / "data").symlink_to("out/sub")
        found = check_mounts(
            tmp_path, "- {source: ./out, target: /out, access: read-write}\n- {source: ./data, target: /d}"
        )
        assert [severity for severity, message in found if "lies inside the read-write mount ./out" in message] == [
            "error"
        ]

    def test_side_by_side_and_read_only_nesting_are_fine(self, tmp_path: Path) -> None:
        for folder in ("out", "in/deeper"):
            (tmp_path / folder).mkdir(parents=True)
            (tmp_path / folder).chmod(0o777)
        mounts = (
            "- {source: ./out, target: /out, access: read-write}\n- {source: ./in, target: /in}\n"
            "- {source: ./in/deeper, target: /deeper}\n- {source: ./out, target: /again}"
        )
        assert check_mounts(tmp_path, mounts) == []

    def test_a_loop_is_one_error_at_its_source(self, tmp_path: Path) -> None:
        (tmp_path / "loop").symlink_to("loop")
        assert check_mounts(tmp_path, "- {source: ./loop, target: /d}") == [
            ("error", "mount source ./loop is a symbolic link loop")
        ]

    def test_a_read_write_folder_the_isolated_user_cannot_write_is_warned_about(self, tmp_path: Path) -> None:
        (tmp_path / "out").mkdir(mode=0o755)
        (tmp_path / "out").chmod(0o755)
        found = check_mounts(tmp_path, "- {source: ./out, target: /o, access: read-write}")
        assert [severity for severity, _ in found] == ["warning"]
        assert found[0][1].startswith(
            f"mount ./out is read-write, but plugins run as uid 65534 and cannot write {tmp_path / 'out'}:"
        )

    def test_the_resolution_is_kept_with_the_grant(self, tmp_path: Path) -> None:
        (tmp_path / "real").mkdir()
        (tmp_path / "link").symlink_to("real")
        problems: list[object] = []
        permissions = parse_permissions(
            {"mounts": [{"source": "./link", "target": "/d"}, {"source": "./gone", "target": "/g"}]},
            base_dir=tmp_path,
            locate=locate,
            report=problems.append,
        )
        assert problems == []
        assert [(m.source, m.resolved) for m in permissions.mounts] == [
            (tmp_path / "link", tmp_path / "real"),
            (tmp_path / "gone", None),  # refused when a container is made, unless it exists by then
        ]
