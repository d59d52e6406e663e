"""The errors nnott raises for things a user can fix.

Every command line catches :class:`NnottError` and prints its message as one line on
stderr with exit code 2 (see :mod:`nnott.cli`). Anything else that escapes is a bug in
nnott and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "NnottError",
    "ConfigError",
    "DatasetError",
    "CheckpointError",
    "GpuUnavailableError",
    "DeviceMixError",
    "DivergenceError",
]


class NnottError(Exception):
    """Base class of the failures a user can act on (bad input, missing files, no GPU)."""


class ConfigError(NnottError, ValueError):
    """An option or argument that cannot work, such as a negative epoch count."""


class DatasetError(NnottError):
    """A dataset that is unknown, missing, corrupt, or could not be downloaded."""


class CheckpointError(NnottError):
    """A checkpoint that is missing, corrupt, unsafe to load, or from another model."""


class GpuUnavailableError(NnottError, RuntimeError):
    """The GPU was asked for but cannot be used; the message names the cause."""


class DeviceMixError(NnottError, TypeError):
    """Arrays from two devices (host NumPy and device CuPy) met in one operation.

    A subclass of :class:`TypeError` because that is what CuPy itself raises.
    """


class DivergenceError(NnottError, FloatingPointError):
    """Training produced a NaN or infinite loss."""
