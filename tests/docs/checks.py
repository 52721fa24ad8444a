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
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .samples import Sample, expected_output_pattern

__all__ = ["ROOT", "Project", "check_sample"]

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
PACKAGES = {
    "workflow-plugin-sdk": "plugin-sdk",
    "workflow-plugin-runtime": "plugin-runtime",
    "workflow-cli": "workflow-cli",
}
DOCKERFILE_INSTRUCTIONS = {
    *("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME"),
    *("USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"),
}
SCHEMAS = ROOT / "packages/plugin-runtime/src/workflow_plugin_runtime/schemas"


@dataclass(frozen=True)
class Project:
    """A page's temporary project: a copy of ``examples/``, whose plugins are on its plugins path."""

    root: Path

    @classmethod
    def create(cls, root: Path, samples: list[Sample]) -> Project:
        shutil.copytree(ROOT / "examples", root / "examples", ignore=shutil.ignore_patterns(".workflow", "__pycache__"))
        (root / ".workflow").mkdir()
        (root / ".workflow/config.yaml").write_text("plugins:\n  paths: [examples/plugins]\n")
        project = cls(root)
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
            "XDG_CONFIG_HOME": str(self.root.parent / f"{self.root.name}-config"),
            "XDG_DATA_HOME": str(self.root.parent / f"{self.root.name}-data"),
            "WORKFLOW_STATE_DIR": str(self.root.parent / f"{self.root.name}-state"),
        }

    def remove_plugin_images(self) -> None:
        """The images of the plugins the page's samples created under ``plugins/`` (examples' images are CI's)."""
        if shutil.which("docker") is None:
            return
        for manifest in (self.root / "plugins").glob("*/plugin.yaml"):
            plugin = yaml.safe_load(manifest.read_text())
            tag = f"{plugin['namespace']}/{plugin['name']}:{plugin['version']}"
            subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)

    def shell(self, script: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``script`` run by bash in the project, stderr merged into stdout as a terminal shows them."""
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script.replace(".venv/bin/", "")],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )


def check_sample(sample: Sample, project: Project) -> None:
    check = CHECKS.get(sample.kind)
    assert check is not None, f"no check for kind {sample.kind!r} (lang {sample.lang!r}): add a directive"
    check(sample, project)


def _compare(command: str, expected: str, project: Project, *, exit_code: int | None) -> None:
    done = project.shell(command)
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
            _check_pip(command) if _is_pip_install(command) else _compare(command, "", project, exit_code=exit_code)
        return
    for block in re.split(r"^\$ ", sample.text, flags=re.MULTILINE)[1:]:
        command, _, expected = block.partition("\n")
        said = re.search(r"#\s*exit (\d+)", command)
        code = int(said[1]) if said else exit_code
        _check_pip(command) if _is_pip_install(command) else _compare(command, expected, project, exit_code=code)


def _check_output(sample: Sample, project: Project) -> None:
    exit_code = int(sample.options["exit"]) if "exit" in sample.options else None
    _compare(sample.options["of"], sample.text, project, exit_code=exit_code)


def _logical_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _is_pip_install(command: str) -> bool:
    return re.match(r"^(?:\S*/)?(?:pip3?|python3? -m pip) install ", command.strip()) is not None


def _check_pip(command: str) -> None:
    words = [word for word in shlex.split(command, comments=True) if not word.startswith("-")]
    for requirement in words[words.index("install") + 1 :]:
        if "/" in requirement:
            assert (ROOT / requirement / "pyproject.toml").exists(), f"{requirement} is no package of this repository"
            continue
        name, _, extras = requirement.partition("[")
        if name not in PACKAGES:
            continue  # not ours: installed from an index, which these tests do not reach
        done = subprocess.run([sys.executable, "-m", "pip", "show", name], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{name} is not installed here: {done.stderr}"
        pyproject = tomllib.loads((ROOT / "packages" / PACKAGES[name] / "pyproject.toml").read_text())
        for extra in filter(None, extras.rstrip("]").split(",")):
            assert extra in pyproject["project"].get("optional-dependencies", {}), f"{name} has no extra {extra!r}"


def _check_command(sample: Sample, project: Project) -> None:
    syntax = subprocess.run(["bash", "-n"], input=sample.text, capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    for line in _logical_lines(sample.text):
        if _is_pip_install(line):
            _check_pip(line)
            continue
        words = shlex.shlex(line, posix=True, punctuation_chars=True)
        words.whitespace_split = True
        segment: list[str] = []
        for word in [*words, ";"]:
            if word in ("|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1"):
                _check_segment(segment)
                segment = []
            else:
                segment.append(word.replace(".venv/bin/", ""))


def _check_segment(words: list[str]) -> None:
    while words and (words[0] in ("sudo", "setsid", "nohup") or "=" in words[0]):
        words = words[1:]
    if not words:
        return
    if words[0] == "workflow":
        _parse_cli(words[1:])
    elif Path(words[0]).name.startswith(("python", "bash", "sh")) and len(words) > 1 and "/" in words[1]:
        assert (ROOT / words[1]).exists(), f"{words[1]} does not exist in the repository"


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


def _check_json(sample: Sample, project: Project) -> None:
    json.loads("{" + sample.text + "}" if sample.options.get("wrap") == "object" else sample.text)


def _check_record(sample: Sample, project: Project) -> None:
    shown = json.loads(sample.text)
    project.save("record/hello.yaml", (ROOT / "examples/workflows/hello.yaml").read_text())
    done = subprocess.run(
        ["workflow", "run", "record/hello.yaml", "--json"],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    real = json.loads(done.stdout)
    assert set(shown) <= set(real), f"not in a run record: {sorted(set(shown) - set(real))}"
    real_task = next(iter(real["tasks"].values()))
    for task in shown.get("tasks", {}).values():
        assert set(task) <= set(real_task), f"not in a task's record: {sorted(set(task) - set(real_task))}"


def _check_shown(sample: Sample, project: Project) -> None:
    phrase = sample.options["from"]
    assert phrase in sample.text, f"{phrase!r} is not in the sample"
    sources = (path.read_text(encoding="utf-8") for path in (ROOT / "packages").glob("*/src/**/*.py"))
    assert any(phrase in source for source in sources), f"{phrase!r} is printed by no code of ours any more"


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
    path = project.root / sample.options["file"]
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
    "command": _check_command,
    "python": _check_python,
    "workflow": _check_workflow,
    "manifest": _check_manifest,
    "config": _check_config,
    "fragment": _check_fragment,
    "yaml": _check_yaml,
    "json": _check_json,
    "toml": lambda sample, project: tomllib.loads(sample.text),
    "record": _check_record,
    "shown": _check_shown,
    "diagram": _check_diagram,
    "file": _check_file,
    "synopsis": _check_synopsis,
    "excerpt": _check_excerpt,
}
