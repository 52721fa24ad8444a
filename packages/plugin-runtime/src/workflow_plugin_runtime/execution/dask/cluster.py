"""Reaching a Dask cluster: a scheduler's address (TLS unless it is this machine), or a local cluster of our own.

Secrets travel to workers inside task inputs, so a scheduler that is not on
a loopback address is refused before any connection is made unless the
connection is TLS (``tls://`` and the three files of the config's
``executor.tls``, which become a :class:`distributed.Security`). The
address is read with Dask's own parser, so the host checked is the host
Dask would connect to (``urlsplit`` reads ``tcp://a@127.0.0.1:1`` as
127.0.0.1, Dask as ``a@127.0.0.1``), and anything Dask could not connect
to (no port, another scheme) is refused in words before it tries.

Without an address the run gets a :class:`distributed.LocalCluster` of
worker processes on 127.0.0.1 only (no dashboard), closed when the run ends.
Its scheduler lives in this process and is told ``allowed-failures: 0``: a
worker lost mid-task fails that task at once (``KilledWorker``), and the
scheduler's ``retries`` policy, not Dask, decides whether it runs again.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Iterator

import dask.config
from distributed import Client, LocalCluster, Security
from distributed.comm.addressing import parse_address, parse_host_port

from ...config import RESTRICTED_RUNTIMES, ExecutorSettings
from ...errors import ConfigError, RuntimeUnavailableError

__all__ = ["CONNECT_TIMEOUT_S", "connected_client", "refuse_insecure"]

CONNECT_TIMEOUT_S = 10
_TLS_KEYS = "executor.tls.ca_file, executor.tls.cert_file and executor.tls.key_file"
_SCHEMES = ("tcp", "tls")


def refuse_insecure(settings: ExecutorSettings) -> Security | None:
    """The Security for ``settings.address``; raises ConfigError for plain TCP off this machine, or half a TLS setup."""
    address = settings.address
    assert address is not None
    scheme, host = _scheme_and_host(address)
    if settings.tls:
        files = (settings.tls_ca, settings.tls_cert, settings.tls_key)
        missing = [str(path) for path in files if path is None or not path.is_file()]
        if missing:
            raise ConfigError(
                f"the Dask executor's TLS files are not all there: {', '.join(missing)}",
                hint=f"set {_TLS_KEYS} in .workflow/config.yaml to PEM files that exist",
            )
        if scheme != "tls":
            raise ConfigError(
                f"TLS is configured but the Dask scheduler address {address} is not tls://",
                hint=f"use tls://{host}:PORT (`--dask-address` or executor.address)",
            )
        return Security(
            tls_ca_file=str(settings.tls_ca),
            tls_client_cert=str(settings.tls_cert),
            tls_client_key=str(settings.tls_key),
            require_encryption=True,
        )
    if scheme == "tls":
        raise ConfigError(
            f"the Dask scheduler address {address} is tls:// but no TLS files are configured",
            hint=f"set {_TLS_KEYS} in .workflow/config.yaml to PEM files that exist",
        )
    if not _loopback(host):
        raise ConfigError(
            f"refusing to connect to the Dask scheduler at {address} without TLS: "
            "task inputs, secrets among them, would cross the network in the clear",
            hint=f"serve the scheduler on tls:// and set {_TLS_KEYS} in .workflow/config.yaml "
            "(they make a distributed.Security; docs/scaling.md shows the certificates), "
            "or use a scheduler on 127.0.0.1",
        )
    return None


@contextlib.contextmanager
def connected_client(settings: ExecutorSettings, *, concurrency: int) -> Iterator[Client]:
    """A client of the configured scheduler, or of a local cluster made for the run (and closed after it).

    A local cluster has one worker process per core, at most ``concurrency``,
    and enough threads for ``concurrency`` tasks at once. Its workers are
    this machine, so each holds every restricted backend as a resource: the
    backend the run chose here is the one they use.
    """
    if settings.address is None:
        workers = max(1, min(os.cpu_count() or 1, concurrency))
        threads = -(-concurrency // workers)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=threads,
                resources={kind.value: threads for kind in RESTRICTED_RUNTIMES},
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                worker_dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    security = refuse_insecure(settings)
    try:
        client = Client(settings.address, security=security, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise RuntimeUnavailableError(
            f"no Dask scheduler answered at {settings.address} within {CONNECT_TIMEOUT_S} s: {exc}",
            hint="start one (`dask scheduler`) or fix `--dask-address` / executor.address",
        ) from None
    with client:
        yield client


def _scheme_and_host(address: str) -> tuple[str, str]:
    """The scheme and host Dask would connect to; ConfigError for an address it could not connect to at all."""
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError as exc:
        problem = str(exc)
    else:
        if scheme not in _SCHEMES:
            problem = f"{scheme}:// is not one of {', '.join(f'{known}://' for known in _SCHEMES)}"
        elif not host:
            problem = "it names no host"
        elif not 0 < port < 2**16:
            problem = f"the port {port} is not between 1 and 65535"
        else:
            return scheme, host
    raise ConfigError(
        f"{address!r} is not a Dask scheduler address: {problem}",
        hint="give tcp://HOST:PORT (HOST on this machine) or tls://HOST:PORT (`--dask-address` or executor.address)",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
