"""Small helpers that let one check run on CuPy, on NumPy, or on nnott's emulated device.

Every check in this package takes the array module ``xp`` it should test as an argument.
On a GPU that is ``cupy``; in the CPU test suite it is NumPy (or nnott's host-emulated
device, which behaves like CuPy where it matters), so the same check logic is exercised
without a GPU. The references the checks compare against are always computed on the host
with NumPy in float64.
"""

from __future__ import annotations

from typing import Any

import numpy

from nnott.backend import to_cpu

__all__ = ["describe_module", "is_cupy", "to_device", "to_host"]


def is_cupy(xp: Any) -> bool:
    """True when ``xp`` is CuPy itself (and not a stand-in for it)."""
    return getattr(xp, "__name__", "") == "cupy"


def describe_module(xp: Any) -> str:
    """A short name for the array module under test: ``cupy``, ``numpy`` or ``emulated``."""
    if is_cupy(xp):
        return "cupy"
    if xp is numpy:
        return "numpy"
    return str(getattr(xp, "__name__", type(xp).__name__))


def to_device(xp: Any, host: numpy.ndarray) -> Any:
    """Copy the host array ``host`` onto the device of ``xp`` (a no-op copy on NumPy)."""
    return xp.asarray(host)


def to_host(array: Any) -> numpy.ndarray:
    """Copy a device array back to a NumPy array (NumPy arrays and scalars pass through)."""
    return numpy.asarray(to_cpu(array))
