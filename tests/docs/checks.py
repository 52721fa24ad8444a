"""How each kind of sample is checked, in a page's temporary project.

The kinds, the directive that names them and the command rewrites are
described for writers in docs/README.md, "For contributors"; samples.py
reads the blocks and their directives.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from .background import background_cluster, with_free_port
from .documents import check_document, check_json, check_message, check_pyproject
from .samples import Sample, expected_output_pattern
from .states import STATES

__all__ = ["ROOT", "Project", "check_sample"]

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
CI_SCRIPTS = (ROOT / ".ci/run", ROOT / ".ci/setup-isolation.sh")
NO_INDEX = r"No matching distribution found for \S+|Failed to establish a new connection"
"""pip's words when no index it is set up with answers: the README's install line needs one."""
DOCKERFILE_INSTRUCTIONS = {
    *("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME"),
    *("USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"),
}
SCHEMAS = ROOT / "packages/plugin-runtime/src/workflow_plugin_runtime/schemas"


@dataclass(frozen=True)
class Project:
    """A page's temporary project: a copy of ``examples/``, whose plugins are on its plugins path."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    """Set by a state (states.py) for the samples it is built for."""
    samples: tuple[Sample, ...] = ()
    """The page's samples, in page order."""

    @classmethod
    def create(cls, root: Path, samples: list[Sample]) -> Project:
        shutil.copytree(ROOT / "examples", root / "examples", ignore=shutil.ignore_patterns(".workflow", "__pycache__"))
        (root / ".workflow").mkdir()
        (root / ".workflow/config.yaml").write_text("plugins:\n  paths: [examples/plugins]\n")
        project = cls(root, samples=tuple(samples))
        for sample in samples:
            if "file" in sample.options:
                project.save(sample.options["file"], sample.text)
        return project

    def save(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "WORKFLOW_PLUGINS_PATH"}
        return {
            **env,
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "NO_COLOR": "1",
            "COLUMNS": "120",
            "PYTEST_ADDOPTS": "-p no:cacheprovider",
            "XDG_CONFIG_HOME": str(self.root.parent / f"{self.root.name}-config"),
            "XDG_DATA_HOME": str(self.root.parent / f"{self.root.name}-data"),
            "WORKFLOW_STATE_DIR": str(self.root.parent / f"{self.root.name}-state"),
            **self.extra_env,
        }

    def remove_plugin_images(self) -> None:
        """The images of the plugins the page's samples created under ``plugins/`` (examples' images are CI's)."""
        if shutil.which("docker") is None:
            return
        for manifest in (self.root / "plugins").glob("*/plugin.yaml"):
            tag = _image_tag(manifest)
            if tag not in {_image_tag(example) for example in (ROOT / "examples/plugins").glob("*/plugin.yaml")}:
                subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)

    def shell(
        self, script: str, *, timeout: float = 300, options: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``script`` run by bash in the project (``in=repository``: the repository), stderr merged into stdout.

        ``.venv/bin/``, and ``NAME/bin/`` for each NAME of ``venvs=NAME,...``,
        stand for this environment, whose bin folder leads ``PATH``.
        """
        options = options or {}
        for venv in [".venv", *filter(None, options.get("venvs", "").split(","))]:
            script = script.replace(f"{venv}/bin/", "")
        return subprocess.run(
            [shutil.which("bash") or "bash", "-e", "-o", "pipefail", "-c", script],
            cwd=ROOT if options.get("in") == "repository" else self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )


def _image_tag(manifest: Path) -> str:
    plugin = yaml.safe_load(manifest.read_text())
    return str(plugin.get("runtime", {}).get("image") or f"{plugin['namespace']}/{plugin['name']}:{plugin['version']}")


def check_sample(sample: Sample, project: Project) -> None:
    """``sample`` checked as its kind says, after its ``setup=`` and in its ``state=``, then its ``cleanup=``."""
    check = CHECKS.get(sample.kind)
    assert check is not None, f"no check for kind {sample.kind!r} (lang {sample.lang!r}): add a directive"
    if "setup" in sample.options and sample.kind not in ("workflow",):
        done = project.shell(sample.options["setup"])
        assert done.returncode == 0, f"setup {sample.options['setup']!r} failed:\n{done.stdout}"
    try:
        if "state" in sample.options:
            with STATES[sample.options["state"]](project):
                check(sample, project)
        else:
            check(sample, project)
    finally:
        if "cleanup" in sample.options:
            project.shell(sample.options["cleanup"])


def _compare(command: str, expected: str, project: Project, *, exit_code: int | None, sample: Sample) -> None:
    done = project.shell(command, options=sample.options, timeout=float(sample.options.get("timeout", 300)))
    shown = "\n".join(line.rstrip() for line in done.stdout.splitlines()) + "\n"
    if exit_code is None:
        exit_code = 0 if not re.search(r"^error:", expected, re.MULTILINE) else done.returncode or -1
    assert done.returncode == exit_code, f"$ {command}\nexit {done.returncode}, expected {exit_code}:\n{shown}"
    if expected.strip():
        assert expected_output_pattern(expected).fullmatch(shown), (
            f"$ {command}\nprinted:\n{shown}\nexpected:\n{expected}"
        )


def _check_shell(sample: Sample, project: Project) -> None:
    exit_code = int(sample.options["exit"]) if "exit" in sample.options else None
    if not sample.text.startswith("$ "):
        for command in _logical_lines(sample.text):
            _compare(command, "", project, exit_code=exit_code, sample=sample)
        return
    text = with_free_port(sample.text, sample.options["port"]) if "port" in sample.options else sample.text
    with background_cluster(project) as cluster:
        for block in re.split(r"^\$ ", text, flags=re.MULTILINE)[1:]:
            command, expected = _transcript_command(block)
            if command.endswith("&"):
                assert not expected.strip(), f"{command!r} runs in the background: it shows no output"
                cluster.start(command.removesuffix("&"))
                continue
            cluster.wait()
            said = re.search(r"#\s*exit (\d+)", command)
            _compare(command, expected, project, exit_code=int(said[1]) if said else exit_code, sample=sample)


def _transcript_command(block: str) -> tuple[str, str]:
    """A transcript's command (its lines ending in ``\\`` continue it) and the output expected after it."""
    command, _, expected = block.partition("\n")
    while command.endswith("\\"):
        more, _, expected = expected.partition("\n")
        command = f"{command[:-1]} {more.strip()}"
    return command, expected


def _check_output(sample: Sample, project: Project) -> None:
    exit_code = int(sample.options["exit"]) if "exit" in sample.options else None
    _compare(sample.options["of"], sample.text, project, exit_code=exit_code, sample=sample)


def _check_bench(sample: Sample, project: Project) -> None:
    """Each benchmark command run with ``--quick`` added (one small round): exit 0 and the table printed."""
    for command in _logical_lines(sample.text):
        quick = re.sub(r"(benchmarks/bench_\w+\.py)", r"\1 --quick", command)
        assert quick != command, f"{command!r} runs no benchmarks/bench_*.py"
        done = project.shell(quick, options={**sample.options, "in": "repository"}, timeout=600)
        assert done.returncode == 0, f"$ {quick}\nexit {done.returncode}:\n{done.stdout}"
        assert sample.options["table"] in done.stdout, f"$ {quick}\nprinted no table:\n{done.stdout}"


def _check_ci(sample: Sample, project: Project) -> None:
    """Each command, less a leading ``sudo``, is in .ci/run or .ci/setup-isolation.sh as written (spacing aside)."""
    scripts = " ".join(_normalised(path.read_text(encoding="utf-8")) for path in CI_SCRIPTS)
    for line in _logical_lines(sample.text):
        command = _normalised(line).removeprefix("sudo ")
        assert command in scripts, f"{command!r} is not what .ci/run or .ci/setup-isolation.sh runs"


def _normalised(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def _check_clone(sample: Sample, project: Project) -> None:
    """Run by bash in a fresh copy of the repository's tracked files, committed: succeeds, git status stays clean."""
    clone = project.root.parent / "clone"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # deleted in the work tree, not yet committed
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "a fresh clone"]):
        subprocess.run([*git, *args], cwd=clone, capture_output=True, check=True)
    env = {key: value for key, value in project.env.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = env["PATH"].removeprefix(f"{BIN}{os.pathsep}")  # the reader's shell: no virtualenv active
    done = subprocess.run(
        ["bash", "-e", "-c", sample.text],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 and not os.environ.get("CI") and re.search(NO_INDEX, done.stdout):
        pytest.skip(f"pip reaches no package index here (CI runs it): {re.search(NO_INDEX, done.stdout)[0]}")
    assert done.returncode == 0, done.stdout
    assert sample.options["prints"] in done.stdout, done.stdout
    status = subprocess.run([*git, "status", "--porcelain", "-uall"], cwd=clone, capture_output=True, check=True)
    assert status.stdout == b"", status.stdout.decode()


def _logical_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _parse_cli(args: list[str]) -> Any:
    """The command ``workflow ARGS`` runs, its arguments parsed by the real CLI (a bad one raises)."""
    import typer.main

    from workflow_cli.app import app

    command: Any = typer.main.get_command(app)
    context = command.make_context("workflow", list(args))
    while hasattr(command, "resolve_command"):
        rest = [*getattr(context, "_protected_args", []), *context.args]
        if not rest:
            break
        name, command, rest = command.resolve_command(context, rest)
        context = command.make_context(name, rest, parent=context, resilient_parsing=not rest)
    return command


def _check_synopsis(sample: Sample, project: Project) -> None:
    """Each line names a real command, and every command is named."""
    import typer.main

    from workflow_cli.app import app

    named = set()
    for line in sample.text.splitlines():
        words = re.split(r"\s{2,}", line.strip())[0].split()[1:]
        path = words[: next((i for i, word in enumerate(words) if not word.isalpha() or word.isupper()), len(words))]
        _parse_cli(path)
        named.add(" ".join(path))
    group: Any = typer.main.get_command(app)
    every = {name for name in group.commands if not hasattr(group.commands[name], "commands")}
    every |= {f"plugin {name}" for name in group.commands["plugin"].commands}
    assert every <= named, f"commands missing from the synopsis: {sorted(every - named)}"


def _check_python(sample: Sample, project: Project) -> None:
    name = sample.options.get("file", f"sample_{sample.line}.py")
    path = project.save(name, sample.text)
    runner = (
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", path.name] if path.name.startswith("test_") else [path.name]
    )
    done = subprocess.run(
        [sys.executable, *runner],
        cwd=path.parent,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _check_workflow(sample: Sample, project: Project) -> None:
    name = sample.options.get("file", f"sample-{sample.line}.yaml")
    project.save(name, sample.text)
    keys = filter(None, sample.options.get("secrets", "").split(","))
    secrets = "".join(f"WORKFLOW_SECRET_{key}=sample-secret " for key in keys)
    done = project.shell(f"{sample.options.get('setup', 'true')} && {secrets}workflow validate {shlex.quote(name)}")
    assert done.returncode == int(sample.options.get("exit", 0)), done.stdout


def _check_manifest(sample: Sample, project: Project) -> None:
    from workflow_plugin_runtime import load_manifest

    plugin_dir = project.root / "manifests" / str(sample.line)
    path = project.save(f"manifests/{sample.line}/plugin.yaml", sample.text)
    runtime = yaml.safe_load(sample.text).get("runtime", {})
    for named in [runtime.get("entrypoint"), *runtime.get("command", [])[1:]]:
        if named and not (plugin_dir / named).exists():
            project.save(f"manifests/{sample.line}/{named}", "")
    load_manifest(path)


def _check_config(sample: Sample, project: Project) -> None:
    from workflow_plugin_runtime import load_config

    project.save(f"configs/{sample.line}/.workflow/config.yaml", sample.text)
    load_config(start=project.root / "configs" / str(sample.line), env={})


def _check_fragment(sample: Sample, project: Project) -> None:
    import fastjsonschema

    schema = json.loads((SCHEMAS / f"{sample.options['of']}.schema.json").read_text())
    schema.pop("required", None)
    fastjsonschema.validate(schema, yaml.safe_load(sample.text))


def _check_yaml(sample: Sample, project: Project) -> None:
    data = yaml.safe_load(sample.text)
    assert isinstance(data, dict), "a YAML sample is a mapping"
    if "tasks" in data:
        return _check_workflow(sample, project)
    if "actions" in data:
        return _check_manifest(sample, project)
    for of in ("config", "plugin", "workflow"):
        properties = json.loads((SCHEMAS / f"{of}.schema.json").read_text())["properties"]
        if set(data) <= set(properties):
            return _check_fragment(
                Sample(sample.page, sample.line, sample.lang, sample.text, "fragment", {"of": of}), project
            )
    raise AssertionError(f"keys {sorted(data)} belong to no file of ours")


def _check_diagram(sample: Sample, project: Project) -> None:
    for path in sample.options["paths"].split():
        assert (ROOT / path).exists(), f"{path} does not exist"
        name = Path(path).stem.lstrip("_").replace("-", "_")
        assert name in sample.text.replace("-", "_"), f"{name} is not in the picture"


def _check_excerpt(sample: Sample, project: Project) -> None:
    source = ROOT / sample.options["of"]
    assert sample.text in source.read_text(encoding="utf-8"), f"the sample is not a part of {source.name} as it is"
    done = subprocess.run([sys.executable, str(source)], env=project.env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _check_file(sample: Sample, project: Project) -> None:
    """Saved for the page's later samples, which must use it, after a check of its syntax."""
    path = project.root / sample.options["file"]
    used_as = Path(sample.options["file"]).parts[0]
    later = [other for other in project.samples if other.line > sample.line]
    assert any(used_as in other.text + str(other.options) for other in later), f"no later sample uses {used_as}"
    if path.name == "Dockerfile":
        instructions = [line.split()[0] for line in _logical_lines(sample.text)]
        assert instructions[0] == "FROM", "a Dockerfile starts with FROM"
        assert set(instructions) <= DOCKERFILE_INSTRUCTIONS, f"unknown: {set(instructions) - DOCKERFILE_INSTRUCTIONS}"
    syntax = {".sh": ["sh", "-n", str(path)], ".py": [sys.executable, "-m", "py_compile", str(path)]}.get(path.suffix)
    if syntax:
        done = subprocess.run(syntax, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    elif path.suffix in (".yaml", ".yml"):
        yaml.safe_load(sample.text)
    elif path.suffix == ".env":
        from dotenv import dotenv_values

        assert all(value is not None for value in dotenv_values(path).values()), "a line without a value"


CHECKS = {
    "shell": _check_shell,
    "output": _check_output,
    "bench": _check_bench,
    "ci": _check_ci,
    "clone": _check_clone,
    "python": _check_python,
    "workflow": _check_workflow,
    "manifest": _check_manifest,
    "config": _check_config,
    "fragment": _check_fragment,
    "yaml": _check_yaml,
    "json": check_json,
    "pyproject": check_pyproject,
    "document": check_document,
    "message": check_message,
    "diagram": _check_diagram,
    "file": _check_file,
    "synopsis": _check_synopsis,
    "excerpt": _check_excerpt,
}
