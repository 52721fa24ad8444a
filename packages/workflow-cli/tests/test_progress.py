"""The run's progress lines and summary table, rendered into a string as Rich's own tests do."""

from __future__ import annotations

import io
import os
import select
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.ui.console import PipedConsole, make_console, make_screen, print_problem
from workflow_cli.ui.progress import RunProgress, print_run_summary
from workflow_plugin_runtime import (
    Failure,
    FailureKind,
    Metrics,
    Problem,
    RunResult,
    RunStatus,
    RuntimeKind,
    Severity,
    TaskResult,
    TaskStatus,
    load_workflow,
)

from .conftest import HOSTILE_CHARACTERS

HOSTILE_TEXT = st.lists(HOSTILE_CHARACTERS, max_size=12).map("".join)


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


def printed_piped_and_by_rich(show) -> tuple[str, str, bool]:
    """What ``show(screen)`` writes on a piped stdout through :func:`make_screen`, and through Rich's console.

    The third value: whether the piped screen went without Rich (it made no console of its own).
    """
    with redirect_stdout(io.StringIO()) as piped:
        screen = make_screen()
        assert isinstance(screen, PipedConsole)
        show(screen)
    with redirect_stdout(io.StringIO()) as by_rich:
        show(make_console())  # the console make_screen gave before: Rich renders everything
    return piped.getvalue(), by_rich.getvalue(), screen._console is None


@pytest.fixture(scope="module")
def summary_workflow(tmp_path_factory):
    path = tmp_path_factory.mktemp("summary") / "flow.yaml"
    path.write_text("name: summary-demo\ntasks:\n  fetch: {uses: a/b.c}\n", encoding="utf-8")
    return load_workflow(path)


@settings(max_examples=100, deadline=None)
@given(
    task_ids=st.lists(HOSTILE_TEXT.filter(bool), min_size=1, max_size=4, unique=True),
    message=HOSTILE_TEXT,
    output=HOSTILE_TEXT,
    run_failure=st.one_of(st.none(), HOSTILE_TEXT),
    record_path=st.one_of(st.none(), HOSTILE_TEXT),
)
def test_the_piped_summary_is_what_rich_prints(summary_workflow, task_ids, message, output, run_failure, record_path):
    """Table, run-level error, outputs and record path: plain text where it can be, Rich's bytes either way."""
    tasks = {
        task_id: TaskResult(
            task_id,
            TaskStatus.FAILED if index % 2 else TaskStatus.SUCCEEDED,
            failure=Failure(FailureKind.ACTION, message) if index % 2 else None,
            metrics=Metrics(0.004 * index, RuntimeKind.PROCESS, 0, warm=index == 2),
            attempts=index + 1,
        )
        for index, task_id in enumerate(task_ids)
    }
    now = time.time()
    result = RunResult(
        "r1",
        summary_workflow,
        RunStatus.FAILED,
        {"out": output, "n": [1, output]},
        tasks,
        now,
        now + 1,
        None if run_failure is None else Failure(FailureKind.TEMPLATE, run_failure),
    )

    piped, by_rich, _ = printed_piped_and_by_rich(
        lambda screen: print_run_summary(screen, result, record_path=record_path)
    )

    assert piped == by_rich


def test_a_plain_summary_and_its_lines_are_written_without_rich(summary_workflow):
    now = time.time()
    tasks = {task.task_id: task for task in results()}
    result = RunResult("r1", summary_workflow, RunStatus.FAILED, {"count": 3}, tasks, now, now + 2, None)

    piped, by_rich, without_rich = printed_piped_and_by_rich(
        lambda screen: print_run_summary(screen, result, record_path="/runs/r1.json")
    )

    assert piped == by_rich
    assert without_rich
    assert piped.splitlines()[:3] == [
        "summary-demo: failed",
        "┏━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃ task    ┃ status  ┃ duration ┃ runtime        ┃ details                         ┃",
    ]


@settings(max_examples=100, deadline=None)
@given(message=HOSTILE_TEXT, hint=st.one_of(st.none(), HOSTILE_TEXT), warning=st.booleans())
def test_a_piped_problem_is_what_rich_prints(message, hint, warning):
    problem = Problem(message, hint=hint, severity=Severity.WARNING if warning else Severity.ERROR)

    piped, by_rich, without_rich = printed_piped_and_by_rich(lambda screen: print_problem(screen, problem))

    assert piped == by_rich
    assert without_rich is ("\t" not in str(problem))  # only a tab, which Rich expands, needs Rich


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
