"""Three kernels compiled at run time, so that a broken NVRTC or driver JIT shows up.

On CuPy, :func:`make_kernels` builds one of each kind of user kernel CuPy offers:

- an ``ElementwiseKernel``: ``z = sqrt(x*x + y*y)`` (a hypotenuse, all terms positive);
- a ``ReductionKernel``: the sum of squares of a vector;
- a ``RawKernel`` written in CUDA C++: ``out = a*x + y`` (SAXPY) with a grid-stride loop.

CuPy compiles each one with NVRTC the first time it runs. On NumPy (or the emulated
device) there is no compiler, so stand-ins compute the same functions with ordinary
array operations; the checks in :mod:`nnott.gpucheck.checks` then exercise their logic.
"""

from __future__ import annotations

from typing import Any, Protocol

from nnott.gpucheck.arrays import is_cupy

__all__ = ["SAXPY_SOURCE", "Kernels", "make_kernels"]

SAXPY_SOURCE = r"""
extern "C" __global__
void nnott_saxpy(const float a, const float* x, const float* y, float* out,
                 const long long n)
{
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = a * x[i] + y[i];
    }
}
"""
"""CUDA C++ source of the raw kernel: float32 SAXPY over ``n`` elements."""

THREADS_PER_BLOCK = 256
MAX_BLOCKS = 4096


class Kernels(Protocol):
    """The three kernel functions the checks call; ``compiled`` says whether NVRTC built them."""

    compiled: bool

    def hypot(self, x: Any, y: Any) -> Any: ...

    def sum_of_squares(self, x: Any) -> Any: ...

    def saxpy(self, a: float, x: Any, y: Any) -> Any: ...


class CupyKernels:
    """The real kernels: CuPy's ElementwiseKernel, ReductionKernel and RawKernel."""

    compiled = True

    def __init__(self, cupy: Any) -> None:
        self._cupy = cupy
        self._hypot = cupy.ElementwiseKernel(
            "T x, T y", "T z", "z = sqrt(x * x + y * y)", "nnott_hypot"
        )
        self._sum_of_squares = cupy.ReductionKernel(
            "T x", "T y", "x * x", "a + b", "y = a", "0", "nnott_sum_of_squares"
        )
        self._saxpy = cupy.RawKernel(SAXPY_SOURCE, "nnott_saxpy")

    def hypot(self, x: Any, y: Any) -> Any:
        return self._hypot(x, y)

    def sum_of_squares(self, x: Any) -> Any:
        return self._sum_of_squares(x)

    def saxpy(self, a: float, x: Any, y: Any) -> Any:
        cupy = self._cupy
        if x.dtype != cupy.float32 or y.dtype != cupy.float32:
            raise TypeError("the raw SAXPY kernel takes float32 arrays")
        x, y = cupy.ascontiguousarray(x), cupy.ascontiguousarray(y)
        out = cupy.empty_like(x)
        n = x.size
        blocks = max(1, min(MAX_BLOCKS, -(-n // THREADS_PER_BLOCK)))
        # Kernel arguments must carry the C types exactly: float and long long.
        self._saxpy((blocks,), (THREADS_PER_BLOCK,), (cupy.float32(a), x, y, out, cupy.int64(n)))
        return out


class StandInKernels:
    """Array-operation stand-ins with the same results, for NumPy and the emulated device."""

    compiled = False

    def __init__(self, xp: Any) -> None:
        self._xp = xp

    def hypot(self, x: Any, y: Any) -> Any:
        return self._xp.sqrt(x * x + y * y)

    def sum_of_squares(self, x: Any) -> Any:
        return self._xp.sum(x * x)

    def saxpy(self, a: float, x: Any, y: Any) -> Any:
        return float(a) * x + y


def make_kernels(xp: Any) -> Kernels:
    """The run-time-compiled kernels on CuPy, or their stand-ins on any other module."""
    if is_cupy(xp):
        return CupyKernels(xp)
    return StandInKernels(xp)
