"""Masking throughput: a 10 MB log with 20 secrets, against the floor of reading the same 10 MB.

Run: .venv/bin/python benchmarks/bench_masking.py [--repeat N]

Floors measured in the same run: reading the log from a file (page cache
warm) and one C-speed scan of it (``str.count``). Each matcher (hyperscan,
and the pure-Python regex fallback) is timed on the whole text (with its
secrets, and once masked, so without any), as a stream
in 64 KiB chunks and in lines (a plugin's stderr), on one 100-byte log line
at a time (how log records are masked), and with a 5-character secret added
(which turns off the regex matcher's word filter).

Each row also shows the minor page faults of a run (median): a masked 10 MB
text is a new 10 MB string, and whether it lands on pages the process
already touched depends on the allocator's history, not on the masker; a
row with thousands of faults measures fresh memory as much as masking.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import resource
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from _shared import parse_args_with_quick

from workflow_plugin_runtime import Masker, MatchBackend

SIZE = 10 * 1024 * 1024
SECRETS = 20
WORDS = ["GET", "POST", "/api/v1/items", "status=200", "user=alice", "duration_ms=12", "INFO", "DEBUG", "cache", "ok"]


def make_secrets(rng: random.Random) -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "-_/+=!@"
    return {f"SECRET_{i}": "".join(rng.choices(alphabet, k=rng.randint(16, 48))) for i in range(SECRETS)}


def make_log(rng: random.Random, secrets: dict[str, str]) -> str:
    """Log-like lines with hex ids and base64 blobs; one line in 2,000 carries a secret in some encoding."""
    values = list(secrets.values())
    encoders: list[Callable[[str], str]] = [
        lambda s: s,
        lambda s: json.dumps(s)[1:-1],
        lambda s: quote(s, safe=""),
        lambda s: s.encode().hex(),
        lambda s: base64.b64encode(b"user:" + s.encode()).decode(),
    ]
    lines: list[str] = []
    size = 0
    while size < SIZE:
        words = " ".join(rng.choices(WORDS, k=8))
        blob = base64.b64encode(rng.randbytes(12)).decode()
        stamp = f"2024-05-01T12:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
        line = f"{stamp} {words} req={rng.getrandbits(64):016x} b={blob}"
        if rng.randrange(2000) == 0:
            line += " token=" + rng.choice(encoders)(rng.choice(values))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:SIZE]


Timing = tuple[float, int]
"""Median seconds of a run and the median number of minor page faults in it."""


def median_time(action: Callable[[], object], repeat: int) -> Timing:
    """The faults say whether a run's new strings landed on fresh pages (see docs/performance.md, Masking)."""
    timings = []
    faults = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(timings), int(statistics.median(faults))


def per_call(action: Callable[[], object], calls: int, repeat: int) -> Timing:
    """Seconds per call of a fast action, timed in batches so the clock's resolution does not count."""

    def batch() -> None:
        for _ in range(calls):
            action()

    seconds, faults = median_time(batch, repeat)
    return seconds / calls, faults // calls


def stream_through(masker: Masker, pieces: list[str]) -> Callable[[], str]:
    def run() -> str:
        masking = masker.stream()
        out = [masking.feed(piece) for piece in pieces]
        out.append(masking.flush())
        return "".join(out)

    return run


def measure_backend(
    backend: MatchBackend, secrets: dict[str, str], text: str, repeat: int
) -> list[tuple[str, Timing, float | None]]:
    """Rows of (label, seconds, megabytes or None) for one matcher."""
    megabytes = len(text.encode()) / 1e6
    name = backend.value
    masker = Masker(secrets, backend=backend)
    assert masker.backend is backend, f"{name} is not available here"
    masked = masker.mask(text)
    assert not any(value in masked for value in secrets.values())
    assert masker.mask(masked) is masked
    chunks = [text[i : i + 65536] for i in range(0, len(text), 65536)]
    lines = text.splitlines(keepends=True)
    assert stream_through(masker, chunks)() == masked
    line = next(line for line in lines if len(line) >= 100)[:100]
    with_short = Masker({**secrets, "SHORT": "x9!k2"}, backend=backend)
    slow = backend is MatchBackend.REGEX
    return [
        (
            f"{name}: Masker(20 secrets) construction",
            median_time(lambda: Masker(secrets, backend=backend), repeat),
            None,
        ),
        (f"{name}: mask() the whole text", median_time(lambda: masker.mask(text), repeat), megabytes),
        (
            f"{name}: mask() the whole text, no secret in it",
            median_time(lambda: masker.mask(masked), repeat),
            megabytes,
        ),
        (f"{name}: stream, 64 KiB chunks", median_time(stream_through(masker, chunks), repeat), megabytes),
        (
            f"{name}: stream, line by line ({len(lines)} feeds)",
            median_time(stream_through(masker, lines), repeat),
            megabytes,
        ),
        (f"{name}: mask() one 100-byte line", per_call(lambda: masker.mask(line), 20000, repeat), 100 / 1e6),
        (
            f"{name}: mask() whole, +1 secret of 5 chars",
            median_time(lambda: with_short.mask(text), max(1, repeat // 2) if slow else repeat),
            megabytes,
        ),
        (
            f"{name}: mask() line, +1 secret of 5 chars",
            per_call(lambda: with_short.mask(line), 20000, repeat),
            100 / 1e6,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parse_args_with_quick(parser, repeat=1)
    rng = random.Random(20240501)
    secrets = make_secrets(rng)
    text = make_log(rng, secrets)
    megabytes = len(text.encode()) / 1e6

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.log"
        path.write_text(text, encoding="utf-8")
        read = median_time(lambda: path.read_text(encoding="utf-8"), args.repeat * 4)
    read_s = read[0]
    scan = median_time(lambda: text.count("\x00zz"), args.repeat * 4)

    rows: list[tuple[str, Timing, float | None]] = [
        ("floor: read the file (page cache)", read, megabytes),
        ("floor: one C scan (str.count)", scan, megabytes),
    ]
    backends = [MatchBackend.HYPERSCAN, MatchBackend.REGEX]
    if Masker({"S": "probe-secret"}).backend is not MatchBackend.HYPERSCAN:
        print("hyperscan is not available here: measuring the regex matcher only")
        backends.remove(MatchBackend.HYPERSCAN)
    for backend in backends:
        rows += measure_backend(backend, secrets, text, args.repeat)

    lines = text.count("\n") + 1
    print(f"log: {megabytes:.1f} MB, {lines} lines, {SECRETS} secrets; median of {args.repeat} runs")
    print(f"{'measure':<52}{'time':>12}{'MB/s':>10}{'x read':>10}{'faults':>8}")
    for label, (seconds, faults), size in rows:
        shown = f"{seconds * 1e6:8.2f} us" if seconds < 1e-3 else f"{seconds * 1000:8.1f} ms"
        rate = "" if size is None else f"{size / seconds:10.1f}"
        ratio = "" if size is None else f"{seconds / (read_s * size / megabytes):10.2f}"
        print(f"{label:<52}{shown:>12}{rate:>10}{ratio:>10}{faults:>8}")


if __name__ == "__main__":
    main()
