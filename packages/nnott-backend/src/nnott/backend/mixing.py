"""Strict mode: name the line where host and device arrays were mixed.

CuPy's own message for a NumPy array passed to a CuPy function is
``TypeError: Unsupported type <class 'numpy.ndarray'>``, which says nothing about where.
In strict mode, every function reached through ``xp`` on a device checks its arguments
first and raises :class:`~nnott.errors.DeviceMixError` naming the function and the
caller's file, line and function. The emulated device names the place in strict mode too,
also for operators such as ``a + b``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy

from nnott.errors import DeviceMixError

__all__ = ["caller_location", "guard", "is_strict", "mix_error", "set_strict", "strict"]

_strict = os.environ.get("NNOTT_STRICT", "") not in ("", "0")
_BACKEND_DIR = os.path.dirname(os.path.abspath(__file__))


def is_strict() -> bool:
    return _strict


def set_strict(enabled: bool) -> None:
    """Turn strict mode on or off for the whole process."""
    global _strict
    _strict = bool(enabled)


@contextlib.contextmanager
def strict(enabled: bool = True) -> Iterator[None]:
    """Strict mode inside a ``with`` block only."""
    previous = _strict
    set_strict(enabled)
    try:
        yield
    finally:
        set_strict(previous)


def caller_location() -> str:
    """``file:line in function`` of the nearest frame outside nnott.backend and NumPy."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        inside = filename.startswith(_BACKEND_DIR) or "/numpy/" in filename
        if not inside:
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "<unknown>"


def mix_error(operation: str, operand: Any) -> TypeError:
    """The error for a host array met in a device operation (CuPy's wording unless strict)."""
    if not _strict:
        return TypeError(f"Unsupported type {type(operand)}")
    return DeviceMixError(
        f"a NumPy array (shape {getattr(operand, 'shape', '?')}) met device arrays in "
        f"{operation} at {caller_location()}; move it with nnott.backend.to_device() first"
    )


def _find_host_array(value: Any) -> Any:
    if isinstance(value, numpy.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _find_host_array(item)
            if found is not None:
                return found
    return None


def guard(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap ``function`` so that a NumPy array among its arguments raises DeviceMixError."""

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            host = _find_host_array(value)
            if host is not None:
                raise mix_error(name, host)
        return function(*args, **kwargs)

    return checked
