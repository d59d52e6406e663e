"""A GEMM stress loop that looks for silent corruption and thermal throttling.

For the given number of seconds, ``C = A @ B`` runs again and again on the same inputs. A
healthy GPU with a given cuBLAS returns the same bits every time (cuBLAS guarantees
run-to-run reproducibility on one device), so every result is compared element by element
with the first one, on the device, without a copy to the host. The first result itself is
spot-checked against a float64 product on the host for a block of rows.

Each product is timed with a :class:`~nnott.gpucheck.speed.Clock` (CUDA events on a GPU), so
the comparison's own cost does not dilute the throughput. The run is split into ten windows;
the change of throughput from the first to the last window is the drift a heating,
throttling GPU shows.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy

from nnott.gpucheck.arrays import to_device, to_host
from nnott.gpucheck.checks import CheckResult, gemm_error_ratio, random_matrix
from nnott.gpucheck.environment import Sensors
from nnott.gpucheck.precision import GemmPrecision
from nnott.gpucheck.speed import clock_for

__all__ = ["StressProgress", "StressResult", "run_stress", "throughput_windows"]

WINDOWS = 10
SPOT_CHECK_ROWS = 8
PROGRESS_INTERVAL = 0.5
SENSOR_INTERVAL = 2.0
QUEUE_DEPTH = 2
"""Products queued ahead of the host: enough to keep the GPU busy, few enough to stop on time."""


@dataclasses.dataclass(frozen=True)
class StressProgress:
    """What the live progress line shows."""

    elapsed: float
    seconds: float
    iterations: int
    tflops: float | None
    mismatched_elements: int
    sensors: Sensors


@dataclasses.dataclass
class StressResult:
    """Everything the stress run measured."""

    size: int
    precision: str
    seconds_requested: float
    seconds_run: float = 0.0
    iterations: int = 0
    mean_tflops: float | None = None
    window_tflops: list[float] = dataclasses.field(default_factory=list)
    drift_percent: float | None = None
    mismatched_elements: int = 0
    mismatched_iterations: int = 0
    max_deviation: float = 0.0
    temperature_c: list[float] = dataclasses.field(default_factory=list)
    sm_clock_mhz: list[float] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    checks: list[CheckResult] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["checks"] = [check.to_dict() for check in self.checks]
        return data


def throughput_windows(times: list[float], flops: float, windows: int = WINDOWS) -> list[float]:
    """TFLOP/s in ``windows`` consecutive groups of iterations (fewer if there are fewer)."""
    count = min(windows, len(times))
    if count == 0:
        return []
    edges = numpy.linspace(0, len(times), count + 1).astype(int)
    return [
        flops * (end - start) / sum(times[start:end]) / 1e12
        for start, end in itertools.pairwise(edges)
        if sum(times[start:end]) > 0
    ]


def _spot_check(
    first: Any, a: numpy.ndarray, b: numpy.ndarray, precision: GemmPrecision, start: int
) -> CheckResult:
    rows = slice(start, start + SPOT_CHECK_ROWS)
    ratio = gemm_error_ratio(to_host(first[rows]), a[rows], b, precision.epsilon)
    return CheckResult(
        "stress: first result vs host",
        ratio <= 1.0,
        ratio,
        1.0,
        f"rows {rows.start}..{min(rows.stop, a.shape[0]) - 1} of the first product, "
        "against float64 on the host",
        "× (2+sqrt(K))·eps·|A||B|",
    )


def run_stress(
    xp: Any,
    size: int,
    precision: GemmPrecision,
    seconds: float,
    rng: numpy.random.Generator,
    read_sensors: Callable[[], Sensors] = Sensors,
    on_progress: Callable[[StressProgress], None] | None = None,
) -> StressResult:
    """Run the GEMM loop for ``seconds``; Ctrl-C ends it early with what was measured."""
    result = StressResult(size, precision.label, seconds)
    a_host = random_matrix(rng, (size, size), precision.dtype)
    b_host = random_matrix(rng, (size, size), precision.dtype)
    a, b = to_device(xp, a_host), to_device(xp, b_host)
    c = xp.empty((size, size), dtype=precision.dtype)
    first = xp.empty((size, size), dtype=precision.dtype)
    xp.matmul(a, b, out=first)  # the warm-up, made exactly as every later product
    result.checks.append(_spot_check(first, a_host, b_host, precision, int(rng.integers(size))))

    clock = clock_for(xp)
    flops = 2.0 * size**3
    bad_elements = xp.zeros((), dtype=xp.int64)
    bad_iterations = xp.zeros((), dtype=xp.int64)
    max_deviation = xp.zeros((), dtype=precision.dtype)
    times: list[float] = []
    pending: list[tuple[Any, Any]] = []
    began = time.perf_counter()
    next_progress, next_sensors = began, began
    sensors = Sensors()
    try:
        while time.perf_counter() - began < seconds:
            start = clock.mark()
            xp.matmul(a, b, out=c)
            end = clock.mark()
            pending.append((start, end))
            mismatches = xp.count_nonzero(c != first)
            bad_elements += mismatches
            bad_iterations += mismatches > 0
            max_deviation = xp.maximum(max_deviation, xp.max(xp.abs(c - first)))
            result.iterations += 1
            if len(pending) > QUEUE_DEPTH:
                clock.wait(pending[-QUEUE_DEPTH - 1][1])
            now = time.perf_counter()
            if now >= next_sensors:
                sensors = read_sensors()
                _record_sensors(result, sensors)
                next_sensors = now + SENSOR_INTERVAL
            if now >= next_progress:
                times += [clock.seconds(s, e) for s, e in pending]
                pending.clear()
                if on_progress is not None:
                    on_progress(_progress(result, times, flops, now - began, bad_elements, sensors))
                next_progress = now + PROGRESS_INTERVAL
    except KeyboardInterrupt:
        result.interrupted = True
    times += [clock.seconds(s, e) for s, e in pending]
    result.seconds_run = time.perf_counter() - began
    _record_sensors(result, read_sensors())
    _summarise(result, times, flops, bad_elements, bad_iterations, max_deviation)
    return result


def _record_sensors(result: StressResult, sensors: Sensors) -> None:
    if sensors.temperature_c is not None:
        result.temperature_c.append(float(sensors.temperature_c))
    if sensors.sm_clock_mhz is not None:
        result.sm_clock_mhz.append(float(sensors.sm_clock_mhz))


def _progress(
    result: StressResult,
    times: list[float],
    flops: float,
    elapsed: float,
    bad_elements: Any,
    sensors: Sensors,
) -> StressProgress:
    recent = times[-20:]
    tflops = flops * len(recent) / sum(recent) / 1e12 if recent and sum(recent) > 0 else None
    return StressProgress(
        elapsed,
        result.seconds_requested,
        result.iterations,
        tflops,
        int(to_host(bad_elements)),
        sensors,
    )


def _summarise(
    result: StressResult,
    times: list[float],
    flops: float,
    bad_elements: Any,
    bad_iterations: Any,
    max_deviation: Any,
) -> None:
    total = sum(times)
    result.mean_tflops = flops * len(times) / total / 1e12 if total > 0 else None
    result.window_tflops = throughput_windows(times, flops)
    if len(result.window_tflops) >= 2:
        first, last = result.window_tflops[0], result.window_tflops[-1]
        result.drift_percent = (last - first) / first * 100.0
    result.mismatched_elements = int(to_host(bad_elements))
    result.mismatched_iterations = int(to_host(bad_iterations))
    deviation = float(to_host(max_deviation))
    result.max_deviation = deviation if not math.isnan(deviation) else math.inf
    corrupt = result.mismatched_elements > 0 or result.max_deviation != 0.0
    result.checks.append(
        CheckResult(
            "stress: results identical",
            not corrupt,
            result.max_deviation,
            0.0,
            f"{result.iterations} products compared bit for bit with the first; "
            f"{result.mismatched_elements:,} elements differed in "
            f"{result.mismatched_iterations} products",
            "max |C - C₁|",
        )
    )
