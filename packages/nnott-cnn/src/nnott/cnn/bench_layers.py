"""How fast is a convolution here, against the fastest thing this machine can do?

A convolution built as im2col plus GEMM can never beat the matrix product it is made of,
so the honest yardstick is the GEMM "roof": the GFLOP/s of one large float32 matrix
product through the same ``xp`` (NumPy's BLAS on the CPU, cuBLAS on the GPU), measured
in the same process. :func:`conv2d_benchmark` times one :class:`~nnott.cnn.conv.Conv2D`
forward and backward pass and reports both, so a learner sees how close the layer gets.

    >>> from nnott.cnn.bench_layers import conv2d_benchmark
    >>> print(conv2d_benchmark())          # N32 C64 32x32 K64 3x3, on the active device

Timings use :class:`nnott.backend.Timer`, which waits for the GPU at both ends, and
report the best of ``repeats`` runs after a warm-up (the least disturbed by other work on
the machine). This is a measuring tool, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from nnott.backend import Timer, current_device, rng, to_device, xp
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import images_last
from nnott.vectorized.module import Module

__all__ = [
    "ConvBenchmark",
    "best_time",
    "conv2d_benchmark",
    "gemm_roof_gflops",
    "time_forward_backward",
]


def best_time(run: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """The shortest wall time of ``run()`` in seconds over ``repeats`` timed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(max(1, repeats)):
        with Timer() as timer:
            run()
        times.append(timer.elapsed)
    return min(times)


def gemm_roof_gflops(
    size: int = 2048,
    repeats: int = 3,
    dtype: Any = "float32",
    *,
    seconds: Callable[[Callable[[], Any], int], float] = best_time,
) -> float:
    """GFLOP/s of one ``size x size`` by ``size x size`` matrix product on the active device.

    ``seconds(run, repeats)`` turns ``repeats`` timed calls into one time: the best call
    (:func:`best_time`) unless a caller that times its layers another way passes that way,
    so that the roof and the layers it is compared with share one statistic.
    """
    a = to_device(rng().standard_normal((size, size)), dtype=dtype)
    b = to_device(rng().standard_normal((size, size)), dtype=dtype)
    return 2.0 * size**3 / seconds(lambda: xp.matmul(a, b), repeats) / 1e9


def time_forward_backward(
    module: Module, x: Any, repeats: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Best forward and best backward time (seconds) of ``module`` on the device array ``x``.

    The gradient fed back is ones, so the backward pass does its full work.
    """
    y = module.forward(x)
    grad = images_last(xp.ones(y.shape, dtype=y.dtype))
    forward = best_time(lambda: module.forward(x), repeats, warmup)
    # backward reuses what the last forward pass cached; gradients pile up, then are reset
    backward = best_time(lambda: module.backward(grad), repeats, warmup)
    module.zero_grad()
    return forward, backward


@dataclasses.dataclass
class ConvBenchmark:
    """One convolution's timings and rates next to the GEMM roof of the same device."""

    description: str
    device: str
    forward_ms: float
    backward_ms: float
    forward_gflops: float
    backward_gflops: float
    roof_gflops: float

    def __str__(self) -> str:
        roof = self.roof_gflops
        return (
            f"Conv2D {self.description} on {self.device}\n"
            f"  forward   {self.forward_ms:8.2f} ms  {self.forward_gflops:8.1f} GFLOP/s"
            f"  ({100 * self.forward_gflops / roof:.0f}% of GEMM roof)\n"
            f"  backward  {self.backward_ms:8.2f} ms  {self.backward_gflops:8.1f} GFLOP/s"
            f"  ({100 * self.backward_gflops / roof:.0f}% of GEMM roof)\n"
            f"  GEMM roof {roof:8.1f} GFLOP/s (float32 matmul, same device)"
        )


def conv2d_benchmark(
    batch: int = 32,
    in_channels: int = 64,
    size: int = 32,
    out_channels: int = 64,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    groups: int = 1,
    *,
    repeats: int = 5,
    roof_size: int = 2048,
) -> ConvBenchmark:
    """Time one float32 Conv2D forward and backward pass and the GEMM roof.

    FLOPs counted: ``2 * N * K * OH * OW * (C / groups) * kh * kw`` for the forward pass,
    twice that for the backward pass (the weight and the input gradients); the col2im
    additions and the bias are not counted.
    """
    conv = Conv2D(in_channels, out_channels, kernel_size, stride, padding, groups)
    images = rng().standard_normal((batch, in_channels, size, size))
    x = images_last(to_device(images, dtype="float32"))  # as a layer inside a network sees it
    n, k, out_h, out_w = conv.output_shape(x.shape)
    flops = 2.0 * n * k * out_h * out_w * (in_channels // groups) * kernel_size**2
    forward, backward = time_forward_backward(conv, x, repeats)
    description = (
        f"N{batch} C{in_channels} {size}x{size} K{out_channels} {kernel_size}x{kernel_size}"
        f" stride {stride} padding {padding}" + (f" groups {groups}" if groups > 1 else "")
    )
    return ConvBenchmark(
        description=description,
        device=current_device(),
        forward_ms=1e3 * forward,
        backward_ms=1e3 * backward,
        forward_gflops=flops / forward / 1e9,
        backward_gflops=2.0 * flops / backward / 1e9,
        roof_gflops=gemm_roof_gflops(roof_size),
    )


if __name__ == "__main__":
    print(conv2d_benchmark())
