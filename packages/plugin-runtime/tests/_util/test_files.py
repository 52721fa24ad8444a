"""Files read with a cap and written atomically: the one implementation the index, caches, manifests and records use."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_plugin_runtime._util.files import read_capped_file, read_capped_file_with_stat, write_file_atomically
from workflow_plugin_runtime.errors import ManifestError, SecretError


def test_a_write_replaces_the_file_privately_in_a_folder_it_makes(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "deeper" / "index.bin"
    write_file_atomically(target, b"first", durable=False, directory_mode=0o700)
    write_file_atomically(target, b"second", durable=True, directory_mode=0o700)
    assert target.read_bytes() == b"second"
    write_file_atomically(target, b"third", durable=True, directory_mode=0o700, ending=b"\n")
    assert target.read_bytes() == b"third\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o077 == 0
    assert sorted(path.name for path in target.parent.iterdir()) == ["index.bin"]


def test_a_write_failing_half_way_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A real EFBIG (file size limit) in a child process, standing in for a disk that fills up mid-write."""
    target = tmp_path / "validators" / "schema.bin"
    write_file_atomically(target, b"old", durable=False)
    script = (
        "import resource, sys\n"
        "from workflow_plugin_runtime._util.files import write_file_atomically\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_file_atomically(sys.argv[1], b'x' * 100_000, durable=False)\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "File too large"
    assert target.read_bytes() == b"old"
    assert [path.name for path in target.parent.iterdir()] == ["schema.bin"]


def test_the_stat_returned_is_that_of_the_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    path.write_bytes(b"name: x\n")
    info, raw = read_capped_file_with_stat(path, error=ManifestError, limit=1024)
    assert raw == b"name: x\n"
    assert (info.st_ino, info.st_size) == (path.stat().st_ino, 8)


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "secrets.env"
    os.mkfifo(fifo)
    with pytest.raises(SecretError, match="is not a regular file") as caught:
        read_capped_file(fifo, error=SecretError, limit=1024, what="secrets file")
    assert caught.value.hint == "give the path of a secrets file; a device, FIFO or socket cannot be read as one"


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(ManifestError, match=r"the file is too large \(2048 bytes; the limit is 1024\)"):
        read_capped_file(path, error=ManifestError, limit=1024)
