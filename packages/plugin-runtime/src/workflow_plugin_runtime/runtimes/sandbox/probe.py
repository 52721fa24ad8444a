"""Whether the sandbox can run on this machine, asked once per process.

The probe starts a real sandbox, with the lockdown, limits and seccomp
filter every plugin gets, around ``true``: anything the machine lacks
(bubblewrap, util-linux's ``setpriv`` for a root engine, libseccomp, user
namespaces) shows up as that sandbox failing, and its reason is what an
operator reads, with how to install what is missing. It costs a few
milliseconds, once: :func:`sandbox_problem` remembers its answer.
"""

from __future__ import annotations

import functools
import shutil

from workflow_plugin_sdk.protocol import make_request

from ...config import RuntimeKind
from ...errors import PermissionDeniedError, RuntimeUnavailableError
from ..base import Invocation
from ..outcome import describe_exit
from .command import Identity
from .launch import SandboxLaunch, SandboxTools

__all__ = ["INSTALL_HINT", "PROBE_TIMEOUT_S", "sandbox_problem", "sandbox_tools"]

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or run restricted workflows in Docker:"
    " workflow run --backend docker, or restricted: {backend: docker} in .workflow/config.yaml"
)
PROBE_TIMEOUT_S = 10.0
"""How long the probe's sandbox may take to start and run ``true``."""
_SECCOMP_HINT = (
    "install libseccomp (Debian: apt-get install libseccomp2) and the pyseccomp package (pip install pyseccomp)"
)


@functools.cache
def sandbox_tools() -> SandboxTools:
    """bwrap and the sandbox identity of this engine; raises :class:`RuntimeUnavailableError` saying what is missing."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeUnavailableError("bubblewrap (bwrap) is not installed", hint=INSTALL_HINT)
    return SandboxTools(bwrap=bwrap, identity=Identity.of_engine())


@functools.cache
def sandbox_problem() -> RuntimeUnavailableError | None:
    """Why no plugin can be sandboxed here (what is missing and how to get it), or None when a sandbox starts."""
    try:
        tools = sandbox_tools()
    except RuntimeUnavailableError as exc:
        return exc
    true = shutil.which("true")
    if true is None:  # coreutils is essential: a machine without it has worse problems
        return RuntimeUnavailableError("the probe's program (true) is not on PATH", hint="install coreutils")
    probe = Invocation(
        kind=RuntimeKind.SANDBOX,
        plugin_ref="the sandbox probe",
        request=make_request("probe", {}),
        argv=(true,),
        timeout_s=PROBE_TIMEOUT_S,
    )
    try:
        launch = SandboxLaunch(probe, tools=tools, cpu_time_s=None)
    except (ImportError, RuntimeError) as exc:  # pyseccomp missing, or it found no libseccomp
        return RuntimeUnavailableError(f"the sandbox's seccomp filter cannot be built ({exc})", hint=_SECCOMP_HINT)
    except (OSError, PermissionDeniedError) as exc:
        return RuntimeUnavailableError(f"the sandbox cannot be prepared here ({exc})", hint=INSTALL_HINT)
    failure = _run(launch)
    return (
        None
        if failure is None
        else RuntimeUnavailableError(f"bubblewrap cannot start a sandbox here: {failure}", hint=INSTALL_HINT)
    )


def _run(launch: SandboxLaunch) -> str | None:
    """Why the probe's sandbox failed to run ``true``, or None when it ran."""
    try:
        outcome = launch.run()
    except OSError as exc:
        return str(exc)
    finally:
        launch.finish()
    if outcome.exit_code == 0:
        return None
    return outcome.stderr_tail.strip() or describe_exit(outcome.exit_code, outcome.signal)
