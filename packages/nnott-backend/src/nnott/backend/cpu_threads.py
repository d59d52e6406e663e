"""Big array copies and additions on every CPU core, not just one.

NumPy runs each array operation on one core. Its matrix products go to BLAS, which uses
all the cores, and so do all of PyTorch's operations; but the copies and additions around
the products (building im2col's column matrix, folding gradients back with col2im) run on
one core while the others wait. On a 2-core machine that makes them about half as fast as
they could be.

:func:`in_parts` fixes that the simple way: it splits the batch (or the channels) into one
part per core and runs the same piece of work on every part at once, in threads. Threads can share
the work because NumPy releases Python's global interpreter lock inside its loops over
numbers. Each output element is computed by exactly one part, in the same order of
operations as one call over the whole batch, so the results are identical to the bit.

The work is split only on the CPU device (CuPy's GPU kernels already use the whole GPU)
and only when it is big enough to pay for waking a sleeping thread, which is slow: on the
2-core virtual machine where this was measured, an im2col copy that took 6.6 ms on one
core took 3.9 ms in two parts, but one of 0.36 ms still took 0.32 ms, because waking the
other thread cost 0.1-0.15 ms. On a second 2-core machine (an Intel Xeon VM) handing
empty work to the other thread cost 0.14 ms, and a contiguous copy only gained from two
parts at about 10^6 values (0.70 ms on one core, 0.43 ms in two; at 2^19 values 0.25 ms
against 0.32 ms), and LeNet trained 2.5-3 % faster with parts of at least 2^20 values
than of 2^18. So a part must hold at least :data:`MIN_ELEMENTS_PER_PART` values.
The number of parts follows the cores BLAS uses: ``NNOTT_CPU_THREADS``, else
``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS``, else the cores this process may run on.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from nnott.backend.device import current_device
from nnott.errors import ConfigError

__all__ = [
    "MIN_ELEMENTS_PER_PART",
    "THREADS_VARIABLE",
    "cpu_thread_count",
    "in_parts",
    "set_cpu_threads",
    "split_range",
]

THREADS_VARIABLE = "NNOTT_CPU_THREADS"
MIN_ELEMENTS_PER_PART = 1 << 20  # 4 MiB of float32 per part


class _Pool:
    """The worker threads (created on first use) and the thread count they were made for."""

    threads: int | None = None  # None: read the environment on first use
    executor: ThreadPoolExecutor | None = None
    inside_part = threading.local()  # set in a part's thread: nested calls run serially


_pool = _Pool()


def _threads_from_environment() -> int:
    for variable in (THREADS_VARIABLE, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"{variable} must be a positive whole number, not {value!r}")
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_thread_count() -> int:
    """How many parts :func:`in_parts` splits big work into on the CPU."""
    if _pool.threads is None:
        _pool.threads = _threads_from_environment()
    return _pool.threads


def set_cpu_threads(threads: int | None) -> None:
    """Use ``threads`` parts from now on (1 turns the splitting off; None: the environment)."""
    if threads is not None and threads < 1:
        raise ConfigError(f"the CPU thread count must be at least 1, not {threads}")
    if _pool.executor is not None:
        _pool.executor.shutdown(wait=True)
        _pool.executor = None
    _pool.threads = threads


def split_range(length: int, parts: int) -> list[slice]:
    """``range(length)`` cut into ``parts`` consecutive slices whose sizes differ by at most 1."""
    parts = max(1, min(parts, length))
    bounds = [length * index // parts for index in range(parts + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def in_parts(work: Callable[[slice], None], length: int, elements: int) -> None:
    """Call ``work(part)`` for slices of ``range(length)`` that together cover it, at once.

    ``length`` is the size of the axis the caller cuts (the batch, or the channels of a
    per-channel computation), and ``work`` must write only its part of that axis, so that
    the parts never overlap. ``elements`` is the size of the work, the number of values
    it writes in all: small work, work on the GPU, and work started from inside a part
    run as one call, ``work(slice(None))``. The calling thread runs the last part itself.
    """
    threads = cpu_thread_count()
    parts_wanted = min(threads, elements // MIN_ELEMENTS_PER_PART)
    if (
        parts_wanted < 2
        or length < 2
        or getattr(_pool.inside_part, "active", False)
        or current_device() != "cpu"
    ):
        work(slice(None))
        return
    parts = split_range(length, parts_wanted)
    if _pool.executor is None:
        _pool.executor = ThreadPoolExecutor(threads - 1, thread_name_prefix="nnott-cpu")
    futures = [_pool.executor.submit(_run_part, work, part) for part in parts[:-1]]
    _run_part(work, parts[-1])
    for future in futures:
        future.result()  # re-raises a part's exception here


def _run_part(work: Callable[[slice], None], part: slice) -> None:
    _pool.inside_part.active = True
    try:
        work(part)
    finally:
        _pool.inside_part.active = False
