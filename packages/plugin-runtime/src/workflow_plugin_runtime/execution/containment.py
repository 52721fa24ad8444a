"""What a run does so that trusted plugins can neither outlive it nor read its secrets.

Trusted plugins run as the operator's user, so they could, without this:

- read ``/proc/<engine pid>/environ`` (every ``WORKFLOW_SECRET_*`` exported,
  used or not) or the engine's memory: the engine is made non-dumpable
  while the run lasts (:func:`.runtimes.prctl.set_dumpable`), which closes
  those files and ptrace to processes of the same user without
  ``CAP_SYS_PTRACE``;
- leave a double-forked daemon running: the engine becomes a child
  subreaper, and :mod:`.runtimes.reaper` kills and reaps what each call
  left behind;
- outlive an engine that is itself killed: the run registers in the state
  directory (:mod:`.run_state`) and the next run, or ``workflow clean``,
  removes what it left (:mod:`.leftovers`).

The secret values themselves are all given to the run's masker by the
caller (:func:`.secrets.every_secret`), so one that leaks anyway is masked.
Everywhere but Linux the first two are not available and the run goes on
without them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..runtimes import reaper
from ..runtimes.prctl import dumpable, set_dumpable
from ..runtimes.run_state import register_run, runs_dir, state_root

__all__ = ["contained_run", "non_dumpable"]


@contextlib.contextmanager
def non_dumpable() -> Iterator[bool]:
    """This process non-dumpable inside the block (its previous state after); yields whether that worked."""
    before = dumpable()
    done = before is not None and set_dumpable(False)
    try:
        yield done
    finally:
        if done and before:
            set_dumpable(True)


@contextlib.contextmanager
def contained_run(run_id: str, *, workflow: Path | str, report: Callable[[str], None]) -> Iterator[None]:
    """Wrap a run's plugin calls: clean up after dead runs, register this one, contain its plugins.

    ``report`` receives one line per dead run cleaned up and a warning when
    this run cannot be registered (it then runs, unregistered). Enter it
    before any plugin starts and leave it after every runtime is closed:
    leaving kills and reaps whatever the run's plugins left, then removes
    the registration.
    """
    root = state_root()
    if _has_entries(runs_dir(root)):  # the cleaner loads only when some run is registered, live or dead
        from ..runtimes.leftovers import clean_dead_runs

        for dead in clean_dead_runs(root).cleaned:
            report(dead.summary())
    entry = None
    try:
        entry = register_run(run_id, workflow=workflow, root=root)
    except OSError as exc:
        report(
            f"warning: cannot register the run in {root}: {exc.strerror or exc}; "
            "if it is killed, `workflow clean` will not find what it leaves behind"
        )
    already_subreaper = reaper.enabled()
    subreaper = reaper.enable()
    try:
        with non_dumpable():
            try:
                yield
            finally:
                # Still non-dumpable: a leftover alive until this sweep must never see the engine readable.
                if subreaper:
                    reaper.reap_all()
    finally:
        try:
            if subreaper and not already_subreaper:
                reaper.disable()
        finally:
            if entry is not None:
                entry.close()


def _has_entries(folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False
