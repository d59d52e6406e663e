"""Which precision a matrix product really runs in, and the rounding unit that goes with it.

Tolerances in this package scale with the machine epsilon of the arithmetic that actually
ran: float64 (2^-52), float32 (2^-23), float16 (2^-10), or TF32 (2^-10) when float32
matrix products run on the tensor cores of a device of compute capability 8.0 or newer.
TF32 keeps float32's range but only 10 mantissa bits, which is why it is reported apart.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy

from nnott.gpucheck.arrays import is_cupy

__all__ = ["DTYPES", "TF32_EPSILON", "GemmPrecision", "configure_gemm_precision"]

DTYPES: tuple[str, ...] = ("float32", "float16", "float64")
TF32_EPSILON = 2.0**-10
"""Machine epsilon of TF32 (10 explicit mantissa bits, as float16)."""


@dataclasses.dataclass(frozen=True)
class GemmPrecision:
    """The dtype of the matrix products and whether TF32 tensor cores compute them."""

    dtype: str
    tf32: bool

    @property
    def epsilon(self) -> float:
        """Machine epsilon of the arithmetic the products run in."""
        if self.tf32:
            return TF32_EPSILON
        return float(numpy.finfo(self.dtype).eps)

    @property
    def label(self) -> str:
        """``float32 (TF32)``, ``float16``, ...: how the report names this precision."""
        return f"{self.dtype} (TF32)" if self.tf32 else self.dtype


def _tf32_capable(cupy: Any) -> bool:
    """True on compute capability 8.0 and newer; False when it cannot even be read."""
    try:
        major, _minor = _compute_capability(cupy)
    except Exception:
        return False
    return major >= 8


def _compute_capability(cupy: Any) -> tuple[int, int]:
    text = str(cupy.cuda.Device().compute_capability)  # e.g. "90"
    return int(text[:-1]), int(text[-1])


def configure_gemm_precision(xp: Any, dtype: str, want_tf32: bool) -> GemmPrecision:
    """Switch CuPy's float32 matrix products to TF32 (or back) and say what is in effect.

    TF32 is used only for float32, only when asked, and only where the device has it
    (compute capability 8.0 or newer). CuPy reads its ``CUPY_TF32`` setting once per dtype,
    so the compute type is set directly through CuPy's linear-algebra core, with the
    environment variable as the fallback for CuPy versions without that function.
    NumPy stand-ins never use TF32.
    """
    use_tf32 = dtype == "float32" and want_tf32 and is_cupy(xp) and _tf32_capable(xp)
    if not is_cupy(xp):
        return GemmPrecision(dtype, tf32=False)
    try:
        from cupy._core import _routines_linalg as linalg_core

        compute_type = (
            linalg_core.COMPUTE_TYPE_TF32 if use_tf32 else linalg_core.COMPUTE_TYPE_DEFAULT
        )
        linalg_core.set_compute_type(numpy.dtype("float32"), compute_type)
        in_effect = linalg_core.get_compute_type(numpy.dtype("float32"))
        use_tf32 = use_tf32 and in_effect == linalg_core.COMPUTE_TYPE_TF32
    except (ImportError, AttributeError):
        os.environ["CUPY_TF32"] = "1" if use_tf32 else "0"
    return GemmPrecision(dtype, tf32=use_tf32)
