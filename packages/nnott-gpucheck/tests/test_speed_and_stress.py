"""Speed figures and the stress loop on a stand-in module: shapes, arithmetic, detection."""

from __future__ import annotations

import math
from typing import Any

import numpy
import pytest
from conftest import Perturbed

from nnott.gpucheck import stress as stress_module
from nnott.gpucheck.arrays import is_cupy
from nnott.gpucheck.peaks import find_peaks
from nnott.gpucheck.precision import GemmPrecision
from nnott.gpucheck.speed import (
    HostClock,
    Measurement,
    measure_speed,
    seconds_per_call,
)
from nnott.gpucheck.stress import run_stress, throughput_windows

FLOAT32 = GemmPrecision("float32", tf32=False)


def test_speed_reports_every_figure(
    xp: Any, rng: numpy.random.Generator, fast_timing: None
) -> None:
    measurements, failures = measure_speed(xp, 32, FLOAT32, 4096, rng, peaks=None)
    assert failures == []
    names = [m.name for m in measurements]
    assert names[0] == "GEMM 32³ float32"
    assert {"host→device pageable", "device→host pinned", "host→device pinned"} <= set(names)
    for m in measurements:
        if "pinned" in m.name and not is_cupy(xp):  # no pinned memory without CUDA: said
            assert m.value is None and m.detail
        else:
            assert m.value is not None and m.value > 0 and math.isfinite(m.value)
        assert m.share_of_peak is None  # unknown device: no share


def test_a_failing_measurement_becomes_a_failed_check(
    xp: Any, rng: numpy.random.Generator, fast_timing: None
) -> None:
    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("out of memory allocating 268,435,456 bytes")

    measurements, failures = measure_speed(
        Perturbed(xp, copyto=out_of_memory), 16, FLOAT32, 4096, rng, peaks=None
    )
    assert [f.name for f in failures] == ["speed: device memory copy"]
    assert "MemoryError" in failures[0].detail
    assert len(measurements) == 5


def test_share_of_peak_uses_the_published_figure() -> None:
    peaks = find_peaks("NVIDIA H100 80GB HBM3")
    assert peaks is not None
    measurement = Measurement("GEMM", peaks.tf32_tflops / 2, "TFLOP/s", peaks.tf32_tflops)
    assert measurement.share_of_peak == pytest.approx(0.5)
    assert measurement.to_dict()["share_of_peak"] == pytest.approx(0.5)


def test_seconds_per_call_warms_up_probes_and_repeats() -> None:
    calls = []
    seconds = seconds_per_call(lambda: calls.append(1), HostClock(), target_seconds=0.0)
    assert seconds >= 0
    assert len(calls) == 2 + 3  # warm-up, probe, then the minimum number of repeats


def test_throughput_windows_and_their_drift() -> None:
    flops = 2e12
    steady = throughput_windows([1.0] * 20, flops)
    assert len(steady) == 10 and all(value == pytest.approx(2.0) for value in steady)
    slowing = throughput_windows([1.0] * 10 + [2.0] * 10, flops)
    assert slowing[0] == pytest.approx(2.0) and slowing[-1] == pytest.approx(1.0)
    assert throughput_windows([1.0, 1.0, 1.0], flops) == pytest.approx([2.0, 2.0, 2.0])
    assert throughput_windows([], flops) == []


def test_stress_on_a_healthy_module_finds_no_corruption(
    xp: Any, rng: numpy.random.Generator
) -> None:
    seen = []
    result = run_stress(xp, 24, FLOAT32, 0.3, rng, on_progress=seen.append)
    assert result.iterations >= 1
    assert result.mismatched_elements == 0 and result.max_deviation == 0.0
    assert [check.name for check in result.checks] == [
        "stress: first result vs host",
        "stress: results identical",
    ]
    assert all(check.passed for check in result.checks)
    assert result.mean_tflops is not None and result.mean_tflops > 0
    assert seen and seen[-1].iterations <= result.iterations


def test_stress_catches_one_corrupted_result(xp: Any, rng: numpy.random.Generator) -> None:
    calls = 0

    def flaky_matmul(a: Any, b: Any, out: Any = None) -> Any:
        nonlocal calls
        calls += 1
        result = xp.matmul(a, b, out=out)
        if calls == 4:  # the warm-up is call 1; the third product is damaged
            result[1, 2] += 0.25
        return result

    monkey = Perturbed(xp, matmul=flaky_matmul)
    result = run_stress(monkey, 16, FLOAT32, 0.3, rng)
    assert result.iterations >= 3
    verdict = result.checks[-1]
    assert not verdict.passed
    assert result.mismatched_elements == 1 and result.mismatched_iterations == 1
    assert result.max_deviation == pytest.approx(0.25)


def test_stress_stops_cleanly_on_ctrl_c(
    xp: Any, rng: numpy.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(progress: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(stress_module, "PROGRESS_INTERVAL", 0.0)
    result = run_stress(xp, 16, FLOAT32, 60.0, rng, on_progress=interrupt)
    assert result.interrupted
    assert result.seconds_run < 60.0
    assert result.checks[-1].passed
