"""A Dockerfile's steps counted as the legacy builder counts them, each with the line it starts on."""

from __future__ import annotations

from pathlib import Path

from workflow_plugin_runtime.plugins.manifest_loading import load_manifest
from workflow_plugin_runtime.runtimes.docker.dockerfile import DockerfileStep, dockerfile_steps
from workflow_plugin_runtime.runtimes.docker.images import generate_dockerfile

HTTP = Path(__file__).resolve().parents[2] / "fixtures" / "plugins" / "acme-http"


def test_comments_blank_lines_and_continuations_are_not_steps():
    text = (
        "# syntax and comments\n"
        "FROM python:3.11-slim\n"
        "\n"
        "RUN apt-get update && \\\n"
        "    # a comment inside a continued instruction\n"
        "    apt-get install -y make\n"
        "  COPY . /plugin\n"
        'CMD ["make"]'
    )

    assert dockerfile_steps(text) == [
        DockerfileStep(1, 2, "FROM python:3.11-slim"),
        DockerfileStep(2, 4, "RUN apt-get update && apt-get install -y make"),
        DockerfileStep(3, 7, "COPY . /plugin"),
        DockerfileStep(4, 8, 'CMD ["make"]'),
    ]


def test_the_escape_directive_changes_the_continuation_character():
    text = "# escape=`\nFROM windows\nRUN dir c:\\ `\n    /b\n"

    assert dockerfile_steps(text) == [DockerfileStep(1, 2, "FROM windows"), DockerfileStep(2, 3, "RUN dir c:\\ /b")]


def test_a_directive_after_the_first_comment_is_a_comment():
    assert dockerfile_steps("# hello\n# escape=`\nRUN a `\nRUN b\n") == [
        DockerfileStep(1, 3, "RUN a `"),
        DockerfileStep(2, 4, "RUN b"),
    ]


def test_the_generated_dockerfile_has_eight_steps():
    steps = dockerfile_steps(generate_dockerfile(load_manifest(HTTP)))

    assert [step.instruction.split()[0] for step in steps] == [
        "FROM",
        "COPY",
        "RUN",
        "COPY",
        "RUN",
        "WORKDIR",
        "USER",
        "CMD",
    ]
