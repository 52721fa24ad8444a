"""Reaching a cluster: plain TCP only on this machine, TLS complete or refused, a missing scheduler reported."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from workflow_plugin_runtime.config import ExecutorKind, ExecutorSettings
from workflow_plugin_runtime.errors import ConfigError, RuntimeUnavailableError
from workflow_plugin_runtime.execution.dask.cluster import CONNECT_TIMEOUT_S, connected_client, refuse_insecure

pytestmark = pytest.mark.dask


@pytest.mark.parametrize("address", ["tcp://192.0.2.10:8786", "tcp://scheduler.example:8786", "10.1.2.3:8786"])
def test_a_scheduler_off_this_machine_is_refused_without_tls_before_any_connection(address: str) -> None:
    started = time.monotonic()
    with (
        pytest.raises(ConfigError) as refused,
        connected_client(ExecutorSettings(ExecutorKind.DASK, address), concurrency=2),
    ):
        pass
    assert time.monotonic() - started < 1  # refused, not timed out connecting
    assert refused.value.message.startswith(f"refusing to connect to the Dask scheduler at {address} without TLS")
    assert "distributed.Security" in (refused.value.hint or "")
    assert "executor.tls.ca_file" in (refused.value.hint or "")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://localhost:8786", "tcp://[::1]:8786"])
def test_a_scheduler_on_this_machine_needs_no_tls(address: str) -> None:
    assert refuse_insecure(ExecutorSettings(ExecutorKind.DASK, address)) is None


def test_the_host_checked_is_the_host_dask_would_connect_to() -> None:
    address = "tcp://evil@127.0.0.1:8786"  # urlsplit's host is 127.0.0.1; Dask's is evil@127.0.0.1
    with pytest.raises(ConfigError) as refused:
        refuse_insecure(ExecutorSettings(ExecutorKind.DASK, address))
    assert refused.value.message.startswith(f"refusing to connect to the Dask scheduler at {address} without TLS")


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("garbage", "missing port number"),
        ("tcp://[::1", "invalid address"),
        ("tcp://127.0.0.1:8786/x", "invalid literal for int()"),
        ("tcp://:8786", "it names no host"),
        ("tcp://127.0.0.1:0", "the port 0 is not between 1 and 65535"),
        ("foo://127.0.0.1:8786", "foo:// is not one of tcp://, tls://"),
    ],
)
def test_an_address_dask_could_not_connect_to_is_refused_in_words(address: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        refuse_insecure(ExecutorSettings(ExecutorKind.DASK, address))
    assert refused.value.message.startswith(f"{address!r} is not a Dask scheduler address: {problem}")
    assert "tcp://HOST:PORT" in (refused.value.hint or "")


def test_a_tls_address_without_tls_files_is_refused_in_words() -> None:
    with pytest.raises(ConfigError, match="is tls:// but no TLS files are configured"):
        refuse_insecure(ExecutorSettings(ExecutorKind.DASK, "tls://127.0.0.1:8786"))


def test_tls_needs_its_three_files_and_a_tls_address(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "client.pem", "client.key"))
    half = ExecutorSettings(ExecutorKind.DASK, "tls://10.0.0.5:8786", tls_ca=ca, tls_cert=cert, tls_key=key)
    with pytest.raises(ConfigError, match="TLS files are not all there"):
        refuse_insecure(half)
    for path in (ca, cert, key):
        path.write_text("PEM")
    plain = ExecutorSettings(ExecutorKind.DASK, "tcp://10.0.0.5:8786", tls_ca=ca, tls_cert=cert, tls_key=key)
    with pytest.raises(ConfigError, match="is not tls://"):
        refuse_insecure(plain)
    security = refuse_insecure(
        ExecutorSettings(ExecutorKind.DASK, "tls://10.0.0.5:8786", tls_ca=ca, tls_cert=cert, tls_key=key)
    )
    assert security is not None
    assert (security.tls_ca_file, security.tls_client_cert, security.require_encryption) == (str(ca), str(cert), True)


@pytest.mark.slow
def test_no_scheduler_at_a_local_address_is_runtime_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ExecutorSettings(ExecutorKind.DASK, f"tcp://127.0.0.1:{port}")
    with pytest.raises(RuntimeUnavailableError) as unavailable, connected_client(settings, concurrency=2):
        pass
    assert unavailable.value.message.startswith(
        f"no Dask scheduler answered at tcp://127.0.0.1:{port} within {CONNECT_TIMEOUT_S} s"
    )
