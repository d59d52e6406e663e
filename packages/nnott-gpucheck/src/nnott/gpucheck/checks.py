"""Correctness checks: results on the device against a NumPy float64 reference on the host.

Each check takes the array module ``xp`` under test (CuPy on a GPU, NumPy or the emulated
device in tests) and a host random generator, and returns :class:`CheckResult` objects.
Inputs are drawn on the host, copied to the device, computed there, copied back and
compared with the same computation done by NumPy in float64.

Tolerances follow from the arithmetic, never from what a device happened to produce:

- elementwise results are measured in units in the last place (ulp) of the exact result
  rounded to float32. ``+ - *`` are correctly rounded in IEEE arithmetic (0.5 ulp), so the
  tolerance is 1 ulp; division gets 2 ulp (CUDA's bound for its non-IEEE division mode);
  CUDA documents at most 2 ulp for ``exp``, ``sin``, ``cos``, ``tanh`` and 1 ulp for ``log``
  in single precision, and we allow 4 ulp; ``sqrt`` is correctly rounded, allowed 1 ulp.
- a sum of ``n`` terms in any order is off by at most about ``n·u·Σ|x|`` (u = eps/2), and
  with rounding errors of random sign by about ``sqrt(n)·u·Σ|x|`` (Higham & Mary, 2019);
  the tolerance is ``sqrt(n)·eps·Σ|x|``.
- a matrix product entry is a sum of K products: the same probabilistic bound gives
  ``sqrt(K)·eps·(|A||B|)ij``, plus ``2·eps·(|A||B|)ij`` for rounding the inputs when the
  product runs in TF32; the tolerance is ``(2 + sqrt(K))·eps·(|A||B|)ij``.
- ``max``, ``argmax`` and the host-device round trip must be exact.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy

from nnott.gpucheck.arrays import to_device, to_host
from nnott.gpucheck.kernels import Kernels, make_kernels
from nnott.gpucheck.precision import GemmPrecision

__all__ = [
    "ELEMENTWISE_OPS",
    "ElementwiseOp",
    "MATMUL_SHAPES",
    "REDUCTION_SIZES",
    "CheckResult",
    "check_argmax",
    "check_elementwise",
    "check_elementwise_kernel",
    "check_matmul",
    "check_max",
    "check_raw_kernel",
    "check_reduction_kernel",
    "check_round_trip",
    "check_sum",
    "failure",
    "gemm_error_ratio",
    "guarded",
    "random_matrix",
    "run_correctness_checks",
    "ulp_errors",
]

FLOAT32_EPS = float(numpy.finfo(numpy.float32).eps)
ELEMENTWISE_SIZE = 100_003
REDUCTION_SIZES: tuple[int, ...] = (1, 7, 1000, 4097, 1_000_003)
MATMUL_SHAPES: tuple[tuple[int, int, int, bool], ...] = (
    # (M, K, N, A passed transposed)
    (1, 1, 1, False),
    (7, 13, 5, False),
    (64, 64, 64, False),
    (127, 255, 63, False),
    (1000, 1, 513, False),
    (33, 1031, 17, False),
    (256, 512, 384, False),
    (129, 97, 65, True),
)
ROUND_TRIP_BYTES = 8 * 1024 * 1024 + 7


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's verdict: the worst error seen, the tolerance it was held to, and why."""

    name: str
    passed: bool
    max_error: float | None
    tolerance: float | None
    detail: str
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return dataclasses.asdict(self)


def guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; an exception (a failed kernel compile, a CUDA error) fails it, named."""
    try:
        return check()
    except Exception as error:  # the point of the tool: report every failure, keep going
        return failure(name, error)


def failure(name: str, error: BaseException) -> CheckResult:
    """A failed check for an exception, its message squeezed onto one line."""
    message = " ".join(str(error).split()) or "no message"
    return CheckResult(name, False, None, None, f"raised {type(error).__name__}: {message}")


# ------------------------------------------------------------------------ error measures


def ulp_errors(result: numpy.ndarray, reference: numpy.ndarray, dtype: Any) -> numpy.ndarray:
    """``|result - reference|`` in ulps of the reference rounded to ``dtype``; NaN counts as inf."""
    exact = numpy.asarray(reference, dtype=numpy.float64)
    ulp = numpy.spacing(numpy.abs(exact).astype(dtype)).astype(numpy.float64)
    errors = numpy.abs(numpy.asarray(result, dtype=numpy.float64) - exact) / ulp
    return numpy.where(numpy.isnan(errors), numpy.inf, errors)


def _worst(values: numpy.ndarray) -> float:
    return float(numpy.max(values)) if values.size else 0.0


def gemm_error_ratio(
    result: numpy.ndarray, a: numpy.ndarray, b: numpy.ndarray, epsilon: float
) -> float:
    """Worst ``|C - AB|ij / ((2 + sqrt(K))·eps·(|A||B|)ij)`` with AB in float64; ≤ 1 passes."""
    a64, b64 = a.astype(numpy.float64), b.astype(numpy.float64)
    exact = a64 @ b64
    scale = numpy.abs(a64) @ numpy.abs(b64)
    bound = (2.0 + math.sqrt(a.shape[-1])) * epsilon * scale
    error = numpy.abs(numpy.asarray(result, dtype=numpy.float64) - exact)
    # Where every product is zero the exact answer is 0 and any error is too much.
    safe_bound = numpy.where(bound > 0, bound, 1.0)
    ratio = numpy.where(bound > 0, error / safe_bound, numpy.where(error == 0, 0.0, numpy.inf))
    return _worst(numpy.where(numpy.isnan(ratio), numpy.inf, ratio))


# ---------------------------------------------------------------------- elementwise ops


@dataclasses.dataclass(frozen=True)
class ElementwiseOp:
    """An elementwise operation, its float64 reference, its input range and its tolerance."""

    name: str
    device: Callable[[Any, Any, Any], Any]
    host: Callable[[numpy.ndarray, numpy.ndarray], numpy.ndarray]
    low: float
    high: float
    tolerance_ulp: float


ELEMENTWISE_OPS: tuple[ElementwiseOp, ...] = (
    ElementwiseOp("x + y", lambda xp, x, y: x + y, lambda x, y: x + y, 0.5, 2.0, 1.0),
    ElementwiseOp("x - y", lambda xp, x, y: x - y, lambda x, y: x - y, 0.5, 2.0, 1.0),
    ElementwiseOp("x * y", lambda xp, x, y: x * y, lambda x, y: x * y, 0.5, 2.0, 1.0),
    ElementwiseOp("x / y", lambda xp, x, y: x / y, lambda x, y: x / y, 0.5, 2.0, 2.0),
    ElementwiseOp("exp", lambda xp, x, y: xp.exp(x), lambda x, y: numpy.exp(x), -10, 10, 4.0),
    ElementwiseOp("log", lambda xp, x, y: xp.log(x), lambda x, y: numpy.log(x), 1e-3, 1e3, 4.0),
    ElementwiseOp(
        "sin", lambda xp, x, y: xp.sin(x), lambda x, y: numpy.sin(x), -math.pi, math.pi, 4.0
    ),
    ElementwiseOp(
        "cos", lambda xp, x, y: xp.cos(x), lambda x, y: numpy.cos(x), -math.pi, math.pi, 4.0
    ),
    ElementwiseOp("tanh", lambda xp, x, y: xp.tanh(x), lambda x, y: numpy.tanh(x), -5, 5, 4.0),
    ElementwiseOp("sqrt", lambda xp, x, y: xp.sqrt(x), lambda x, y: numpy.sqrt(x), 1e-4, 1e4, 1.0),
)


def check_elementwise(
    xp: Any, rng: numpy.random.Generator, op: ElementwiseOp, size: int = ELEMENTWISE_SIZE
) -> CheckResult:
    """One elementwise operation on ``size`` float32 values, error in ulps."""
    x_host = rng.uniform(op.low, op.high, size).astype(numpy.float32)
    y_host = rng.uniform(op.low, op.high, size).astype(numpy.float32)
    result = to_host(op.device(xp, to_device(xp, x_host), to_device(xp, y_host)))
    reference = op.host(x_host.astype(numpy.float64), y_host.astype(numpy.float64))
    errors = ulp_errors(result, reference, numpy.float32)
    worst = _worst(errors)
    where = int(numpy.argmax(errors))
    return CheckResult(
        f"elementwise {op.name}",
        worst <= op.tolerance_ulp,
        worst,
        op.tolerance_ulp,
        f"float32, {size:,} values in [{op.low:g}, {op.high:g}]; "
        f"worst at x={float(x_host[where]):.9g}",
        "ulp",
    )


# --------------------------------------------------------------------------- reductions


def check_sum(
    xp: Any, rng: numpy.random.Generator, sizes: tuple[int, ...] = REDUCTION_SIZES
) -> CheckResult:
    """``sum`` of float32 vectors (and of a matrix along each axis) against float64."""
    cases: list[tuple[str, numpy.ndarray, int | None]] = [
        (f"n={n:,}", rng.standard_normal(n).astype(numpy.float32), None) for n in sizes
    ]
    matrix = rng.standard_normal((129, 1001)).astype(numpy.float32)
    cases += [("129×1001 axis 0", matrix, 0), ("129×1001 axis 1", matrix, 1)]
    worst, worst_case = 0.0, ""
    for label, host, axis in cases:
        result = to_host(xp.sum(to_device(xp, host), axis=axis))
        exact = numpy.sum(host.astype(numpy.float64), axis=axis)
        count = host.size if axis is None else host.shape[axis]
        bound = math.sqrt(count) * FLOAT32_EPS * numpy.sum(numpy.abs(host), axis=axis, dtype="f8")
        ratio = _worst(numpy.nan_to_num(numpy.abs(result - exact) / bound, nan=numpy.inf))
        if ratio >= worst:
            worst, worst_case = ratio, label
    return CheckResult(
        "reduction sum",
        worst <= 1.0,
        worst,
        1.0,
        f"float32, sizes {', '.join(f'{n:,}' for n in sizes)} and a 129×1001 matrix by axis; "
        f"worst {worst_case}",
        "× sqrt(n)·eps·Σ|x|",
    )


def _distinct_values(rng: numpy.random.Generator, n: int) -> numpy.ndarray:
    """``n`` distinct float32 values in random order, so max and argmax have one answer."""
    return (rng.permutation(n).astype(numpy.float32) - numpy.float32(n // 2)) * numpy.float32(0.5)


def check_max(
    xp: Any, rng: numpy.random.Generator, sizes: tuple[int, ...] = REDUCTION_SIZES
) -> CheckResult:
    """``max`` must return the largest element exactly."""
    worst, wrong = 0.0, []
    for n in sizes:
        host = _distinct_values(rng, n)
        result = float(to_host(xp.max(to_device(xp, host))))
        error = abs(result - float(host.max()))
        if error != 0.0:  # NaN too
            wrong.append(f"n={n:,}")
            worst = max(worst, error if error == error else math.inf)
    detail = f"float32, sizes {', '.join(f'{n:,}' for n in sizes)}"
    return CheckResult(
        "reduction max",
        not wrong,
        worst,
        0.0,
        detail + (f"; wrong for {', '.join(wrong)}" if wrong else ""),
        "absolute",
    )


def check_argmax(
    xp: Any, rng: numpy.random.Generator, sizes: tuple[int, ...] = REDUCTION_SIZES
) -> CheckResult:
    """``argmax`` must return the index of the (unique) largest element."""
    wrong = []
    for n in sizes:
        host = _distinct_values(rng, n)
        result = int(to_host(xp.argmax(to_device(xp, host))))
        if result != int(host.argmax()):
            wrong.append(f"n={n:,} gave {result}, expected {int(host.argmax())}")
    detail = f"float32, sizes {', '.join(f'{n:,}' for n in sizes)}"
    return CheckResult(
        "reduction argmax",
        not wrong,
        float(len(wrong)),
        0.0,
        detail + (f"; {'; '.join(wrong)}" if wrong else ""),
        "wrong indices",
    )


# ---------------------------------------------------------------------- matrix products


def random_matrix(rng: numpy.random.Generator, shape: tuple[int, int], dtype: Any) -> numpy.ndarray:
    """Entries of random sign with magnitudes in [0.5, 1]: no product falls into float16's
    subnormal range, where the relative error bound above does not hold."""
    magnitudes = rng.uniform(0.5, 1.0, shape)
    return (magnitudes * rng.choice((-1.0, 1.0), shape)).astype(dtype)


def check_matmul(
    xp: Any,
    rng: numpy.random.Generator,
    precision: GemmPrecision,
    shapes: tuple[tuple[int, int, int, bool], ...] = MATMUL_SHAPES,
) -> CheckResult:
    """``matmul`` at several shapes, odd ones and a transposed operand included."""
    dtype = numpy.dtype(precision.dtype)
    worst, worst_shape = 0.0, ""
    for m, k, n, transposed in shapes:
        a_host = random_matrix(rng, (m, k), dtype)
        b_host = random_matrix(rng, (k, n), dtype)
        if transposed:  # hand the device a transposed view: another cuBLAS code path
            a_device = to_device(xp, numpy.ascontiguousarray(a_host.T)).T
        else:
            a_device = to_device(xp, a_host)
        result = to_host(xp.matmul(a_device, to_device(xp, b_host)))
        ratio = gemm_error_ratio(result, a_host, b_host, precision.epsilon)
        if ratio >= worst:
            worst, worst_shape = ratio, f"{m}×{k} @ {k}×{n}" + (" (Aᵀ view)" if transposed else "")
    return CheckResult(
        f"matmul {precision.label}",
        worst <= 1.0,
        worst,
        1.0,
        f"{len(shapes)} shapes from 1×1 @ 1×1 to 256×512 @ 512×384; worst {worst_shape}",
        "× (2+sqrt(K))·eps·|A||B|",
    )


# ------------------------------------------------------------------------------ kernels


def _kernel_note(kernels: Kernels) -> str:
    return "compiled with NVRTC" if kernels.compiled else "stand-in: no compiler on this module"


def check_elementwise_kernel(
    xp: Any, rng: numpy.random.Generator, kernels: Kernels, size: int = ELEMENTWISE_SIZE
) -> CheckResult:
    """The ElementwiseKernel ``sqrt(x*x + y*y)``: three roundings and a sqrt, 4 ulp allowed."""
    x_host = rng.uniform(0.5, 2.0, size).astype(numpy.float32)
    y_host = rng.uniform(0.5, 2.0, size).astype(numpy.float32)
    result = to_host(kernels.hypot(to_device(xp, x_host), to_device(xp, y_host)))
    x64, y64 = x_host.astype(numpy.float64), y_host.astype(numpy.float64)
    worst = _worst(ulp_errors(result, numpy.sqrt(x64 * x64 + y64 * y64), numpy.float32))
    return CheckResult(
        "ElementwiseKernel sqrt(x²+y²)",
        worst <= 4.0,
        worst,
        4.0,
        f"float32, {size:,} values; {_kernel_note(kernels)}",
        "ulp",
    )


def check_reduction_kernel(
    xp: Any, rng: numpy.random.Generator, kernels: Kernels, size: int = 1_000_003
) -> CheckResult:
    """The ReductionKernel Σx² (positive terms), held to the summation bound."""
    host = rng.standard_normal(size).astype(numpy.float32)
    result = float(to_host(kernels.sum_of_squares(to_device(xp, host))))
    squares = host.astype(numpy.float64) ** 2
    exact = float(squares.sum())
    error = abs(result - exact) / (math.sqrt(size) * FLOAT32_EPS * exact)
    error = error if error == error else math.inf
    return CheckResult(
        "ReductionKernel Σx²",
        error <= 1.0,
        error,
        1.0,
        f"float32, n={size:,}; {_kernel_note(kernels)}",
        "× sqrt(n)·eps·Σx²",
    )


def check_raw_kernel(
    xp: Any, rng: numpy.random.Generator, kernels: Kernels, size: int = ELEMENTWISE_SIZE
) -> CheckResult:
    """The RawKernel SAXPY ``a*x + y`` on positive values: two roundings, 2 ulp allowed."""
    a = 1.7
    x_host = rng.uniform(0.5, 2.0, size).astype(numpy.float32)
    y_host = rng.uniform(0.5, 2.0, size).astype(numpy.float32)
    result = to_host(kernels.saxpy(a, to_device(xp, x_host), to_device(xp, y_host)))
    a32 = float(numpy.float32(a))  # the kernel receives a as float32
    exact = a32 * x_host.astype(numpy.float64) + y_host.astype(numpy.float64)
    worst = _worst(ulp_errors(result, exact, numpy.float32))
    return CheckResult(
        "RawKernel saxpy a·x+y",
        worst <= 2.0,
        worst,
        2.0,
        f"float32, {size:,} values; {_kernel_note(kernels)}",
        "ulp",
    )


# ---------------------------------------------------------------------------- transfer


def check_round_trip(
    xp: Any, rng: numpy.random.Generator, nbytes: int = ROUND_TRIP_BYTES
) -> CheckResult:
    """Random bytes copied host → device → host must come back identical."""
    host = rng.integers(0, 256, nbytes, dtype=numpy.uint8)
    back = to_host(to_device(xp, host))
    wrong = int(numpy.count_nonzero(back != host)) if back.shape == host.shape else nbytes
    return CheckResult(
        "host↔device round trip",
        wrong == 0,
        float(wrong),
        0.0,
        f"{nbytes:,} random bytes",
        "bytes changed",
    )


# ---------------------------------------------------------------------------- together


def run_correctness_checks(
    xp: Any, precision: GemmPrecision, rng: numpy.random.Generator
) -> list[CheckResult]:
    """Every correctness check, in report order; an exception fails only its own check."""
    results = [
        guarded(f"elementwise {op.name}", functools.partial(check_elementwise, xp, rng, op))
        for op in ELEMENTWISE_OPS
    ]
    results.append(guarded("reduction sum", lambda: check_sum(xp, rng)))
    results.append(guarded("reduction max", lambda: check_max(xp, rng)))
    results.append(guarded("reduction argmax", lambda: check_argmax(xp, rng)))
    results.append(guarded(f"matmul {precision.label}", lambda: check_matmul(xp, rng, precision)))
    try:
        kernels = make_kernels(xp)
    except Exception as error:  # building the kernel objects already failed
        results.append(failure("user kernels", error))
    else:
        results.append(
            guarded("ElementwiseKernel", lambda: check_elementwise_kernel(xp, rng, kernels))
        )
        results.append(guarded("ReductionKernel", lambda: check_reduction_kernel(xp, rng, kernels)))
        results.append(guarded("RawKernel", lambda: check_raw_kernel(xp, rng, kernels)))
    results.append(guarded("host↔device round trip", lambda: check_round_trip(xp, rng)))
    return results
