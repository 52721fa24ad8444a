"""Samples that are documents: JSON a command prints or a file holds, wire-protocol messages, a pyproject.

Each is compared with what the real code reads or writes: the keys of a
document with those of the document the command really prints, a message
with the SDK's own decoder, an entry-point group with the runtime's.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import Project
    from .samples import Sample

__all__ = ["check_document", "check_json", "check_message", "check_pyproject"]


def check_json(sample: Sample, project: Project) -> None:
    """Settings naming files (``exist=KEY``): that member's keys are paths earlier samples of the page wrote."""
    assert "exist" in sample.options, "say what the JSON is: document, message, or json exist=KEY"
    for path in json.loads(sample.text)[sample.options["exist"]]:
        assert (project.root / path).exists(), f"{path} does not exist: no sample before this one writes it"


def check_pyproject(sample: Sample, project: Project) -> None:
    """A distribution's plugins: the entry-point group is the one the runtime reads, each value a package name."""
    from workflow_plugin_runtime.plugins.discovery import ENTRY_POINT_GROUP

    groups = tomllib.loads(sample.text)["project"]["entry-points"]
    assert set(groups) == {ENTRY_POINT_GROUP}, f"the runtime reads {ENTRY_POINT_GROUP!r}, not {sorted(groups)}"
    for name, value in groups[ENTRY_POINT_GROUP].items():
        assert re.fullmatch(r"[A-Za-z_][\w.]*", value), f"{name} = {value!r} names no package (module:attr is refused)"


def check_document(sample: Sample, project: Project) -> None:
    """Every key the sample shows is one of the document CMD prints (``of=CMD``), at the same place.

    Keys of the mappings ``names=PATH,...`` lists (``tasks``, ``plugins.*.files``)
    are names, not fields: each entry shown is compared with a real entry.
    Each item of a list is compared with the real list's items, until one
    matches. A field the real document leaves empty (``null``, ``[]``) is not
    looked into.
    """
    done = project.shell(sample.options["of"], options=sample.options)
    real = json.loads(done.stdout)
    shown = json.loads("{" + sample.text + "}" if sample.options.get("wrap") == "object" else sample.text)
    names = {tuple(path.split(".")) for path in sample.options.get("names", "").split(",") if path}
    _same_keys(shown, real, (), names)


def _same_keys(shown: Any, real: Any, where: tuple[str, ...], names: set[tuple[str, ...]]) -> None:
    named = any(
        len(path) == len(where) and all(part in ("*", key) for part, key in zip(path, where, strict=True))
        for path in names
    )
    if isinstance(shown, dict) and named:
        assert isinstance(real, dict) and real, f"{'.'.join(where)}: no entries in the real document to compare with"
        for key, value in shown.items():
            _same_keys(value, real.get(key, next(iter(real.values()))), (*where, key), names)
    elif isinstance(shown, dict) and real is not None:  # null: a field this real document leaves empty
        assert isinstance(real, dict), f"{'.'.join(where) or 'the document'} is no object in the real document"
        assert set(shown) <= set(real), f"{'.'.join(where) or 'top level'}: not in it: {sorted(set(shown) - set(real))}"
        for key, value in shown.items():
            _same_keys(value, real[key], (*where, key), names)
    elif isinstance(shown, list) and real and any(isinstance(item, dict | list) for item in shown):
        assert isinstance(real, list), f"{'.'.join(where)} is no list in the real document"
        for item in shown:  # like one of the real items
            problems = []
            for candidate in real:
                try:
                    _same_keys(item, candidate, where, names)
                    break
                except AssertionError as problem:
                    problems.append(str(problem))
            else:
                raise AssertionError(problems[0])


def check_message(sample: Sample, project: Project) -> None:
    """A wire-protocol message (``of=request|response|log``), one line on the wire, read by the SDK's own decoder."""
    from workflow_plugin_sdk import protocol

    line = " ".join(sample.text.split())
    if sample.options["of"] == "log":
        record = protocol.parse_log_line(line)
        assert record is not None and record.get("structured"), f"not a structured log record: {record}"
        return
    {"request": protocol.decode_request, "response": protocol.decode_response}[sample.options["of"]](line)
