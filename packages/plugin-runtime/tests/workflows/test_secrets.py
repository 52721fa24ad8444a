from __future__ import annotations

from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import SecretError, Severity, SourceLocation
from workflow_plugin_runtime.workflows.secrets import (
    ChainSecretProvider,
    DotenvSecretProvider,
    EnvSecretProvider,
    SecretProvider,
    collect_secrets,
    default_secret_provider,
    load_vars_file,
    merge_vars,
    parse_var_options,
    secret_problems,
    var_problems,
)
from workflow_plugin_runtime.workflows.template_values import compile_value


def secrets_file(tmp_path: Path, text: str, *, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


class TestEnvProvider:
    def test_reads_prefixed_variables_of_the_process(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WORKFLOW_SECRET_API_TOKEN", "from-env")
        monkeypatch.setenv("API_TOKEN", "not-this-one")
        provider = EnvSecretProvider()
        assert provider.get("API_TOKEN") == "from-env"
        assert provider.get("OTHER") is None
        assert "API_TOKEN" in list(provider.keys())
        assert isinstance(provider, SecretProvider)

    def test_given_environment_and_bare_prefix(self) -> None:
        provider = EnvSecretProvider({"WORKFLOW_SECRET_": "x", "WORKFLOW_SECRET_B": "b", "HOME": "/root"})
        assert provider.keys() == ["B"]
        assert provider.description == "environment variables WORKFLOW_SECRET_<KEY>"


class TestDotenvProvider:
    def test_quotes_comments_export_and_multiline(self, tmp_path: Path) -> None:
        path = secrets_file(
            tmp_path,
            "# deploy secrets\n"
            "export API_TOKEN=abc123\n"
            "PASSWORD='pa ss $HOME #not-a-comment'\n"
            'KEY="-----BEGIN-----\nline two\n-----END-----"\n'
            "PLAIN=value # a comment\n"
            "EMPTY=\n",
        )
        provider = DotenvSecretProvider(path)
        assert provider.get("API_TOKEN") == "abc123"
        assert provider.get("PASSWORD") == "pa ss $HOME #not-a-comment"
        assert provider.get("KEY") == "-----BEGIN-----\nline two\n-----END-----"
        assert provider.get("PLAIN") == "value"
        assert provider.get("EMPTY") == ""
        assert provider.keys() == ["API_TOKEN", "EMPTY", "KEY", "PASSWORD", "PLAIN"]
        assert provider.warnings == ()

    def test_no_variable_expansion(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SHOULD_NOT_APPEAR", "expanded")
        provider = DotenvSecretProvider(secrets_file(tmp_path, 'A="x${SHOULD_NOT_APPEAR}y"\nB=$SHOULD_NOT_APPEAR\n'))
        assert provider.get("A") == "x${SHOULD_NOT_APPEAR}y"
        assert provider.get("B") == "$SHOULD_NOT_APPEAR"

    def test_missing_file_names_the_path(self, tmp_path: Path) -> None:
        with pytest.raises(SecretError) as caught:
            DotenvSecretProvider(tmp_path / "nope.env")
        assert caught.value.message == "secrets file not found"
        assert caught.value.location == SourceLocation(tmp_path / "nope.env")
        assert str(caught.value).startswith(f"{tmp_path / 'nope.env'}: secrets file not found")

    def test_a_directory(self, tmp_path: Path) -> None:
        with pytest.raises(SecretError, match="is a directory, not a secrets file"):
            DotenvSecretProvider(tmp_path)

    def test_a_device_is_refused_before_it_is_read(self) -> None:
        """A device may never end (/dev/zero: the CLI test covers it under a memory cap); none is read."""
        with pytest.raises(SecretError) as caught:
            DotenvSecretProvider("/dev/null")
        assert caught.value.message == "is not a regular file"
        assert caught.value.location == SourceLocation(Path("/dev/null"))
        assert "device, FIFO or socket" in (caught.value.hint or "")

    def test_a_file_over_the_size_cap_is_refused(self, tmp_path: Path) -> None:
        path = secrets_file(tmp_path, "A=" + "x" * (1024 * 1024) + "\n")
        with pytest.raises(SecretError, match=r"the secrets file is too large \(\d+ bytes; the limit is 1048576\)"):
            DotenvSecretProvider(path)

    def test_unreadable_path(self, tmp_path: Path) -> None:
        path = secrets_file(tmp_path, "A=b\n") / "below-a-file.env"
        with pytest.raises(SecretError) as caught:
            DotenvSecretProvider(path)
        assert caught.value.message == "cannot read the secrets file: Not a directory"
        assert caught.value.location == SourceLocation(path)

    def test_unreadable_file_through_a_dangling_symlink(self, tmp_path: Path) -> None:
        link = tmp_path / "link.env"
        link.symlink_to(tmp_path / "gone.env")
        with pytest.raises(SecretError, match="secrets file not found"):
            DotenvSecretProvider(link)

    def test_bad_line_is_an_error_with_its_line_and_without_its_text(self, tmp_path: Path) -> None:
        path = secrets_file(tmp_path, "A=1\n# fine\nTOKEN hunter2\nB=2\n")
        with pytest.raises(SecretError) as caught:
            DotenvSecretProvider(path)
        error = caught.value
        assert error.message == "cannot parse line 3 of the secrets file"
        assert error.location == SourceLocation(path, 3)
        assert "hunter2" not in str(error)

    def test_key_without_value(self, tmp_path: Path) -> None:
        path = secrets_file(tmp_path, "A=1\nLONELY\n")
        with pytest.raises(SecretError) as caught:
            DotenvSecretProvider(path)
        assert caught.value.message == "LONELY has no value (no '=')"
        assert caught.value.location == SourceLocation(path, 2)

    def test_invalid_secret_name(self, tmp_path: Path) -> None:
        with pytest.raises(SecretError, match=r"'my\.key' is not a valid secret name"):
            DotenvSecretProvider(secrets_file(tmp_path, "my.key=1\n"))

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "bin.env"
        path.write_bytes(b"A=1\nB=\xff\xfe\n")
        with pytest.raises(SecretError, match=r"not valid UTF-8 \(line 2\)"):
            DotenvSecretProvider(path)

    def test_world_readable_file_warns(self, tmp_path: Path) -> None:
        provider = DotenvSecretProvider(secrets_file(tmp_path, "A=1234\n", mode=0o644))
        assert [(w.severity, w.message, w.hint) for w in provider.warnings] == [
            (
                Severity.WARNING,
                "the secrets file can be read by other users (mode 644)",
                f"chmod 600 {tmp_path / 'secrets.env'}",
            )
        ]


class TestChain:
    def test_file_overrides_environment(self, tmp_path: Path) -> None:
        path = secrets_file(tmp_path, "TOKEN=from-file\n")
        provider = default_secret_provider(
            secrets_file=path, environ={"WORKFLOW_SECRET_TOKEN": "from-env", "WORKFLOW_SECRET_ONLY_ENV": "e"}
        )
        assert provider.get("TOKEN") == "from-file"
        assert provider.get("ONLY_ENV") == "e"
        assert provider.get("NONE") is None
        assert provider.keys() == ["ONLY_ENV", "TOKEN"]
        assert provider.description == f"secrets file {path}, then environment variables WORKFLOW_SECRET_<KEY>"

    def test_without_a_file(self) -> None:
        provider = default_secret_provider(environ={})
        assert provider.get("X") is None
        assert ChainSecretProvider([]).description == "no secret providers"


USES = compile_value(
    {
        "a": {"token": "{{ secrets.API_TOKEN }}", "url": "{{ vars.base_url }}/x"},
        "b": {"token": "Bearer {{ secrets.API_TOKEN }}", "other": "{{ secrets.DB_PASS }}", "n": "{{ vars.count }}"},
    },
    path=("tasks",),
    locate=lambda path: SourceLocation(Path("wf.yaml"), len(path) * 10, 5, ".".join(map(str, path))),
).uses


class TestChecks:
    def test_unknown_secret_names_key_every_use_and_where_to_set_it(self) -> None:
        provider = EnvSecretProvider({"WORKFLOW_SECRET_API_TOKN": "x1234"})
        problems = secret_problems(USES, provider)
        assert [p.message for p in problems] == [
            "unknown secret 'API_TOKEN' (used in tasks.a.token, tasks.b.token)",
            "unknown secret 'DB_PASS' (used in tasks.b.other)",
        ]
        assert problems[0].location == SourceLocation(Path("wf.yaml"), 30, 5, "tasks.a.token")
        assert problems[0].hint == (
            "did you mean API_TOKN? set WORKFLOW_SECRET_API_TOKEN or add API_TOKEN=... to the --secrets-file;"
            " looked in environment variables WORKFLOW_SECRET_<KEY>"
        )
        assert str(problems[1].hint).startswith("set WORKFLOW_SECRET_DB_PASS")

    def test_collect_secrets(self) -> None:
        env = {"WORKFLOW_SECRET_API_TOKEN": "t0ken", "WORKFLOW_SECRET_DB_PASS": "pa55", "WORKFLOW_SECRET_X": "unused"}
        assert collect_secrets(USES, EnvSecretProvider(env)) == {"API_TOKEN": "t0ken", "DB_PASS": "pa55"}
        with pytest.raises(SecretError, match=r"unknown secret 'DB_PASS' \(used in tasks.b.other\)") as caught:
            collect_secrets(USES, EnvSecretProvider({"WORKFLOW_SECRET_API_TOKEN": "t0ken"}))
        assert str(caught.value).startswith("wf.yaml:30:5: tasks.b.other:")

    def test_unknown_var_suggests_the_nearest(self) -> None:
        problems = var_problems(USES, {"base_uri": "x"})
        assert [p.message for p in problems] == [
            "unknown var 'base_url' (used in tasks.a.url)",
            "unknown var 'count' (used in tasks.b.n)",
        ]
        assert (
            problems[0].hint
            == "did you mean base_uri? define it under vars:, in a vars file or with --var base_url=VALUE"
        )
        assert var_problems(USES, {"base_url": 1, "count": None}) == []


class TestVars:
    def test_var_options(self) -> None:
        assert parse_var_options(["a=1", "url=http://x/?q=1", "a=2", "empty="]) == {
            "a": "2",
            "url": "http://x/?q=1",
            "empty": "",
        }

    def test_var_without_equals(self) -> None:
        with pytest.raises(SecretError) as caught:
            parse_var_options(["region"])
        assert caught.value.message == "--var 'region' has no '='"
        assert caught.value.hint == "write --var region=VALUE"

    @pytest.mark.parametrize("option", ["=x", "1a=x", "a b=x"])
    def test_bad_var_name(self, option: str) -> None:
        with pytest.raises(SecretError, match="is not a valid var name"):
            parse_var_options([option])

    def test_vars_file_keeps_yaml_types(self, tmp_path: Path) -> None:
        path = tmp_path / "vars.yaml"
        path.write_text("count: 3\nregion: eu\nlist: [1, 2]\n", encoding="utf-8")
        assert load_vars_file(path) == {"count": 3, "region": "eu", "list": [1, 2]}
        empty = tmp_path / "empty.yaml"
        empty.write_text("", encoding="utf-8")
        assert load_vars_file(empty) == {}

    def test_vars_file_errors_are_located(self, tmp_path: Path) -> None:
        path = tmp_path / "vars.yaml"
        path.write_text("ok: 1\nbad name: 2\n", encoding="utf-8")
        with pytest.raises(SecretError) as caught:
            load_vars_file(path)
        assert caught.value.message == "'bad name' is not a valid var name"
        assert caught.value.location == SourceLocation(path, 2, 1, '["bad name"]')
        with pytest.raises(SecretError, match="file not found"):
            load_vars_file(tmp_path / "missing.yaml")
        path.write_text("- a list\n", encoding="utf-8")
        with pytest.raises(SecretError, match="expected a mapping"):
            load_vars_file(path)

    def test_merge_order(self) -> None:
        assert merge_vars({"a": 1, "b": 1, "c": 1}, None, {"b": 2, "c": 2}, {"c": "3"}) == {"a": 1, "b": 2, "c": "3"}
