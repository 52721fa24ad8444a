"""Live progress of a run, and its summary table.

On a terminal a Rich live view at the bottom shows the tasks running now and
counts by state, while finished tasks and plugin log lines scroll above it;
elsewhere (CI logs, pipes) each event is one plain line. Either way the
cost per event is constant, so a 10,000-task run is not slowed by its own
display. Everything shown is already masked by the runtime; the view never
sees a secret. Task ids, messages, log lines, names and outputs are shown
with their control characters neutralised (:func:`~workflow_cli.ui.console.plain`
for Rich's text), never as markup. Rich is imported only where it draws: a
run whose output is piped (:class:`.console.PipedConsole`) writes its lines
and its summary table as plain text (:mod:`.plain_table`) and never loads it.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter

from workflow_plugin_runtime import TaskStatus, neutralise_controls

from .console import PipedConsole, plain, print_parts, print_unfolded, rich_console, write_plainly
from .plain_table import HEAVY_HEAD, rich_table, table_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console, Group
    from rich.live import Live

    from workflow_plugin_runtime import RunResult, TaskResult
    from workflow_plugin_sdk.protocol import LogRecord

    from .console import Screen

__all__ = ["RunProgress", "print_run_summary"]

_STATUS_STYLE = {
    TaskStatus.SUCCEEDED: ("ok", "green"),
    TaskStatus.FAILED: ("FAILED", "bold red"),
    TaskStatus.SKIPPED: ("skipped", "yellow"),
    TaskStatus.CANCELLED: ("cancelled", "magenta"),
    TaskStatus.RUNNING: ("running", "cyan"),
}
_LABEL_STYLE = dict(_STATUS_STYLE.values())
_SUMMARY_HEADERS = ("task", "status", "duration", "runtime", "details")
_LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "red"}
_SHOWN_RUNNING = 10
_SUMMARY_ROWS = 50
_FLUSH_EVERY_S = 0.05
"""Plain lines reach their pipe or file at most this long after they are written (one write for all of them)."""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class RunProgress:
    """A :class:`~workflow_plugin_runtime.RunObserver` that draws on ``console``."""

    def __init__(self, console: Screen, *, total: int, show_logs: bool = True) -> None:
        self.console = console
        self.total = total
        self.show_logs = show_logs
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}
        self._counts: Counter[TaskStatus] = Counter()
        self._live: Live | None = None
        if not isinstance(console, PipedConsole) and console.is_terminal:
            from rich.live import Live

            self._live = Live(console=console, refresh_per_second=8, transient=True, get_renderable=self._render)
        # Not a terminal and never wrapping (a pipe, a CI log): Rich would write each line's plain text as it is
        # (no styles, no folding) but take ~0.1 ms to render it, more than a warm task's own cost.
        self._plain_file = console.file if not console.is_terminal and console.soft_wrap else None
        # Flushed by a thread of their own, in batches: a flush per line is a system call, and a wake-up of
        # whatever reads the pipe, per line (two lines a task, as much as a warm task's own cost).
        self._unflushed = threading.Event()
        self._ended = threading.Event()
        self._flusher: threading.Thread | None = None
        self._buffering: tuple[bool, bool] | None = None  # the stream's own (line_buffering, write_through)

    def __enter__(self) -> RunProgress:
        if self._live is not None:
            self._live.start()
        if self._plain_file is not None:
            self._hold_lines(self._plain_file)
            self._flusher = threading.Thread(target=self._flush_regularly, name="progress-flush", daemon=True)
            self._flusher.start()
        return self

    def _hold_lines(self, stream: object) -> None:
        """Let written lines wait for the next flush: ``sys.stderr`` writes each line at once otherwise.

        It is line-buffered, or with ``PYTHONUNBUFFERED`` written through, so
        a write per line would still be a system call per line. Everything
        else written to the same stream (warnings, Rich's output) shares its
        buffer and keeps its order; Rich and ``echo`` flush after they write.
        """
        if isinstance(stream, io.TextIOWrapper) and (stream.line_buffering or stream.write_through):
            self._buffering = (stream.line_buffering, stream.write_through)
            stream.reconfigure(line_buffering=False, write_through=False)

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.stop()
        if self._flusher is not None:
            self._ended.set()
            self._unflushed.set()
            self._flusher.join()
            self._flusher = None
            self._flush()
        if self._buffering is not None and isinstance(self._plain_file, io.TextIOWrapper):
            line_buffering, write_through = self._buffering
            self._plain_file.reconfigure(line_buffering=line_buffering, write_through=write_through)  # flushes first
            self._buffering = None

    def _flush_regularly(self) -> None:
        while not self._ended.is_set():
            self._unflushed.wait()
            self._ended.wait(_FLUSH_EVERY_S)  # what else comes meanwhile goes in the same write
            self._unflushed.clear()
            self._flush()

    def _flush(self) -> None:
        if self._plain_file is not None:
            self._plain_file.flush()

    def task_started(self, task_id: str, attempt: int) -> None:
        if self._live is None:  # only the live view shows what runs now
            again = f" (attempt {attempt})" if attempt > 1 else ""
            shown = neutralise_controls(task_id)
            if not self._write_plain(f"▶ {shown}{again}"):
                self._print(("▶ ", "cyan"), (shown, ""), (again, ""))
            return
        with self._lock:
            self._running[task_id] = time.monotonic()

    def task_log(self, task_id: str, record: LogRecord) -> None:
        if not self.show_logs:
            return
        level = record.get("level", "info")
        self._print(
            (neutralise_controls(f"  {task_id} | "), "dim"),
            (neutralise_controls(record.get("message", "")), _LEVEL_STYLE.get(level, "")),
        )

    def task_finished(self, result: TaskResult) -> None:
        status = result.status
        if self._live is not None:  # its counts and running tasks are the live view's only
            with self._lock:
                self._running.pop(result.task_id, None)
                self._counts[status] += 1
        label, style = _STATUS_STYLE.get(status) or (status.value, "")  # an Enum's value is a Python call: when needed
        metrics = result.metrics
        duration = _duration(metrics.duration_s if metrics is not None else None)
        detail = ""
        if result.failure is not None:
            detail = neutralise_controls(f"  {result.failure.kind.value}: {result.failure.message}")
        elif result.reason:
            detail = neutralise_controls(f"  {result.reason}")
        shown = neutralise_controls(result.task_id)
        if not self._write_plain(f"{label:>9} {shown}  {duration}{detail}"):
            self._print((f"{label:>9} ", style), (shown, ""), (f"  {duration}", "dim"), (detail, ""))

    def _write_plain(self, text: str) -> bool:
        """Write a line straight to a plain stream (True), unless there is none or it holds a tab, which Rich expands.

        Flushed within :data:`_FLUSH_EVERY_S`; ``text`` is neutralised already.
        """
        if self._plain_file is None or "\t" in text:
            return False
        self._plain_file.write(text + "\n")  # one write: lines from several threads never interleave
        if self._flusher is None:
            self._plain_file.flush()
        elif not self._unflushed.is_set():
            self._unflushed.set()
        return True

    def _print(self, *parts: tuple[str, str]) -> None:
        """A line that stays, from (text, style) parts whose outside text is neutralised already.

        Above the live view on a terminal; elsewhere as it comes (:meth:`_write_plain`).
        """
        if self._write_plain("".join(part for part, _ in parts)):
            return
        from rich.text import Text

        line = Text.assemble(*parts)  # styles from our own code only; never markup
        (self._live.console if self._live is not None else self.console).print(line)

    def _render(self) -> Group:
        from rich.console import Group
        from rich.text import Text

        with self._lock:
            now = time.monotonic()
            running = sorted(self._running.items(), key=lambda item: item[1])[:_SHOWN_RUNNING]
            done = sum(self._counts.values())
            counts = ", ".join(f"{count} {status.value}" for status, count in sorted(self._counts.items()))
        header = Text.assemble(("workflow ", "bold"), f"{done}/{self.total} done", (f"  {counts}" if counts else ""))
        rows = [
            Text.assemble(("  running ", "cyan"), plain(task_id), (f"  {now - since:.1f} s", "dim"))
            for task_id, since in running
        ]
        more = len(self._running) - len(running)
        if more > 0:
            rows.append(Text(f"  ... and {more} more running", style="dim"))
        return Group(header, *rows)


def print_run_summary(console: Screen, result: RunResult, *, record_path: str | None = None) -> None:
    """The table every run ends with; long runs show failures first and fold the successes.

    On a terminal a long cell wraps inside its column; piped, the table
    takes its natural width and no cell is folded (:func:`.console.print_unfolded`),
    and is written as plain text where :func:`.plain_table.table_text` can.
    """
    tasks = list(result.tasks.values())
    tasks.sort(key=lambda task: task.status is TaskStatus.SUCCEEDED)
    title = neutralise_controls(f"{result.workflow.name}: {result.status.value}")
    rows = [_summary_row(task) for task in tasks[:_SUMMARY_ROWS]]
    if len(tasks) > _SUMMARY_ROWS:
        rows.append((f"... {len(tasks) - _SUMMARY_ROWS} more", "", "", "", ""))
    table = None
    if isinstance(console, PipedConsole):
        table = table_text([_SUMMARY_HEADERS, *rows], box=HEAVY_HEAD, title=title)
    if table is not None:
        write_plainly(console.file, table)
    else:
        _print_summary_table(rich_console(console), title, rows)
    if result.failure is not None:  # a run-level error: every task may have succeeded
        failure = neutralise_controls(f"{result.failure.kind.value}: {result.failure.message}")
        print_parts(console, ("error: ", "bold red"), (failure, ""))
    if result.outputs:
        print_parts(console, ("outputs:", "bold"))
        for name, value in result.outputs.items():
            print_parts(console, (neutralise_controls(f"  {name}: {_short(value)}"), ""))
    if record_path is not None:
        print_parts(console, (neutralise_controls(f"run record: {record_path}"), "dim"))


def _print_summary_table(console: Console, title: str, rows: Sequence[tuple[str, ...]]) -> None:
    from rich.text import Text

    table = rich_table(HEAVY_HEAD, title=title)
    for column in _SUMMARY_HEADERS:
        table.add_column(column, overflow="fold")
    for row in rows:
        task_id, label, *rest = row
        table.add_row(Text(task_id), Text(label, style=_LABEL_STYLE.get(label, "")), *map(Text, rest))
    print_unfolded(console, table)


def _summary_row(task: TaskResult) -> tuple[str, str, str, str, str]:
    """The task's cells as shown (neutralised)."""
    label, _ = _STATUS_STYLE.get(task.status, (task.status.value, ""))
    metrics = task.metrics
    detail = ""
    if task.failure is not None:
        detail = f"{task.failure.kind.value}: {task.failure.message}"
    elif task.reason:
        detail = task.reason
    elif task.attempts > 1:
        detail = f"succeeded on attempt {task.attempts}"
    warm = " (warm)" if metrics is not None and metrics.warm else ""
    runtime = f"{metrics.runtime.value}{warm}" if metrics is not None else "-"
    duration = _duration(metrics.duration_s if metrics is not None else None)
    return neutralise_controls(task.task_id), label, duration, runtime, neutralise_controls(detail)


def _short(value: object, limit: int = 200) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
