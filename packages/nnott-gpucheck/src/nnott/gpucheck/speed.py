"""How fast the device really is: GEMM TFLOP/s, memory and bus bandwidths.

Work on a GPU is queued asynchronously, so a wall clock around a call measures only the
launch. Every figure here is timed with a :class:`Clock`: on CuPy it records CUDA events in
the stream and reads the time between them on the device; on NumPy stand-ins, where every
call finishes before it returns, it reads ``time.perf_counter``.

Figures: GEMM ``2·N³`` floating-point operations per product; device-to-device copy counts
the bytes read plus the bytes written (as NVIDIA's bandwidth figures do); host↔device counts
the bytes moved once, from pageable (ordinary) and from pinned (page-locked) host memory.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy

from nnott.backend import to_cpu
from nnott.gpucheck.arrays import is_cupy, to_device
from nnott.gpucheck.checks import CheckResult, failure
from nnott.gpucheck.peaks import DevicePeaks, peak_gemm_tflops
from nnott.gpucheck.precision import GemmPrecision

__all__ = [
    "Clock",
    "EventClock",
    "HostClock",
    "Measurement",
    "clock_for",
    "measure_copy_bandwidth",
    "measure_gemm",
    "measure_speed",
    "measure_transfer_bandwidth",
    "seconds_per_call",
]

TARGET_SECONDS = 0.3
"""Each figure is timed over about this long (at least ``MIN_REPEATS`` calls)."""
MIN_REPEATS = 3
MAX_REPEATS = 1000


# -------------------------------------------------------------------------------- clocks


class Clock(Protocol):
    """Marks points in the device's work stream and measures the time between two marks."""

    def mark(self) -> Any: ...

    def seconds(self, start: Any, end: Any) -> float: ...

    def wait(self, mark: Any) -> None: ...


class EventClock:
    """CUDA events: ``mark`` records one in the current stream; ``seconds`` waits for the end."""

    def __init__(self, cupy: Any) -> None:
        self._cupy = cupy

    def mark(self) -> Any:
        event = self._cupy.cuda.Event()
        event.record()
        return event

    def seconds(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(self._cupy.cuda.get_elapsed_time(start, end)) / 1000.0

    def wait(self, mark: Any) -> None:
        mark.synchronize()


class HostClock:
    """``time.perf_counter`` for modules whose calls finish before they return."""

    def mark(self) -> float:
        return time.perf_counter()

    def seconds(self, start: float, end: float) -> float:
        return end - start

    def wait(self, mark: float) -> None:
        """Nothing to wait for: the work is already done."""


def clock_for(xp: Any) -> Clock:
    """CUDA events on CuPy, ``perf_counter`` elsewhere."""
    return EventClock(xp) if is_cupy(xp) else HostClock()


def seconds_per_call(
    work: Callable[[], Any], clock: Clock, target_seconds: float = TARGET_SECONDS
) -> float:
    """Mean device time of ``work()``: one warm-up call, a probe, then about target_seconds."""
    work()  # warm-up: kernel compilation, cuBLAS heuristics, memory-pool growth
    start = clock.mark()
    work()
    probe = max(clock.seconds(start, clock.mark()), 1e-9)
    repeats = int(min(MAX_REPEATS, max(MIN_REPEATS, target_seconds / probe)))
    start = clock.mark()
    for _ in range(repeats):
        work()
    return clock.seconds(start, clock.mark()) / repeats


# -------------------------------------------------------------------------- measurements


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One speed figure, with the published peak it compares to where known."""

    name: str
    value: float | None
    unit: str
    peak: float | None = None
    detail: str = ""

    @property
    def share_of_peak(self) -> float | None:
        """``value / peak`` (0.83 for 83 %), or None when either is unknown."""
        if self.value is None or not self.peak:
            return None
        return self.value / self.peak

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"share_of_peak": self.share_of_peak}


def measure_gemm(
    xp: Any,
    size: int,
    precision: GemmPrecision,
    rng: numpy.random.Generator,
    peaks: DevicePeaks | None = None,
) -> Measurement:
    """TFLOP/s of ``C = A @ B`` with N×N matrices in the chosen precision."""
    a = to_device(xp, rng.standard_normal((size, size)).astype(precision.dtype))
    b = to_device(xp, rng.standard_normal((size, size)).astype(precision.dtype))
    c = xp.empty((size, size), dtype=precision.dtype)
    seconds = seconds_per_call(lambda: xp.matmul(a, b, out=c), clock_for(xp))
    return Measurement(
        f"GEMM {size}³ {precision.label}",
        2.0 * size**3 / seconds / 1e12,
        "TFLOP/s",
        peak_gemm_tflops(peaks, precision.dtype, precision.tf32),
        f"{seconds * 1e3:.3f} ms per product",
    )


def measure_copy_bandwidth(xp: Any, nbytes: int, peaks: DevicePeaks | None = None) -> Measurement:
    """Device memory bandwidth of a device-to-device copy, bytes read plus bytes written."""
    count = max(1, nbytes // 4)
    source = xp.ones(count, dtype=xp.float32)
    target = xp.empty(count, dtype=xp.float32)
    seconds = seconds_per_call(lambda: xp.copyto(target, source), clock_for(xp))
    return Measurement(
        "device memory copy (read + write)",
        2.0 * count * 4 / seconds / 1e9,
        "GB/s",
        peaks.memory_gbps if peaks else None,
        f"{count * 4 / 2**20:.0f} MiB copied",
    )


def _host_buffer(xp: Any, nbytes: int, pinned: bool) -> numpy.ndarray | None:
    if not pinned:
        return numpy.ones(nbytes, dtype=numpy.uint8)
    if not is_cupy(xp):
        return None
    import cupyx

    buffer = cupyx.empty_pinned((nbytes,), dtype=numpy.uint8)
    buffer[...] = 1
    return buffer


def _upload(xp: Any, device_buffer: Any, host: numpy.ndarray) -> None:
    if is_cupy(xp):
        device_buffer.set(host)
    else:
        device_buffer[...] = to_device(xp, host)


def _download(xp: Any, device_buffer: Any, host: numpy.ndarray) -> None:
    if is_cupy(xp):
        device_buffer.get(out=host)
    else:
        host[...] = to_cpu(device_buffer)


def measure_transfer_bandwidth(xp: Any, nbytes: int, direction: str, pinned: bool) -> Measurement:
    """Host→device (``direction="h2d"``) or device→host bandwidth, pinned or pageable."""
    arrow = "host→device" if direction == "h2d" else "device→host"
    name = f"{arrow} {'pinned' if pinned else 'pageable'}"
    host = _host_buffer(xp, nbytes, pinned)
    if host is None:
        return Measurement(name, None, "GB/s", None, "no pinned memory without CUDA")
    device_buffer = xp.zeros(nbytes, dtype=xp.uint8)
    if direction == "h2d":
        seconds = seconds_per_call(lambda: _upload(xp, device_buffer, host), clock_for(xp))
    else:
        seconds = seconds_per_call(lambda: _download(xp, device_buffer, host), clock_for(xp))
    return Measurement(name, nbytes / seconds / 1e9, "GB/s", None, f"{nbytes / 2**20:.0f} MiB")


def measure_speed(
    xp: Any,
    size: int,
    precision: GemmPrecision,
    transfer_bytes: int,
    rng: numpy.random.Generator,
    peaks: DevicePeaks | None,
) -> tuple[list[Measurement], list[CheckResult]]:
    """Every speed figure; one that raises becomes a failed check instead of a figure."""
    jobs: list[tuple[str, Callable[[], Measurement]]] = [
        (f"GEMM {size}³", lambda: measure_gemm(xp, size, precision, rng, peaks)),
        ("device memory copy", lambda: measure_copy_bandwidth(xp, transfer_bytes, peaks)),
    ]
    for direction in ("h2d", "d2h"):
        for pinned in (False, True):
            name = f"{direction} {'pinned' if pinned else 'pageable'}"
            measure = functools.partial(measure_transfer_bandwidth, xp, transfer_bytes)
            jobs.append((name, functools.partial(measure, direction, pinned)))
    measurements, failures = [], []
    for name, job in jobs:
        try:
            measurements.append(job())
        except Exception as error:  # a CUDA error here is a finding, not a crash
            failures.append(failure(f"speed: {name}", error))
    return measurements, failures
