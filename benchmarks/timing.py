"""Honest timing: warm-up, several repeats, the median, both sides interleaved.

Rules every number in the benchmark follows:

- warm-up calls first (allocations, BLAS thread start-up, caches) that are not timed;
- several timed repeats, and the **median** is reported (robust to one disturbed run);
- nnott is timed with :class:`nnott.backend.Timer`, which waits for the GPU at both ends;
  PyTorch with :class:`TorchTimer`, which does the same with ``torch.cuda.synchronize``;
- a contestant and its reference are timed **interleaved** (A B B A ...), so a burst of
  load from another process on a shared machine hits both rather than one, and a ratio
  is the median of the ratios of the pairs (:func:`paired_ratio`);
- both libraries run with their own default thread settings, and every timed run starts
  after a pause of :data:`SETTLE_SECONDS`, so that the idle threads of the side timed
  before it have stopped spinning (see :func:`compare_throughput`).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any, Protocol

from nnott.backend import Timer

__all__ = [
    "SETTLE_SECONDS",
    "Contestant",
    "Throughput",
    "TorchTimer",
    "compare_throughput",
    "median_seconds",
    "paired_ratio",
]


# After a parallel region, OpenBLAS's idle threads spin for about 2**28 cycles (0.1 s at
# 2-3 GHz) and PyTorch's OpenMP workers for a shorter while before they sleep. Spinning
# threads of the side just timed would take cores from the side timed next.
SETTLE_SECONDS = 0.3


class ElapsedTimer(Protocol):
    """A context manager that leaves the seconds it measured in ``elapsed``."""

    elapsed: float

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: object) -> None: ...


class TorchTimer:
    """Wall-clock timer for PyTorch work; on CUDA it synchronizes at both ends."""

    def __init__(self, torch: Any, cuda: bool) -> None:
        self._torch = torch
        self._cuda = cuda
        self.elapsed = 0.0
        self._start = 0.0

    def _synchronize(self) -> None:
        if self._cuda:
            self._torch.cuda.synchronize()

    def __enter__(self) -> TorchTimer:
        self._synchronize()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._synchronize()
        self.elapsed = time.perf_counter() - self._start


@dataclasses.dataclass
class Contestant:
    """One side of a comparison: ``step(i)`` trains on batch ``i``; ``timer()`` times it.

    ``steps`` overrides the number of steps per repeat, for a contestant so slow (the
    scalar tier) or so fast that it needs a different count to be timed well.
    """

    step: Callable[[int], Any]
    samples_per_step: int
    timer: Callable[[], ElapsedTimer] = Timer
    steps: int | None = None


@dataclasses.dataclass
class Throughput:
    """Training samples per second: the median of the repeats, and every repeat."""

    samples_per_s: float
    runs: list[float]
    samples_per_step: int
    steps_per_run: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compare_throughput(
    contestants: dict[str, Contestant],
    *,
    steps: int,
    repeats: int,
    warmup: int,
    settle_seconds: float = SETTLE_SECONDS,
    rewarm: int = 1,
) -> dict[str, Throughput]:
    """Time ``steps`` training steps per repeat for every contestant, interleaved.

    Each contestant first runs ``warmup`` untimed steps. Then, ``repeats`` times, each one
    runs ``steps`` timed steps (or its own ``steps``), the order alternating between
    repeats (A B, then B A) so that neither side always runs first. Returns the throughput
    of each, by name.

    Every timed run starts ``settle_seconds`` after the previous one ended: long enough
    for the idle threads of the library timed before to fall asleep, so that neither side
    runs with the other's threads spinning on its cores. By then this side's own threads
    sleep too, so ``rewarm`` untimed steps wake them (and refill the caches) first.

    The alternative, telling both libraries' threads to sleep at once
    (``OMP_WAIT_POLICY=PASSIVE``, ``OPENBLAS_THREAD_TIMEOUT=4``), is not neutral: on a
    2-core VM it made PyTorch's LeNet step 1.5-1.7x and nnott's 1.4x slower, because every
    parallel region then has to wake its threads, so it measured neither library as its
    users run it.
    """
    names = list(contestants)
    step_index = dict.fromkeys(names, 0)
    counts = {name: contestants[name].steps or steps for name in names}

    def run_steps(name: str, count: int) -> None:
        for _ in range(count):
            contestants[name].step(step_index[name])
            step_index[name] += 1

    for name in names:
        with contestants[name].timer():
            run_steps(name, warmup)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            contestant, timer = contestants[name], contestants[name].timer()
            time.sleep(settle_seconds)
            run_steps(name, rewarm)
            with timer:
                run_steps(name, counts[name])
            samples = contestant.samples_per_step * counts[name]
            runs[name].append(samples / max(timer.elapsed, 1e-12))
    return {
        name: Throughput(
            statistics.median(values), values, contestants[name].samples_per_step, counts[name]
        )
        for name, values in runs.items()
    }


def paired_ratio(ours: Throughput, theirs: Throughput) -> float:
    """The median over repeats of ``ours / theirs``, each pair timed back to back.

    On a machine whose load changes during the run this is steadier than the ratio of the
    two medians: both runs of a pair saw nearly the same load.
    """
    return statistics.median(a / b for a, b in zip(ours.runs, theirs.runs, strict=True))


def median_seconds(
    run: Callable[[], Any],
    *,
    repeats: int,
    warmup: int = 1,
    timer: Callable[[], ElapsedTimer] = Timer,
) -> float:
    """The median wall time of ``run()`` over ``repeats`` timed calls after ``warmup``."""
    for _ in range(warmup):
        with timer():
            run()
    times = []
    for _ in range(max(1, repeats)):
        clock = timer()
        with clock:
            run()
        times.append(clock.elapsed)
    return statistics.median(times)
