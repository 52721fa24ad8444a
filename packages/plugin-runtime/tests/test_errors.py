"""Problem, SourceLocation and Failure behave as the frozen slotted dataclasses they were (now FrozenRecords)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import Failure, FailureKind, Problem, Severity, SourceLocation


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLocationAsDataclass:
    file: Path | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProblemAsDataclass:
    message: str
    location: SourceLocationAsDataclass | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR


@dataclasses.dataclass(frozen=True, slots=True)
class FailureAsDataclass:
    kind: FailureKind
    message: str
    exit_code: int | None = None
    stderr_tail: str = ""
    retryable: bool = False
    error_type: str | None = None
    stdout_head: str = ""


def test_problem_equality_hash_and_repr_are_a_dataclass_s() -> None:
    where = SourceLocation(Path("flow.yaml"), 3, 7, "tasks.a")
    problem = Problem("bad value", where, "use a number")
    reference = ProblemAsDataclass(
        "bad value", SourceLocationAsDataclass(Path("flow.yaml"), 3, 7, "tasks.a"), "use a number"
    )

    assert problem == Problem("bad value", location=where, hint="use a number", severity=Severity.ERROR)
    assert hash(problem) == hash(
        Problem("bad value", SourceLocation(Path("flow.yaml"), 3, 7, "tasks.a"), "use a number")
    )
    assert problem != problem.replace(severity=Severity.WARNING)
    assert repr(problem) == repr(reference).replace("AsDataclass", "")
    assert str(problem) == "flow.yaml:3:7: tasks.a: bad value\n  hint: use a number"


def test_failure_keeps_its_positional_constructor_equality_and_repr() -> None:
    failure = Failure(FailureKind.ACTION, "boom", 3, "trace", True, "ValueError", "head")
    reference = FailureAsDataclass(FailureKind.ACTION, "boom", 3, "trace", True, "ValueError", "head")

    assert repr(failure) == repr(reference).replace("FailureAsDataclass", "Failure")
    assert failure == Failure(kind=FailureKind.ACTION, message="boom", exit_code=3, stderr_tail="trace",
                              retryable=True, error_type="ValueError", stdout_head="head")  # fmt: skip
    assert hash(failure) == hash(dataclasses.astuple(reference))
    assert failure.to_record() == {
        "kind": "action", "message": "boom", "type": "ValueError", "exit_code": 3, "stderr_tail": "trace",
        "retryable": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "record",
    [
        SourceLocation(Path("a.yaml"), 1),
        Problem("warned", SourceLocation(field="x"), severity=Severity.WARNING),
        Failure(FailureKind.TIMEOUT, "too slow", exit_code=-9),
    ],
    ids=["location", "problem", "failure"],
)
def test_records_pickle_copy_and_refuse_assignment(record: SourceLocation | Problem | Failure) -> None:
    assert pickle.loads(pickle.dumps(record)) == record  # noqa: S301 - our own bytes
    assert copy.deepcopy(record) == record
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.message = "changed"  # type: ignore[misc,union-attr]
    assert not hasattr(record, "__dict__")


def test_replace_derives_a_changed_copy_and_refuses_unknown_fields() -> None:
    failure = Failure(FailureKind.CRASHED, "died", stdout_head="junk")

    changed = failure.replace(message="died; it wrote: 'junk'", stdout_head="")

    assert changed == Failure(FailureKind.CRASHED, "died; it wrote: 'junk'")
    assert failure.stdout_head == "junk"
    with pytest.raises(TypeError, match="messages"):
        failure.replace(messages="x")
