"""The correctness checks pass on a healthy module and fail, by name, on a broken one."""

from __future__ import annotations

import math
from typing import Any

import numpy
import pytest
from conftest import Perturbed

from nnott.gpucheck import checks
from nnott.gpucheck.checks import (
    ELEMENTWISE_OPS,
    check_argmax,
    check_elementwise,
    check_matmul,
    check_max,
    check_round_trip,
    check_sum,
    gemm_error_ratio,
    guarded,
    run_correctness_checks,
    ulp_errors,
)
from nnott.gpucheck.precision import GemmPrecision

FLOAT32 = GemmPrecision("float32", tf32=False)


def test_every_check_passes_on_a_healthy_module(xp: Any, rng: numpy.random.Generator) -> None:
    results = run_correctness_checks(xp, FLOAT32, rng)
    failed = [(r.name, r.max_error, r.tolerance, r.detail) for r in results if not r.passed]
    assert not failed
    names = [result.name for result in results]
    assert len(names) == len(set(names))
    assert {"reduction sum", "reduction max", "reduction argmax", "matmul float32"} <= set(names)
    assert any(name.startswith("RawKernel") for name in names)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_matmul_passes_in_every_dtype(xp: Any, rng: numpy.random.Generator, dtype: str) -> None:
    result = check_matmul(xp, rng, GemmPrecision(dtype, tf32=False))
    assert result.passed, result
    assert result.name == f"matmul {dtype}"


def test_a_wrong_transcendental_fails_and_says_by_how_much(
    xp: Any, rng: numpy.random.Generator
) -> None:
    broken = Perturbed(xp, exp=lambda x: xp.exp(x) * 1.0001)
    op = next(op for op in ELEMENTWISE_OPS if op.name == "exp")
    result = check_elementwise(broken, rng, op, size=1000)
    assert not result.passed
    assert result.name == "elementwise exp"
    assert result.max_error > 100 * result.tolerance  # 1e-4 relative is hundreds of ulps


def test_a_sum_that_drops_an_element_fails(xp: Any, rng: numpy.random.Generator) -> None:
    def short_sum(x: Any, axis: Any = None) -> Any:
        return xp.sum(x[..., :-1], axis=axis) if x.ndim == 1 else xp.sum(x, axis=axis) * 1.01

    result = check_sum(Perturbed(xp, sum=short_sum), rng, sizes=(7, 1000))
    assert not result.passed


def test_wrong_max_and_argmax_fail(xp: Any, rng: numpy.random.Generator) -> None:
    broken = Perturbed(xp, max=lambda x: xp.min(x), argmax=lambda x: xp.argmin(x))
    assert not check_max(broken, rng, sizes=(5, 1001)).passed
    result = check_argmax(broken, rng, sizes=(5, 1001))
    assert not result.passed and result.max_error == 2.0


def test_a_wrong_matrix_product_fails(xp: Any, rng: numpy.random.Generator) -> None:
    broken = Perturbed(xp, matmul=lambda a, b: xp.matmul(a, b) * 1.001)
    result = check_matmul(broken, rng, FLOAT32)
    assert not result.passed
    assert "worst" in result.detail


def test_a_corrupting_copy_fails_the_round_trip(xp: Any, rng: numpy.random.Generator) -> None:
    def corrupting_asarray(host: numpy.ndarray) -> Any:
        damaged = host.copy()
        damaged[len(damaged) // 2] ^= 0xFF
        return xp.asarray(damaged)

    result = check_round_trip(Perturbed(xp, asarray=corrupting_asarray), rng, nbytes=1001)
    assert not result.passed and result.max_error == 1.0


def test_an_exception_fails_only_its_own_check() -> None:
    result = guarded("division", lambda: 1 / 0)
    assert not result.passed
    assert result.max_error is None
    assert "ZeroDivisionError" in result.detail


def test_a_kernel_that_cannot_compile_fails_the_kernel_checks(
    xp: Any, rng: numpy.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_compiler(module: Any) -> Any:
        raise RuntimeError("nvrtc: error: failed to load\nlibnvrtc.so")

    monkeypatch.setattr(checks, "make_kernels", no_compiler)
    results = run_correctness_checks(xp, FLOAT32, rng)
    failed = [result for result in results if not result.passed]
    assert [result.name for result in failed] == ["user kernels"]
    assert "failed to load libnvrtc.so" in failed[0].detail  # squeezed onto one line


def test_ulp_errors_counts_units_in_the_last_place() -> None:
    exact = numpy.array([1.0, 3.0, 1e-3])
    as_float32 = exact.astype(numpy.float32)
    one_up = numpy.nextafter(as_float32, numpy.float32(numpy.inf))
    assert numpy.all(ulp_errors(as_float32, as_float32.astype(numpy.float64), numpy.float32) == 0)
    numpy.testing.assert_allclose(
        ulp_errors(one_up, as_float32.astype(numpy.float64), numpy.float32), 1.0
    )
    assert ulp_errors(numpy.array([numpy.nan]), numpy.array([1.0]), numpy.float32)[0] == math.inf


def test_gemm_error_ratio_scales_with_the_bound() -> None:
    a = numpy.full((2, 4), 0.5)
    b = numpy.full((4, 3), 0.5)
    exact = a @ b
    assert gemm_error_ratio(exact, a, b, 2.0**-23) == 0.0
    bound = (2 + math.sqrt(4)) * 2.0**-23 * (numpy.abs(a) @ numpy.abs(b))
    assert gemm_error_ratio(exact + bound / 2, a, b, 2.0**-23) == pytest.approx(0.5)
    zeros = numpy.zeros((2, 4))
    assert gemm_error_ratio(numpy.ones((2, 3)), zeros, b, 2.0**-23) == math.inf
