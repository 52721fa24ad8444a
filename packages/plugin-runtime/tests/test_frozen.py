"""FrozenRecord behaves like the frozen slotted dataclass it replaces on the resolve path."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflow_plugin_runtime._frozen import FrozenRecord
from workflow_plugin_runtime.config import PoolSettings, RuntimeKind
from workflow_plugin_runtime.execution.task_executor import PluginTask
from workflow_plugin_runtime.plugins.manifest import Access, Capabilities, FilesystemNeed
from workflow_plugin_runtime.plugins.manifest_loading import load_manifest
from workflow_plugin_runtime.plugins.references import ActionRef, PluginRef
from workflow_plugin_runtime.runtimes.base import Invocation, Metrics, ResourceLimits
from workflow_plugin_runtime.workflows.permissions import SecurityMode
from workflow_plugin_runtime.workflows.templates import Placeholder, Scope

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"


@dataclasses.dataclass(frozen=True, slots=True)
class PoolSettingsAsDataclass:
    size: int = 1
    idle_timeout: float = 60.0
    recycle_after: int = 1000


def test_equality_hash_and_repr_match_a_dataclass() -> None:
    record, twin = PoolSettings(size=2), PoolSettings(2, 60.0, 1000)
    reference = PoolSettingsAsDataclass(size=2)
    assert record == twin and hash(record) == hash(twin)
    assert record != PoolSettings(size=3)
    assert repr(record) == repr(reference).replace("PoolSettingsAsDataclass", "PoolSettings")
    assert record != reference  # different classes never compare equal, as with dataclasses
    assert record.__match_args__ == ("size", "idle_timeout", "recycle_after")


def test_assignment_and_deletion_raise_frozen_instance_error() -> None:
    need = FilesystemNeed("/data")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'path'"):
        need.path = "/other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'path'"):
        del need.path
    with pytest.raises(AttributeError):
        need.extra = 1
    assert not hasattr(need, "__dict__")


def test_order_true_sorts_like_a_tuple_of_fields() -> None:
    refs = [PluginRef("b", "a"), PluginRef("a", "z"), PluginRef("a", "b")]
    assert sorted(refs) == [PluginRef("a", "b"), PluginRef("a", "z"), PluginRef("b", "a")]
    assert PluginRef("a", "b") <= PluginRef("a", "b") < PluginRef("a", "c")
    with pytest.raises(TypeError):
        _ = ActionRef("a", "b", "c") < ActionRef("a", "b", "d")  # type: ignore[operator]  # not ordered


def test_match_statement_uses_the_fields_in_order() -> None:
    match ActionRef("acme", "http", "get"):
        case ActionRef(namespace, name, action):
            assert (namespace, name, action) == ("acme", "http", "get")
        case _:
            pytest.fail("the class pattern did not match")


def test_pickle_and_copy_round_trip() -> None:
    caps = Capabilities(network=True, filesystem=(FilesystemNeed("/out", Access.READ_WRITE),), env=("HOME",))
    assert pickle.loads(pickle.dumps(caps)) == caps  # noqa: S301 - our own object, pickled in the test
    assert copy.copy(caps) == caps and copy.deepcopy(caps) == caps


def test_manifest_version_is_parsed_when_first_read_and_counts_in_equality() -> None:
    manifest = load_manifest(FIXTURES / "acme-http")
    assert str(manifest.version) == "1.2.0"
    assert manifest.version is manifest.version
    assert "version=<Version('1.2.0')>" in repr(manifest)
    assert manifest.__match_args__[:3] == ("namespace", "name", "version")


def test_uncompared_fields_are_left_out_of_equality_and_hash_but_kept_everywhere_else() -> None:
    first, moved = Placeholder(Scope.VARS, "name", (), 3), Placeholder(Scope.VARS, "name", (), 9)
    assert first == moved and hash(first) == hash(moved)
    assert first != Placeholder(Scope.VARS, "other", (), 3)
    assert "column=9" in repr(moved)
    assert pickle.loads(pickle.dumps(moved)).column == 9  # noqa: S301 - our own bytes
    assert copy.copy(moved).column == 9


def test_replace_makes_a_changed_copy_as_dataclasses_replace_does() -> None:
    record = PoolSettings(size=2)
    reference = PoolSettingsAsDataclass(size=2)

    changed = record.replace(recycle_after=5)

    assert changed == PoolSettings(2, 60.0, 5) and record == PoolSettings(size=2)
    assert repr(changed).split("(")[1] == repr(dataclasses.replace(reference, recycle_after=5)).split("(")[1]
    with pytest.raises(TypeError, match="sizes"):
        record.replace(sizes=3)


def test_replace_runs_the_constructor_s_checks() -> None:
    call = Invocation(kind=RuntimeKind.DOCKER, plugin_ref="acme/http", request={}, image="acme/http:1")
    with pytest.raises(ValueError, match="needs an image"):
        call.replace(image=None)
    assert call.replace(timeout_s=2.0).timeout_s == 2.0
    assert call.replace(timeout_s=2.0).limits == ResourceLimits()


def test_a_keyword_only_record_pickles_and_copies_by_name() -> None:
    cancel = threading.Event()
    call = Invocation(kind=RuntimeKind.DOCKER, plugin_ref="acme/http", request={}, image="acme/http:1", env={"A": "1"})

    assert pickle.loads(pickle.dumps(call)) == call  # noqa: S301 - our own bytes
    assert copy.copy(call.replace(cancel=cancel)).cancel is cancel
    assert call.replace(cancel=cancel) == call  # the cancel event is not compared, as field(compare=False) did


def test_unshown_fields_are_left_out_of_the_repr_only() -> None:
    task = PluginTask(
        ref="acme/http.get",
        inputs={"token": "s3cret-value"},
        task_id="t",
        context={},
        security=SecurityMode.TRUSTED,
        env={"TOKEN": "s3cret-env"},
    )

    assert "s3cret" not in repr(task)
    assert repr(task).startswith("PluginTask(ref='acme/http.get', task_id='t', context={}, ")
    assert task.inputs == {"token": "s3cret-value"} and task.env == {"TOKEN": "s3cret-env"}
    assert pickle.loads(pickle.dumps(task)) == task  # noqa: S301 - our own bytes


def test_a_positional_record_keeps_its_positional_constructor() -> None:
    metrics = Metrics(1.5, RuntimeKind.PROCESS, exit_code=0)
    assert pickle.loads(pickle.dumps(metrics)) == metrics  # noqa: S301 - our own bytes
    assert metrics.replace(worker="tcp://127.0.0.1:1").worker == "tcp://127.0.0.1:1"


def _records(cls: type[FrozenRecord]) -> Iterator[type[FrozenRecord]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _records(subclass)


def test_every_record_whose_constructor_takes_a_field_by_keyword_only_pickles_by_name() -> None:
    # A record with one keyword-only parameter cannot be rebuilt from positional values (Config was one).
    package = importlib.import_module("workflow_plugin_runtime")
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
    by_keyword = [
        record
        for record in _records(FrozenRecord)
        if record.__module__.startswith("workflow_plugin_runtime.")
        and any(p.kind is p.KEYWORD_ONLY for p in inspect.signature(record.__init__).parameters.values())
    ]

    assert by_keyword  # Invocation, PluginTask, Config...
    assert [record for record in by_keyword if not record._keyword_only] == []
