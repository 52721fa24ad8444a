"""The run's progress lines and summary table, rendered into a string as Rich's own tests do."""

from __future__ import annotations

import io
import os
import select
import time
from pathlib import Path

from workflow_cli.ui.console import make_console
from workflow_cli.ui.progress import RunProgress, print_run_summary
from workflow_plugin_runtime import (
    Failure,
    FailureKind,
    Metrics,
    RunResult,
    RunStatus,
    RuntimeKind,
    TaskResult,
    TaskStatus,
    load_workflow,
)


def console_and_buffer() -> tuple[object, io.StringIO]:
    buffer = io.StringIO()
    return make_console(file=buffer, width=100), buffer


def results() -> list[TaskResult]:
    return [
        TaskResult("fetch", TaskStatus.SUCCEEDED, outputs={"n": 1}, metrics=Metrics(0.081, RuntimeKind.PROCESS, 0)),
        TaskResult(
            "render",
            TaskStatus.FAILED,
            failure=Failure(FailureKind.ACTION, "the template is broken"),
            metrics=Metrics(1.5, RuntimeKind.PROCESS, 1, warm=True),
        ),
        TaskResult("publish", TaskStatus.SKIPPED, reason="skipped because 'render' failed"),
    ]


def test_plain_progress_prints_one_line_per_event():
    console, buffer = console_and_buffer()
    with RunProgress(console, total=3) as progress:
        progress.task_started("fetch", 1)
        progress.task_log("fetch", {"level": "info", "message": "got 1 page"})
        for result in results():
            progress.task_finished(result)
        progress.task_started("render", 2)
    assert buffer.getvalue().splitlines() == [
        "▶ fetch",
        "  fetch | got 1 page",
        "       ok fetch  81 ms",
        "   FAILED render  1.50 s  action: the template is broken",
        "  skipped publish  -  skipped because 'render' failed",
        "▶ render (attempt 2)",
    ]


def feed_events(progress: RunProgress) -> None:
    """Events whose lines hold what plain text may not show as is: controls, a tab, wide characters, a long line."""
    progress.task_started("fetch\x1b[2J", 1)
    progress.task_log("fetch\x1b[2J", {"level": "warning", "message": "col1\tcol2 \u202eevil\r 漢字 " + "x" * 300})
    progress.task_log("fetch\x1b[2J", {"level": "info", "message": "two\nlines  "})
    for result in results():
        progress.task_finished(result)
    progress.task_started("render", 3)


def test_progress_into_a_pipe_is_written_as_rich_would_print_it():
    """Into a stream that is not a terminal the lines bypass Rich's rendering; the text is the same."""
    rich_buffer = io.StringIO()
    reference = make_console(file=rich_buffer, width=10_000)  # Rich renders it, wide enough that nothing folds
    piped, piped_buffer = console_and_buffer()
    piped.soft_wrap = True  # as make_console sets it for stdout or stderr when they are not a terminal
    for console in (reference, piped):
        with RunProgress(console, total=3) as progress:
            feed_events(progress)
    written = piped_buffer.getvalue()
    assert written == rich_buffer.getvalue()
    assert "fetch\\x1b[2J" in written and "\\u202eevil\\x0d" in written and "\t" not in written
    assert written.splitlines()[-1] == "▶ render (attempt 3)"


def test_lines_into_a_pipe_arrive_while_the_run_goes_on_and_all_are_there_at_its_end():
    """Flushed in batches by the view's own thread: a line never waits for the next one, nor for the run's end."""
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "w", encoding="utf-8") as writer:
        console = make_console(file=writer, width=100)
        console.soft_wrap = True  # as make_console sets it for stdout or stderr when they are not a terminal
        with RunProgress(console, total=3) as progress:
            progress.task_started("fetch", 1)
            assert select.select([reader], [], [], 10)[0], "the started line did not reach the pipe"
            assert os.read(read_end, 4096) == "▶ fetch\n".encode()
            for result in results():
                progress.task_finished(result)
        writer.close()
        rest = reader.read().decode()
    assert rest.splitlines() == [
        "       ok fetch  81 ms",
        "   FAILED render  1.50 s  action: the template is broken",
        "  skipped publish  -  skipped because 'render' failed",
    ]


def test_the_summary_puts_failures_first_and_shows_outputs(tmp_path: Path):
    path = tmp_path / "flow.yaml"
    path.write_text("name: demo\ntasks:\n  fetch: {uses: a/b.c}\n", encoding="utf-8")
    now = time.time()
    result = RunResult(
        run_id="r1",
        workflow=load_workflow(path),
        status=RunStatus.FAILED,
        outputs={"count": 3},
        tasks={task.task_id: task for task in results()},
        started_at=now,
        finished_at=now + 2,
    )
    console, buffer = console_and_buffer()
    print_run_summary(console, result, record_path="/runs/r1.json")
    text = buffer.getvalue()
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["render", "publish", "fetch"]
    assert "process (warm)" in text
    assert "action: the template is broken" in text
    assert text.splitlines()[0].rstrip() == "demo: failed"
    assert "  count: 3" in text
    assert text.rstrip().endswith("run record: /runs/r1.json")


class _CountedWrites(io.FileIO):
    """A real file descriptor that counts the writes reaching it: each one is a system call."""

    writes = 0

    def write(self, data: object) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)  # type: ignore[arg-type]


def test_lines_into_a_written_through_stream_go_out_in_batches_and_its_buffering_comes_back(tmp_path: Path):
    """``sys.stderr`` writes each line as it comes (line-buffered, or written through): the view batches them."""
    raw = _CountedWrites(tmp_path / "progress.txt", "w")
    stream = io.TextIOWrapper(raw, encoding="utf-8", line_buffering=True, write_through=True)  # as under -u
    console = make_console(file=stream, width=100)
    console.soft_wrap = True
    events = 300
    with RunProgress(console, total=events) as progress:
        for index in range(events):
            progress.task_finished(TaskResult(f"t{index}", TaskStatus.SUCCEEDED, outputs={}))
    assert (stream.line_buffering, stream.write_through) == (True, True)
    stream.close()
    lines = (tmp_path / "progress.txt").read_text(encoding="utf-8").splitlines()
    assert lines == [f"       ok t{index}  -" for index in range(events)]
    assert raw.writes < events / 10, f"{raw.writes} writes for {events} lines"
