"""The program a generated image must provide, and the default base image's refusal of what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import ImageBuildError
from workflow_plugin_runtime.plugins.manifest_loading import load_manifest
from workflow_plugin_runtime.runtimes.docker.image_programs import check_default_base_starts, starting_program
from workflow_plugin_runtime.runtimes.docker.images import DEFAULT_BASE_IMAGE, image_spec


def plugin(folder: Path, runtime: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.yaml").write_text(
        f"namespace: acme\nname: p\nversion: 1.0.0\nruntime: {runtime}\nactions: {{go: {{}}}}\n"
    )
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("runtime", "files", "program"),
    [
        ("{entrypoint: main.py}", {"main.py": ""}, "python3"),
        ("{command: [node, index.js]}", {}, "node"),
        ("{command: [/usr/bin/env, FOO=1, deno, run]}", {}, "deno"),
        ("{command: [./run.sh]}", {"run.sh": "#!/bin/sh\n"}, "/bin/sh"),
        ("{command: [/plugin/run]}", {"run": "#!/usr/bin/env -S ruby -w\n"}, "ruby"),
        ("{command: [./tool]}", {"tool": "\x7fELF binary"}, None),
        ("{command: [./run]}", {"run": "#!/plugin/interp\n"}, None),
    ],
)
def test_the_starting_program_is_found_as_exec_and_env_would(tmp_path, runtime, files, program):
    assert starting_program(load_manifest(plugin(tmp_path / "p", runtime, files))) == program


@pytest.mark.parametrize(
    "runtime", ["{entrypoint: main.py}", "{command: [python, x.py]}", "{command: [/bin/sh, x.sh]}", "{command: [bash]}"]
)
def test_programs_of_the_default_base_pass(tmp_path, runtime):
    check_default_base_starts(load_manifest(plugin(tmp_path / "p", runtime, {"main.py": ""})), DEFAULT_BASE_IMAGE)


@pytest.mark.parametrize(
    "runtime", ["{command: [node, x.js]}", "{command: [python3.12, x.py]}", "{command: [/usr/local/bin/python3]}"]
)
def test_other_programs_are_refused_at_their_line_with_both_ways_out(tmp_path, runtime):
    manifest = load_manifest(plugin(tmp_path / "p", runtime))

    with pytest.raises(ImageBuildError) as raised:
        image_spec(manifest)

    error = raised.value
    assert f"which the default base image {DEFAULT_BASE_IMAGE} does not have" in error.message
    assert error.location is not None and (error.location.file, error.location.line) == (manifest.manifest_path, 4)
    assert error.hint is not None and "write a Dockerfile in" in error.hint and "--base-image IMAGE" in error.hint


def test_another_base_image_or_the_plugins_own_dockerfile_is_not_second_guessed(tmp_path):
    node = plugin(tmp_path / "node", "{command: [node, x.js]}")
    own = plugin(tmp_path / "own", "{command: [node, x.js]}", {"Dockerfile": "FROM node:20-slim\n"})

    assert image_spec(load_manifest(node), base_image="node:20-slim").dockerfile.startswith("# Generated")
    assert image_spec(load_manifest(own)).custom
