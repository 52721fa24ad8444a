"""A plugin's output keyed by secrets: every entry survives masking, in the record and on the terminal."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import RunCli

KEYED_PLUGINS = Path(__file__).parent / "fixtures" / "plugins_keyed"
FIRST, SECOND = "alpha-5c1e-first-secret", "beta-77d0-second-secret"
FLOW = """\
name: masked-keys
tasks:
  keyed:
    uses: tests/keyed.by-value
    inputs: {first: "{{ secrets.FIRST }}", second: "{{ secrets.SECOND }}", third: "***"}
outputs:
  keyed: "{{ tasks.keyed.outputs }}"
"""
MASKED = {"***": "first", "***#2": "second", "***#3": "third"}
"""What the plugin returns, ``{FIRST: "first", SECOND: "second", "***": "third"}``, masked: three keys, all kept."""


def _run(run_cli: RunCli, tmp_path: Path, *args: str) -> tuple[str, str]:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    secrets = {"WORKFLOW_SECRET_FIRST": FIRST, "WORKFLOW_SECRET_SECOND": SECOND}
    done = run_cli("run", str(flow), "-p", str(KEYED_PLUGINS), *args, env=secrets)
    assert done.returncode == 0, done.stderr
    (record,) = (tmp_path / ".workflow" / "runs").glob("*.json")
    written = record.read_text(encoding="utf-8")
    assert FIRST not in done.stdout + done.stderr + written
    assert SECOND not in done.stdout + done.stderr + written
    stored = json.loads(written)
    assert stored["tasks"]["keyed"]["outputs"] == MASKED
    assert stored["outputs"] == {"keyed": MASKED}
    return done.stdout, done.stderr


def test_keys_two_secrets_mask_to_stay_distinct_in_the_json_record(run_cli: RunCli, tmp_path: Path) -> None:
    stdout, _ = _run(run_cli, tmp_path, "--json")
    printed = json.loads(stdout)
    assert printed["tasks"]["keyed"]["outputs"] == MASKED
    assert printed["outputs"] == {"keyed": MASKED}


def test_keys_two_secrets_mask_to_are_all_printed(run_cli: RunCli, tmp_path: Path) -> None:
    stdout, stderr = _run(run_cli, tmp_path)
    assert f"keyed: {json.dumps(MASKED)}" in stdout + stderr
