"""The array helpers behind the convolution and pooling layers: padding, im2col, col2im.

The memory layout: channel-major
--------------------------------
Every layer takes and returns arrays of the usual shape ``(N, C, H, W)``. Inside, the helpers
here work on the *channel-major* view ``(C, N, H, W)`` of the same array
(``x.transpose(1, 0, 2, 3)``, free: no copy). Why: a convolution is one matrix product
``W (K, C*kh*kw) @ cols (C*kh*kw, N*OH*OW)``, and its result has shape ``(K, N*OH*OW)``,
which *is* the channel-major output ``(K, N, OH, OW)``. Handing that on as the
``(N, K, OH, OW)`` view costs nothing, and the elementwise layers that follow (batch norm,
activations) keep that memory order, so the next convolution finds its input, and the
backward pass its gradient, already channel-major. For a 1x1 convolution the column matrix
is then the input itself, without a copy.

The column matrix is laid out ``(C, kh, kw, N, OH, OW)``: row ``(c, i, j)`` holds, for every
output pixel, the input value that kernel tap ``(i, j)`` of channel ``c`` sees. It is built
from a strided window view (``sliding_window_view``, no Python loop) and copied once into
the contiguous matrix the GEMM needs, on every CPU core: each core copies the columns of
its share of the images (:func:`nnott.backend.cpu_threads.in_parts`). That order was
2.5-4x faster than the other layouts tried (see ``NOTES-performance.md``), because the
GEMM streams over long contiguous rows.

col2im, the way back, adds each kernel tap's slab of column gradients into a zeroed, padded
input-gradient buffer with one strided slice-addition per tap: ``kh*kw`` vectorized
additions, never a loop over pixels and never ``add.at`` (about 10x slower). On the CPU,
each core folds the gradients of its share of the images.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.backend.cpu_threads import in_parts
from nnott.errors import ConfigError

__all__ = [
    "as_pair",
    "col2im",
    "conv_output_size",
    "im2col",
    "pad_channel_major",
    "tap_slice",
    "unpad",
]


def as_pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is a :class:`ConfigError`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ConfigError(f"{name} must be an int or a pair of ints, not {value!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window of ``kernel`` sliding by ``stride`` over ``size + 2*padding``.

    Raises :class:`ConfigError` when the padded input is smaller than the kernel.
    """
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ConfigError(
            f"input size {size} with padding {padding} is smaller than the kernel {kernel}"
        )
    return out


def pad_channel_major(x: Any, padding: int, value: float = 0.0) -> Any:
    """The ``(N, C, H, W)`` array ``x`` as a channel-major ``(C, N, H+2p, W+2p)`` array.

    The border is filled with ``value`` (0 for convolution and average pooling, ``-inf``
    for max pooling). With ``padding == 0`` this is the free transposed view of ``x``.
    """
    x_cm = x.transpose(1, 0, 2, 3)
    if padding == 0:
        return x_cm
    c, n, h, w = x_cm.shape
    out = xp.full((c, n, h + 2 * padding, w + 2 * padding), value, dtype=x.dtype)
    out[:, :, padding : padding + h, padding : padding + w] = x_cm
    return out


def unpad(x_cm: Any, padding: int) -> Any:
    """Cut the border of width ``padding`` off a ``(C, N, H, W)`` array (a view)."""
    if padding == 0:
        return x_cm
    return x_cm[:, :, padding:-padding, padding:-padding]


def tap_slice(i: int, j: int, out_h: int, out_w: int, stride: int) -> tuple[Any, ...]:
    """Index of the input pixels that kernel tap ``(i, j)`` sees, for every output pixel.

    ``padded[tap_slice(...)]`` on a channel-major padded input is a ``(C, N, OH, OW)``
    strided view: element ``[c, n, oh, ow]`` is ``padded[c, n, i + stride*oh, j + stride*ow]``.
    """
    rows = slice(i, i + stride * (out_h - 1) + 1, stride)
    cols = slice(j, j + stride * (out_w - 1) + 1, stride)
    return (slice(None), slice(None), rows, cols)


def im2col(x: Any, kernel: tuple[int, int], stride: int, padding: int) -> Any:
    """Unfold ``x`` (N, C, H, W) into the column matrix ``(C*kh*kw, N*OH*OW)``.

    Row ``c*kh*kw + i*kw + j`` holds what kernel tap ``(i, j)`` of channel ``c`` sees at each
    output pixel, pixels ordered ``(n, oh, ow)``. One copy of the input (times the taps per
    pixel) is made; for a 1x1 kernel with stride 1 over a channel-major input, none.
    """
    kh, kw = kernel
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    padded = pad_channel_major(x, padding)
    windows = xp.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (C, N, OH, OW, kh, kw)
    taps = windows.transpose(0, 4, 5, 1, 2, 3)  # (C, kh, kw, N, OH, OW), still a view
    if (kh, kw, stride, padding) == (1, 1, 1, 0):
        return taps.reshape(c, n * out_h * out_w)  # free for a channel-major input
    cols = xp.empty(taps.shape, dtype=x.dtype)

    def copy_images(part: slice) -> None:
        xp.copyto(cols[:, :, :, part], taps[:, :, :, part])

    in_parts(copy_images, n, cols.size)
    return cols.reshape(c * kh * kw, n * out_h * out_w)


def col2im(
    cols: Any,
    input_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: int,
    padding: int,
) -> Any:
    """Fold column gradients ``(C*kh*kw, N*OH*OW)`` back into an input gradient (N, C, H, W).

    The adjoint of :func:`im2col`: every input pixel receives the sum of the column entries
    that were copied from it. One strided slice-addition per kernel tap. The result is the
    ``(N, C, H, W)`` view of a channel-major buffer.
    """
    kh, kw = kernel
    n, c, h, w = input_shape
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    cols = cols.reshape(c, kh, kw, n, out_h, out_w)
    if (kh, kw) == (1, 1) and stride == 1 and padding == 0:
        return cols[:, 0, 0].transpose(1, 0, 2, 3)
    grad = xp.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)

    def fold_images(part: slice) -> None:
        grad_part, cols_part = grad[:, part], cols[:, :, :, part]
        for i in range(kh):
            for j in range(kw):
                seen = grad_part[tap_slice(i, j, out_h, out_w, stride)]
                xp.add(seen, cols_part[:, i, j], out=seen)

    in_parts(fold_images, n, grad.size)
    return unpad(grad, padding).transpose(1, 0, 2, 3)
