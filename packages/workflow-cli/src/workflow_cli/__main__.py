from __future__ import annotations

from .entry import command

command()
