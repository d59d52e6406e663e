"""A check for console scripts: their module must import nothing heavy itself.

Every nnott command's console script points at a small ``nnott._<name>_script`` module
that imports the real command line inside :func:`nnott.launcher.launch`, where a Ctrl-C
ends in one line. Whatever that module imports at its top happens outside the guard.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

__all__ = ["HEAVY_MODULES", "console_script_target", "heavy_imports_of"]

HEAVY_MODULES = ("numpy", "cupy", "nnott.backend", "nnott.cli")
"""Modules that take tenths of a second to import (nnott.backend imports NumPy)."""


def heavy_imports_of(module: str) -> list[str]:
    """The :data:`HEAVY_MODULES` that importing ``module`` loads, in a fresh interpreter."""
    code = (
        f"import sys, {module}; print(*[name for name in {HEAVY_MODULES!r} if name in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def console_script_target(command: str) -> str:
    """What the installed console script ``command`` runs, as ``"module:function"``."""
    (entry,) = metadata.entry_points(group="console_scripts", name=command)
    return entry.value
