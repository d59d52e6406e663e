"""``--compare-torch``: time PyTorch's matrix product at the same size and precision.

PyTorch calls the same cuBLAS library, so its GEMM throughput is the yardstick for CuPy's:
a CuPy figure far below PyTorch's on the same device points at the CuPy install (a wrong
wheel, TF32 not in effect), not at the GPU. Timed with CUDA events on the GPU, or with
``perf_counter`` on the CPU when the checks run on a NumPy stand-in.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

__all__ = ["TorchComparison", "compare_with_torch"]


@dataclasses.dataclass(frozen=True)
class TorchComparison:
    """PyTorch's GEMM TFLOP/s and CuPy's share of it, or why there is none."""

    tflops: float | None
    ratio: float | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _torch_seconds_per_call(torch: Any, work: Any, on_gpu: bool, repeats: int) -> float:
    work()  # warm-up
    if on_gpu:
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            work()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0 / repeats
    began = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - began) / repeats


def compare_with_torch(
    size: int,
    dtype: str,
    tf32: bool,
    our_tflops: float | None,
    on_gpu: bool,
    device_index: int = 0,
    repeats: int = 20,
) -> TorchComparison:
    """Time ``torch.matmul`` for N×N matrices; ``on_gpu=False`` times it on the CPU."""
    try:
        import torch
    except ImportError:
        return TorchComparison(None, None, "skipped: PyTorch is not installed")
    if on_gpu and not torch.cuda.is_available():
        return TorchComparison(None, None, "skipped: this PyTorch has no CUDA device")
    device = f"cuda:{device_index}" if on_gpu else "cpu"
    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = torch.randn(size, size, device=device).to(getattr(torch, dtype))
        b = torch.randn(size, size, device=device).to(getattr(torch, dtype))
        c = torch.empty_like(a)
        seconds = _torch_seconds_per_call(torch, lambda: torch.matmul(a, b, out=c), on_gpu, repeats)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32
    tflops = 2.0 * size**3 / seconds / 1e12
    ratio = our_tflops / tflops if our_tflops else None
    where = f"PyTorch {torch.__version__} on {device}"
    return TorchComparison(tflops, ratio, where + (", TF32 allowed" if tf32 else ""))
