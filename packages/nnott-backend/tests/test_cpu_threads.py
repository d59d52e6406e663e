"""nnott.backend.cpu_threads: big work split over the cores, identical to one call."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy
import pytest

from nnott import backend
from nnott.backend import cpu_threads
from nnott.errors import ConfigError


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two parts for any work of at least two elements, on the CPU device."""
    monkeypatch.setattr(cpu_threads, "MIN_ELEMENTS_PER_PART", 1)
    cpu_threads.set_cpu_threads(2)
    with backend.use_cpu():
        yield
    cpu_threads.set_cpu_threads(None)


@pytest.mark.parametrize(("length", "parts"), [(64, 2), (7, 3), (5, 5), (3, 8), (1, 2)])
def test_split_range_covers_the_range_in_near_equal_consecutive_slices(
    length: int, parts: int
) -> None:
    slices = cpu_threads.split_range(length, parts)
    covered = [index for part in slices for index in range(length)[part]]
    assert covered == list(range(length))
    sizes = [part.stop - part.start for part in slices]
    assert len(slices) == min(parts, length)
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_parts_run_at_once_on_different_threads(two_threads: None) -> None:
    seen: dict[tuple[int | None, int | None], str] = {}
    both_started = threading.Barrier(2, timeout=10)

    def work(part: slice) -> None:
        seen[(part.start, part.stop)] = threading.current_thread().name
        both_started.wait()  # only returns when the other part runs at the same time

    cpu_threads.in_parts(work, 10, elements=1000)
    assert sorted(seen) == [(0, 5), (5, 10)]
    assert seen[(5, 10)] == threading.current_thread().name  # the caller runs the last part
    assert seen[(0, 5)] != seen[(5, 10)]


def test_split_work_gives_the_bits_of_one_call(two_threads: None) -> None:
    generator = numpy.random.default_rng(3)
    x = generator.standard_normal((64, 8, 9, 9)).astype(numpy.float32)
    whole = numpy.tanh(x) * 3.0 + x
    split = numpy.empty_like(x)

    def work(part: slice) -> None:
        split[part] = numpy.tanh(x[part]) * 3.0 + x[part]

    cpu_threads.in_parts(work, 64, elements=x.size)
    numpy.testing.assert_array_equal(split, whole)


@pytest.mark.parametrize(
    ("why", "length", "elements"),
    [("small work", 64, 10), ("a length of one", 1, 10**9)],
)
def test_small_work_runs_as_one_call(why: str, length: int, elements: int) -> None:
    cpu_threads.set_cpu_threads(2)
    calls: list[slice] = []
    try:
        with backend.use_cpu():
            cpu_threads.in_parts(calls.append, length, elements)
    finally:
        cpu_threads.set_cpu_threads(None)
    assert calls == [slice(None)], why


def test_work_on_another_device_runs_as_one_call(two_threads: None) -> None:
    calls: list[slice] = []
    with backend.use_emulated():
        cpu_threads.in_parts(calls.append, 64, elements=10**9)
    assert calls == [slice(None)]


def test_work_started_inside_a_part_runs_as_one_call(two_threads: None) -> None:
    inner_calls: list[slice] = []

    def outer(part: slice) -> None:
        calls: list[slice] = []
        cpu_threads.in_parts(calls.append, 8, elements=10**9)
        inner_calls.extend(calls)

    cpu_threads.in_parts(outer, 2, elements=10**9)
    assert inner_calls == [slice(None), slice(None)]


def test_an_error_in_a_worker_part_reaches_the_caller(two_threads: None) -> None:
    def work(part: slice) -> None:
        if part.start == 0:
            raise ValueError("part 0 failed")

    with pytest.raises(ValueError, match="part 0 failed"):
        cpu_threads.in_parts(work, 4, elements=1000)


def test_the_thread_count_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (cpu_threads.THREADS_VARIABLE, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    cpu_threads.set_cpu_threads(None)
    assert cpu_threads.cpu_thread_count() == 3
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "5")  # what NumPy's BLAS reads first
    cpu_threads.set_cpu_threads(None)
    assert cpu_threads.cpu_thread_count() == 5
    monkeypatch.setenv(cpu_threads.THREADS_VARIABLE, "1")
    cpu_threads.set_cpu_threads(None)
    assert cpu_threads.cpu_thread_count() == 1
    cpu_threads.set_cpu_threads(None)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(cpu_threads.THREADS_VARIABLE, value)
    cpu_threads.set_cpu_threads(None)
    with pytest.raises(ConfigError, match=cpu_threads.THREADS_VARIABLE):
        cpu_threads.cpu_thread_count()
    monkeypatch.delenv(cpu_threads.THREADS_VARIABLE)
    cpu_threads.set_cpu_threads(None)
    with pytest.raises(ConfigError, match="at least 1"):
        cpu_threads.set_cpu_threads(0)
