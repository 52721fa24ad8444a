from __future__ import annotations

import json
import subprocess
import sys

from workflow_cli import __version__


def test_version_prints_the_distribution_version(run_cli):
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"workflow {__version__}"


def test_dir_lists_the_version_before_its_first_use():
    """``__version__`` loads on first use (PEP 562); ``dir()`` lists it all the same, as ``__all__`` does."""
    code = "import workflow_cli; print('__version__' in dir(workflow_cli), 'workflow_cli.__about__' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", f"import sys; {code}"], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"]


def test_help_lists_commands_and_examples(run_cli):
    done = run_cli("--help")
    assert done.returncode == 0
    assert "schema" in done.stdout
    assert "Examples:" in done.stdout


def test_unknown_command_is_a_usage_error_with_exit_2(run_cli):
    done = run_cli("frobnicate")
    assert done.returncode == 2
    assert done.stderr.startswith("error: no such command 'frobnicate'\n")
    assert "Traceback" not in done.stderr


def test_schema_prints_each_shipped_schema_as_json(run_cli):
    for name in ("plugin", "workflow"):
        done = run_cli("schema", name)
        assert done.returncode == 0, done.stderr
        schema = json.loads(done.stdout)
        assert schema["type"] == "object"
        assert "properties" in schema


def test_schema_rejects_an_unknown_format(run_cli):
    done = run_cli("schema", "pipeline")
    assert done.returncode == 2
    assert "pipeline" in done.stderr
