"""Masking throughput: a 10 MB log with 20 secrets, against the floor of reading the same 10 MB.

Run: .venv/bin/python benchmarks/bench_masking.py [--repeat N]

Floors measured in the same run: reading the log from a file (page cache
warm) and one C-speed scan of it (``str.count``). The masker is timed on the
whole text and as a stream in 64 KiB chunks and in lines (a plugin's stderr).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from workflow_plugin_runtime.masking import Masker

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


def median_time(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(20240501)
    secrets = make_secrets(rng)
    text = make_log(rng, secrets)
    megabytes = len(text.encode()) / 1e6

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.log"
        path.write_text(text, encoding="utf-8")
        read_s = median_time(lambda: path.read_text(encoding="utf-8"), args.repeat * 4)
    scan_s = median_time(lambda: text.count("\x00zz"), args.repeat * 4)

    build_s = median_time(lambda: Masker(secrets), args.repeat)
    masker = Masker(secrets)
    masked = masker.mask(text)
    assert not any(value in masked for value in secrets.values())
    whole_s = median_time(lambda: masker.mask(text), args.repeat)

    regex_only = Masker({**secrets, "SHORT": "x9!k2"})
    regex_s = median_time(lambda: regex_only.mask(text), max(1, args.repeat // 2))

    chunks = [text[i : i + 65536] for i in range(0, len(text), 65536)]
    lines = text.splitlines(keepends=True)

    def stream(pieces: list[str]) -> Callable[[], str]:
        def run() -> str:
            masking = masker.stream()
            out = [masking.feed(piece) for piece in pieces]
            out.append(masking.flush())
            return "".join(out)

        return run

    assert stream(chunks)() == masked
    chunk_s = median_time(stream(chunks), args.repeat)
    line_s = median_time(stream(lines), args.repeat)

    print(f"log: {megabytes:.1f} MB, {len(lines)} lines, {SECRETS} secrets; median of {args.repeat} runs")
    print(f"{'measure':<44}{'time':>10}{'MB/s':>10}{'x read':>10}")
    rows = [
        ("floor: read the file (page cache)", read_s),
        ("floor: one C scan (str.count)", scan_s),
        ("Masker(20 secrets) construction", build_s),
        ("mask() the whole text", whole_s),
        ("mask(), regex only (+1 secret of 5 chars)", regex_s),
        ("stream, 64 KiB chunks", chunk_s),
        (f"stream, line by line ({len(lines)} feeds)", line_s),
    ]
    for label, seconds in rows:
        rate = "" if "construction" in label else f"{megabytes / seconds:10.1f}"
        print(f"{label:<44}{seconds * 1000:8.1f}ms{rate:>10}{seconds / read_s:10.1f}")


if __name__ == "__main__":
    main()
