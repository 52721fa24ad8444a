"""The ``workflow`` command line: operators run workflows and manage plugins.

``__version__`` loads on first use (PEP 562): every command imports this
package first, and only ``--version`` needs the version.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .__about__ import __version__

__all__ = ["__version__"]


def __getattr__(name: str) -> object:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .__about__ import __version__

    globals()[name] = __version__
    return __version__


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
