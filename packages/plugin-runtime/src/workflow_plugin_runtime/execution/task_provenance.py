"""What a task's result keeps about the code that ran it and what that code could reach.

The run record shows it per task (:mod:`.records`): the plugin, its content
hash and the runtime that ran it; for a container call the image it ran
(tag, id, the hash it was built from); and in restricted mode the grants the
call got. It is read from the prepared call after the call, so it records
what ran, not what the workflow asked for. The scheduler (:mod:`.scheduler`)
decides when tasks run and only attaches this to their results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..plugins.manifest import Access
from ..workflows.mount_sources import Mount
from ..workflows.permissions import SecurityMode
from .executor import ActionOutcome
from .manager import PluginManager

__all__ = ["task_provenance"]


def task_provenance(
    outcome: ActionOutcome, *, manager: PluginManager, security: SecurityMode
) -> Mapping[str, Any] | None:
    """Where a plugin task's code came from and what it was granted; None when the call was never prepared."""
    call = outcome.call
    if call is None:
        return None
    image = manager.image_of(call)
    invocation = call.invocation
    grants: dict[str, Any] = {"security": security.value}
    if security is SecurityMode.RESTRICTED:
        grants |= {
            "network": invocation.network,
            "mounts": [_mount_record(mount) for mount in invocation.mounts],
            "env": sorted(invocation.env),
        }
    return {
        **manager.provenance(call.manifest),  # its content hash: the one the Docker runtime checked the image against
        "runtime": call.runtime.kind.value,
        **({"image": image.to_record()} if image is not None else {}),
        "grants": grants,
    }


def _mount_record(mount: Mount) -> dict[str, str]:
    access = Access.READ if mount.read_only else Access.READ_WRITE
    return {"source": str(mount.source), "target": mount.target, "access": access.value}
