"""Moving arrays between host and device, counted; waiting for the device; honest timing.

Every copy across the bus made through :func:`to_device` or :func:`to_cpu` is counted and
its bytes summed, so a test can assert that an epoch moves only batches in and metrics
out. On the emulated device, implicit synchronisations (``float(x)``, ``x.item()``,
``if x > 0``) are counted too; real CuPy offers no hook for those.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import numpy

from nnott.backend import device as _device

__all__ = [
    "Timer",
    "TransferStats",
    "count_transfers",
    "record_sync",
    "record_transfer",
    "synchronize",
    "to_cpu",
    "to_device",
    "transfer_totals",
]


@dataclasses.dataclass
class TransferStats:
    """Copies across the bus and implicit synchronisations seen while counting."""

    to_device_count: int = 0
    to_device_bytes: int = 0
    to_cpu_count: int = 0
    to_cpu_bytes: int = 0
    implicit_syncs: int = 0

    @property
    def total_bytes(self) -> int:
        return self.to_device_bytes + self.to_cpu_bytes

    def __str__(self) -> str:
        return (
            f"{self.to_device_count} copies to the device ({self.to_device_bytes:,} B), "
            f"{self.to_cpu_count} to the host ({self.to_cpu_bytes:,} B), "
            f"{self.implicit_syncs} implicit syncs"
        )


_totals = TransferStats()
_active_counters: list[TransferStats] = []


def transfer_totals() -> TransferStats:
    """Everything counted since the process started (a live object)."""
    return _totals


@contextlib.contextmanager
def count_transfers() -> Iterator[TransferStats]:
    """Count the copies and implicit syncs made inside a ``with`` block.

    >>> with count_transfers() as moved:
    ...     train_one_epoch()
    >>> moved.to_cpu_bytes
    """
    stats = TransferStats()
    _active_counters.append(stats)
    try:
        yield stats
    finally:
        _active_counters.remove(stats)


def record_transfer(direction: str, nbytes: int) -> None:
    """Count one copy; ``direction`` is ``"to_device"`` or ``"to_cpu"``."""
    for stats in (_totals, *_active_counters):
        count_name, bytes_name = f"{direction}_count", f"{direction}_bytes"
        setattr(stats, count_name, getattr(stats, count_name) + 1)
        setattr(stats, bytes_name, getattr(stats, bytes_name) + int(nbytes))


def record_sync() -> None:
    """Count one implicit synchronisation (a device value read by Python)."""
    for stats in (_totals, *_active_counters):
        stats.implicit_syncs += 1


def to_device(array: Any, dtype: Any = None) -> Any:
    """Return ``array`` on the active device (a counted copy when it has to cross the bus).

    Arrays already on the active device are returned as they are (cast if ``dtype`` asks).
    """
    module = _device.active_module()
    name = _device.current_device()
    if name == "cpu":
        return numpy.asarray(to_cpu(array) if _is_device_array(array) else array, dtype=dtype)
    if _device.get_array_module(array) is module:
        return array if dtype is None else array.astype(dtype, copy=False)
    host = numpy.asarray(to_cpu(array) if _is_device_array(array) else array, dtype=dtype)
    record_transfer("to_device", host.nbytes)
    if name == "emulated":
        from nnott.backend.emulated import EmulatedArray

        return EmulatedArray(host.copy())
    return module.asarray(host)


def _is_device_array(array: Any) -> bool:
    return _device.get_array_module(array) is not numpy


def to_cpu(array: Any) -> Any:
    """Return ``array`` as a NumPy array on the host (a counted copy from a device).

    NumPy arrays and Python scalars pass through unchanged.
    """
    if not _is_device_array(array):
        return array if isinstance(array, numpy.ndarray) else numpy.asarray(array)
    host = array.get()  # the emulated device's get() counts itself
    if type(array).__module__.startswith("cupy"):
        record_transfer("to_cpu", host.nbytes)
    return host


def synchronize() -> None:
    """Wait until the GPU has finished all queued work (a no-op on the host devices)."""
    if _device.current_device() == "gpu":
        import cupy

        cupy.cuda.get_current_stream().synchronize()


class Timer:
    """Wall-clock timer that waits for the device at both ends, so GPU timings are honest.

    >>> with Timer() as timer:
    ...     model.forward(x)
    >>> timer.elapsed   # seconds
    """

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start = 0.0

    def __enter__(self) -> Timer:
        synchronize()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        synchronize()
        self.elapsed = time.perf_counter() - self._start
