"""The ``workflow`` command line: operators run workflows and manage plugins."""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
