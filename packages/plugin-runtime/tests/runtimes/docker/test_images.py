"""Plugin images: the generated Dockerfile, its build context, dependencies without pip, real builds."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import workflow_plugin_sdk
from workflow_plugin_runtime.errors import ImageBuildError, RuntimeUnavailableError
from workflow_plugin_runtime.plugins.manifest_loading import load_manifest
from workflow_plugin_runtime.plugins.provenance import plugin_content_hash
from workflow_plugin_runtime.runtimes.docker.build_context import install_requirements, unpack_wheel
from workflow_plugin_runtime.runtimes.docker.client import connect_docker
from workflow_plugin_runtime.runtimes.docker.image import BUILT_FROM_LABEL
from workflow_plugin_runtime.runtimes.docker.images import (
    DEFAULT_BASE_IMAGE,
    DEPS_PATH,
    PLUGIN_WORKDIR,
    build_image,
    check_image_tag,
    generate_dockerfile,
    image_command,
    image_spec,
    is_python_plugin,
    prepare_context,
)
from workflow_plugin_runtime.runtimes.docker.runtime import CONTAINER_USER, PLUGIN_LABEL
from workflow_plugin_runtime.runtimes.host_argv import PYTHON_FLAGS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "plugins"
HTTP = FIXTURES / "acme-http"
TEXT = FIXTURES / "acme-text"

TINY_MAIN = """\
from workflow_plugin_sdk import PluginContext, define_action, run
import tinylib


@define_action("value")
def value(ctx: PluginContext, inputs: dict) -> dict:
    return {"value": tinylib.VALUE, "doubled": tinylib.double(inputs["n"])}


if __name__ == "__main__":
    run()
"""


def write_plugin(folder: Path, manifest: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.yaml").write_text(manifest)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str], *, tag: str = "py3-none-any") -> Path:
    """A real (if minimal) wheel file, built by hand so the tests need no package index."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    path = folder / f"{name}-{version}-{tag}.whl"
    pure = "true" if tag.endswith("none-any") else "false"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(
            f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {pure}\nTag: {tag}\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


def tiny_plugin(folder: Path) -> Path:
    """A plugin whose requirements.txt names a local pure wheel (and the SDK, which must be skipped)."""
    plugin = write_plugin(
        folder,
        "namespace: acme\nname: tiny\nversion: 1.0.0\nruntime: {entrypoint: main.py}\nactions: {value: {}}\n",
        {
            "main.py": TINY_MAIN,
            "requirements.txt": "--no-index\n--find-links wheelhouse\ntinylib==1.0\nworkflow-plugin-sdk>=0.1  # us\n",
        },
    )
    make_wheel(
        plugin / "wheelhouse",
        "tinylib",
        "1.0",
        {"tinylib/__init__.py": "VALUE = 42\n\ndef double(n):\n    return 2 * n\n"},
    )
    return plugin


def test_the_generated_dockerfile_follows_the_docker_runtime_conventions():
    manifest = load_manifest(HTTP)

    text = generate_dockerfile(manifest)

    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == f"FROM {DEFAULT_BASE_IMAGE}"
    assert f"COPY deps/ {DEPS_PATH}/" in lines
    assert f"COPY plugin/ {PLUGIN_WORKDIR}/" in lines
    assert lines[-3:] == [
        f"WORKDIR {PLUGIN_WORKDIR}",
        f"USER {CONTAINER_USER}",
        f"CMD {json.dumps(['python3', *PYTHON_FLAGS, '/plugin/main.py'])}",
    ]
    run_lines = [line for line in lines if line.startswith("RUN ")]
    assert all(isinstance(json.loads(line[4:]), list) for line in run_lines), "RUN must use the exec form"
    assert "pip" not in text.replace("without pip", "")


def test_a_base_image_can_be_chosen():
    text = generate_dockerfile(load_manifest(HTTP), base_image="registry.local/python:3.12")

    assert "\nFROM registry.local/python:3.12\n" in text


def test_a_command_is_the_cmd_as_given_and_a_python_command_still_gets_the_sdk():
    manifest = load_manifest(TEXT)

    assert image_command(manifest) == ("python3", "bin/render.py")
    assert is_python_plugin(manifest)
    assert 'CMD ["python3", "bin/render.py"]' in generate_dockerfile(manifest)


def test_a_plugin_in_another_language_gets_no_python_steps(tmp_path):
    plugin = write_plugin(
        tmp_path / "node",
        "namespace: acme\nname: js\nversion: 1.0.0\nruntime: {command: [node, index.js]}\nactions: {go: {}}\n",
        {"index.js": ""},
    )
    manifest = load_manifest(plugin)

    text = generate_dockerfile(manifest, base_image="node:20-slim")

    assert not is_python_plugin(manifest)
    assert "RUN" not in text and "deps/" not in text
    assert text.splitlines()[-1] == 'CMD ["node", "index.js"]'


def test_the_spec_tags_with_runtime_image_unless_told_otherwise():
    manifest = load_manifest(TEXT)

    assert image_spec(manifest).tag == "registry.local/acme-text:2"
    assert image_spec(manifest, tag="acme/other:dev").tag == "acme/other:dev"
    assert image_spec(load_manifest(HTTP)).tag == "acme/http:1.2.0"
    assert image_spec(manifest).labels == {
        PLUGIN_LABEL: "acme/text",
        "workflow-plugins.version": "2.0.0rc1",
        BUILT_FROM_LABEL: plugin_content_hash(TEXT),
    }


def test_the_content_hash_covers_exactly_the_files_copied_into_the_image(tmp_path):
    """The label says which code is inside: the copy must hash like the plugin, and the ignored files stay out."""
    plugin = tmp_path / "http"
    shutil.copytree(HTTP, plugin)
    before = plugin_content_hash(plugin)
    for folder in ("__pycache__", ".git", ".venv", "venv", ".tox", "lib/__pycache__"):
        (plugin / folder).mkdir(parents=True)
        (plugin / folder / "junk.txt").write_text(folder)
    (plugin / "stale.pyc").write_bytes(b"\0")
    for dropping in ("main.py~", ".main.py.swp", ".main.py.swo", ".DS_Store", "#main.py#", "release.lock.json"):
        (plugin / dropping).write_text("not the plugin's code")
    assert plugin_content_hash(plugin) == before  # none of that is part of the plugin
    (plugin / "lib" / "helper.py").write_text("X = 1\n")
    (plugin / "shared").symlink_to(plugin / "lib", target_is_directory=True)
    (plugin / "venv.txt").write_text("a file named like an ignored folder is kept")
    context = tmp_path / "context"
    context.mkdir()

    prepare_context(image_spec(load_manifest(plugin)), context)

    copied = context / "plugin"
    assert plugin_content_hash(copied) == plugin_content_hash(plugin) != before
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*")) == sorted(
        [*(p.name for p in HTTP.iterdir() if p.name != "__pycache__"), "lib", "lib/helper.py", "shared", "venv.txt"]
    )
    assert (copied / "shared").is_symlink()


def test_a_plugins_own_dockerfile_is_used_unchanged(tmp_path):
    plugin = tmp_path / "http"
    shutil.copytree(HTTP, plugin)
    own = 'FROM python:3.11-slim\n# hand-written\nCOPY . /plugin\nWORKDIR /plugin\nCMD ["python3", "main.py"]\n'
    (plugin / "Dockerfile").write_text(own)

    spec = image_spec(load_manifest(plugin), base_image="ignored:1")

    assert spec.custom
    assert spec.dockerfile == own
    with pytest.raises(ValueError, match="own directory"):
        prepare_context(spec, tmp_path / "context")


@pytest.mark.parametrize(
    "tag", ["acme/http", "acme/http:1.2.0", "registry.local:5000/a/b:v1_2-3", "localhost/x", "Registry.Local/a:B"]
)
def test_valid_image_tags_pass(tag):
    check_image_tag(tag)


@pytest.mark.parametrize(
    "tag", ["Acme/http", "acme/Http", "acme/http:", "acme//http", "-acme", "acme/http:1 2", "a" * 256]
)
def test_invalid_image_tags_are_refused_with_a_hint(tag):
    with pytest.raises(ImageBuildError, match="is not a valid image tag") as raised:
        check_image_tag(tag)
    assert raised.value.hint is not None


def test_the_context_holds_the_plugin_and_the_sdk_readable_by_the_image_user(tmp_path):
    plugin = tmp_path / "http"
    shutil.copytree(HTTP, plugin)
    (plugin / "__pycache__").mkdir()
    (plugin / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"")
    (plugin / "private.txt").write_text("x")
    (plugin / "private.txt").chmod(0o600)
    context = tmp_path / "context"
    context.mkdir()

    wheels = prepare_context(image_spec(load_manifest(plugin)), context)

    assert wheels == ()
    assert (context / "Dockerfile").read_text() == generate_dockerfile(load_manifest(plugin))
    assert (context / "plugin" / "main.py").is_file()
    assert not (context / "plugin" / "__pycache__").exists()
    assert (context / "plugin" / "private.txt").stat().st_mode & 0o004
    sdk = context / "deps" / "workflow_plugin_sdk"
    assert (sdk / "__init__.py").read_text() == (Path(workflow_plugin_sdk.__file__)).read_text()
    [info] = (context / "deps").glob("workflow_plugin_sdk-*.dist-info")
    assert f"Version: {workflow_plugin_sdk.__version__}" in (info / "METADATA").read_text()


def test_requirements_become_unpacked_pure_wheels_and_the_sdk_line_is_skipped(tmp_path):
    plugin = tiny_plugin(tmp_path / "tiny")
    context = tmp_path / "context"
    context.mkdir()
    lines: list[str] = []

    installed = install_requirements(plugin / "requirements.txt", context, on_output=lines.append)

    assert installed == ["tinylib-1.0-py3-none-any.whl"]
    assert (context / "deps" / "tinylib" / "__init__.py").read_text().startswith("VALUE = 42")
    assert (context / "deps" / "tinylib-1.0.dist-info" / "METADATA").is_file()
    assert not (context / "wheels").exists()
    assert any("workflow-plugin-sdk comes from this environment" in line for line in lines)
    assert any("tinylib" in line for line in lines[1:]), "pip's own output is passed on"
    done = subprocess.run(
        [sys.executable, "-c", "import tinylib; print(tinylib.double(21))"],
        cwd=context / "deps",
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "42"


def test_a_requirement_pip_cannot_find_fails_with_pips_output(tmp_path):
    plugin = write_plugin(
        tmp_path / "p",
        "namespace: a\nname: b\nversion: '1'\nruntime: {entrypoint: main.py}\nactions: {go: {}}\n",
        {"main.py": "", "requirements.txt": "--no-index\nsurely-not-a-package==9.9\n"},
    )
    context = tmp_path / "context"
    context.mkdir()

    with pytest.raises(ImageBuildError, match="pip could not prepare the wheels") as raised:
        install_requirements(plugin / "requirements.txt", context)

    assert any("surely-not-a-package" in line for line in raised.value.output)
    assert raised.value.location is not None and raised.value.location.file == plugin / "requirements.txt"


def test_an_interpreter_without_pip_is_told_how_to_get_it(tmp_path):
    plugin = tiny_plugin(tmp_path / "tiny")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    context = tmp_path / "context"
    context.mkdir()

    with pytest.raises(ImageBuildError, match="needs pip to prepare wheels") as raised:
        install_requirements(plugin / "requirements.txt", context, python=str(tmp_path / "bare" / "bin" / "python"))

    assert raised.value.hint is not None and "ensurepip" in raised.value.hint


def test_a_compiled_wheel_is_refused_with_a_way_out(tmp_path):
    wheel = make_wheel(tmp_path, "native", "1.0", {"native/__init__.py": ""}, tag="cp311-cp311-linux_x86_64")

    with pytest.raises(ImageBuildError, match="not pure Python") as raised:
        unpack_wheel(wheel, tmp_path / "site")

    assert "cp311-cp311-linux_x86_64" in raised.value.message
    assert raised.value.hint is not None and "Dockerfile" in raised.value.hint
    assert not (tmp_path / "site").exists()


def test_wheel_data_purelib_is_installed_and_other_data_is_not(tmp_path):
    wheel = make_wheel(
        tmp_path,
        "dataful",
        "1.0",
        {"dataful-1.0.data/purelib/extra.py": "X = 1\n", "dataful-1.0.data/scripts/tool": "#!/bin/sh\n"},
    )

    unpack_wheel(wheel, tmp_path / "site")

    assert (tmp_path / "site" / "extra.py").read_text() == "X = 1\n"
    assert not (tmp_path / "site" / "tool").exists()
    assert not (tmp_path / "site" / "dataful-1.0.data").exists()


def test_a_wheel_member_escaping_the_site_directory_is_refused(tmp_path):
    wheel = make_wheel(tmp_path, "evil", "1.0", {"../../escaped.py": "X = 1\n"})

    with pytest.raises(ImageBuildError, match="escapes the install directory"):
        unpack_wheel(wheel, tmp_path / "site" / "inner")

    assert not (tmp_path / "escaped.py").exists()


def test_no_daemon_is_runtime_unavailable_with_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")

    with pytest.raises(RuntimeUnavailableError, match="nothing listens at") as raised:
        connect_docker()

    assert raised.value.hint is not None and "setup-isolation.sh" in raised.value.hint


@pytest.mark.docker
def test_a_generated_image_with_requirements_builds_and_runs_restricted(tmp_path, image_tags, run_in_container):
    plugin = tiny_plugin(tmp_path / "tiny")
    spec = image_spec(load_manifest(plugin), tag=image_tags("tiny"))
    lines: list[str] = []

    built = build_image(spec, on_output=lines.append)

    assert built.tag == spec.tag and built.image_id.startswith("sha256:")
    assert built.wheels == ("tinylib-1.0-py3-none-any.whl",)
    assert any(line.startswith("Step 1/") for line in lines)
    result = run_in_container(spec.tag, "value", {"n": 4})
    assert result.ok, (result.failure, result.stderr_tail)
    assert result.outputs == {"value": 42, "doubled": 8}


@pytest.mark.docker
def test_a_failing_step_is_reported_with_its_output(tmp_path, image_tags):
    plugin = write_plugin(
        tmp_path / "failing",
        "namespace: acme\nname: failing\nversion: 1.0.0\nruntime: {entrypoint: main.py}\nactions: {go: {}}\n",
        {
            "main.py": "",
            "Dockerfile": "FROM python:3.11-slim\nCOPY . /plugin\n"
            'RUN ["python3", "-c", "print(\'compiling the thing\'); raise SystemExit(3)"]\n',
        },
    )

    with pytest.raises(ImageBuildError) as raised:
        build_image(image_spec(load_manifest(plugin), tag=image_tags("failing")))

    error = raised.value
    assert "failed at step 3/" in error.message and "of the plugin's Dockerfile" in error.message
    assert "returned a non-zero code: 3" in error.message
    assert error.step is not None and error.step.startswith("Step 3/")
    assert error.step.split(" : ", 1)[1].startswith('RUN ["python3"')
    assert "compiling the thing" in error.output


@pytest.mark.docker
def test_a_base_image_without_python_fails_with_a_hint(tmp_path, image_tags):
    empty = image_tags("empty-base")
    subprocess.run(["docker", "import", "-", empty], input=_empty_tar(), capture_output=True, check=True)
    spec = image_spec(load_manifest(HTTP), base_image=empty, tag=image_tags("no-python"))

    with pytest.raises(ImageBuildError) as raised:
        build_image(spec)

    error = raised.value
    assert "of the generated Dockerfile" in error.message
    assert '"python3": executable file not found' in error.message
    assert error.hint == "the generated Dockerfile needs python3 in the base image; --print-dockerfile shows it"
    assert not any("Removing intermediate container" in line for line in error.output)


def _empty_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w"):
        pass
    return buffer.getvalue()
