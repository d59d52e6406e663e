"""The peaks table, the precision bookkeeping, and the kernels' launch arithmetic."""

from __future__ import annotations

import types
from typing import Any

import numpy
import pytest

from nnott.backend import to_cpu
from nnott.backend.emulated import emulated_module
from nnott.gpucheck.arrays import is_cupy
from nnott.gpucheck.kernels import THREADS_PER_BLOCK, CupyKernels, StandInKernels, make_kernels
from nnott.gpucheck.peaks import KNOWN_DEVICES, find_peaks, peak_gemm_tflops
from nnott.gpucheck.precision import TF32_EPSILON, GemmPrecision, configure_gemm_precision


@pytest.mark.parametrize(
    ("cuda_name", "model"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM5"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H200", "H200 SXM"),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"),
        ("NVIDIA L4", "L4"),
        ("Tesla T4", "T4"),
        ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"),
    ],
)
def test_known_devices_are_found_by_their_cuda_name(cuda_name: str, model: str) -> None:
    peaks = find_peaks(cuda_name)
    assert peaks is not None and peaks.model == model


@pytest.mark.parametrize("cuda_name", ["NVIDIA H200 NVL", "NVIDIA A1000", "Radeon", "", None])
def test_other_devices_are_unknown_rather_than_guessed(cuda_name: str | None) -> None:
    assert find_peaks(cuda_name) is None
    assert peak_gemm_tflops(find_peaks(cuda_name), "float32", tf32=True) is None


def test_the_table_is_consistent() -> None:
    for _pattern, peaks in KNOWN_DEVICES:
        assert peaks.fp32_tflops > 0 and peaks.memory_gbps > 0
        if peaks.tf32_tflops is not None:
            assert peaks.tf32_tflops >= peaks.fp32_tflops
        if peaks.fp16_tflops is not None:
            assert peaks.fp16_tflops >= peaks.fp32_tflops


def test_peak_follows_dtype_and_tf32() -> None:
    peaks = find_peaks("NVIDIA H100 80GB HBM3")
    assert peak_gemm_tflops(peaks, "float32", tf32=True) == peaks.tf32_tflops
    assert peak_gemm_tflops(peaks, "float32", tf32=False) == peaks.fp32_tflops
    assert peak_gemm_tflops(peaks, "float16", tf32=False) == peaks.fp16_tflops
    assert peak_gemm_tflops(peaks, "float64", tf32=False) == peaks.fp64_tflops


def test_precision_epsilon_and_label() -> None:
    assert GemmPrecision("float32", tf32=True).epsilon == TF32_EPSILON
    assert GemmPrecision("float32", tf32=True).label == "float32 (TF32)"
    assert GemmPrecision("float64", tf32=False).epsilon == float(numpy.finfo("float64").eps)
    assert GemmPrecision("float16", tf32=False).label == "float16"


def test_stand_ins_never_use_tf32() -> None:
    for module in (numpy, emulated_module):
        precision = configure_gemm_precision(module, "float32", want_tf32=True)
        assert precision == GemmPrecision("float32", tf32=False)


def test_kernels_compute_the_documented_functions(xp: Any) -> None:
    kernels = make_kernels(xp)
    assert kernels.compiled == is_cupy(xp)
    assert isinstance(kernels, CupyKernels if is_cupy(xp) else StandInKernels)
    x = xp.asarray(numpy.array([3.0, 5.0], dtype=numpy.float32))
    y = xp.asarray(numpy.array([4.0, 12.0], dtype=numpy.float32))
    hypot = numpy.asarray(to_cpu(kernels.hypot(x, y)))
    assert hypot.tolist() == [5.0, 13.0]
    assert float(to_cpu(kernels.sum_of_squares(x))) == 34.0
    assert numpy.asarray(to_cpu(kernels.saxpy(2.0, x, y))).tolist() == [10.0, 22.0]
    assert numpy.asarray(to_cpu(kernels.saxpy(2.0, x, y))).dtype == numpy.float32


class _Recorder:
    """Stands for a CuPy kernel object: records how it was built and called."""

    def __init__(self, *definition: Any) -> None:
        self.definition = definition
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


def test_cupy_kernels_launch_with_exact_c_types_and_a_covering_grid() -> None:
    fake_cupy = types.SimpleNamespace(
        __name__="cupy",
        ElementwiseKernel=_Recorder,
        ReductionKernel=_Recorder,
        RawKernel=_Recorder,
        float32=numpy.float32,
        int64=numpy.int64,
        ascontiguousarray=numpy.ascontiguousarray,
        empty_like=numpy.empty_like,
    )
    kernels = make_kernels(fake_cupy)
    assert isinstance(kernels, CupyKernels) and kernels.compiled
    x = numpy.ones(1000, dtype=numpy.float32)
    kernels.saxpy(1.5, x, x)
    (grid, block, args) = kernels._saxpy.calls[0]
    assert block == (THREADS_PER_BLOCK,)
    assert grid[0] * THREADS_PER_BLOCK >= 1000
    assert type(args[0]) is numpy.float32 and type(args[4]) is numpy.int64 and args[4] == 1000
    with pytest.raises(TypeError, match="float32"):
        kernels.saxpy(1.5, x.astype(numpy.float64), x)
