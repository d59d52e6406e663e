"""The array helpers behind the convolution and pooling layers: layout, padding, im2col, col2im.

The memory layout: images last (CHWN)
-------------------------------------
Every layer takes and returns arrays of the usual shape ``(N, C, H, W)``. In memory, though,
the activations are stored *channels first, images last*: ``(C, H, W, N)``, the layout of
Krizhevsky's cuda-convnet, the library AlexNet was trained with. ``to_chwn(x)`` is the free
``x.transpose(1, 2, 3, 0)`` view, and ``from_chwn`` turns it back. Two reasons:

- A convolution is one matrix product ``W (K, C*kh*kw) @ cols (C*kh*kw, OH*OW*N)``, and its
  result ``(K, OH*OW*N)`` *is* the output in this layout, so handing it on costs nothing.
  The elementwise layers that follow (batch norm, activations) keep the memory order, so
  the next convolution finds its input, and the backward pass its gradient, already laid
  out. Channels first also makes each channel one contiguous row ``(C, H*W*N)``, which is
  what batch norm's per-channel sums want, and a 1x1 convolution's column matrix is the
  input itself.
- With the images innermost, every piece of a spatial window is long. What kernel tap
  ``(i, j)`` sees of a row of output pixels is a run of ``OW*N`` contiguous values (``N``
  per pixel at stride 2), not of ``OW``: 640 values instead of 10 in LeNet's second
  convolution, 256 instead of 4 in ResNet18's last stage. NumPy pays a fixed cost for
  every run it copies or adds, so im2col, col2im and the pooling layers ran 1.5 to 5 times
  faster than with the images outside the pixels (``(C, N, H, W)``, measured on 2 cores).

The column matrix is laid out ``(C, kh, kw, OH, OW, N)``: row ``(c, i, j)`` holds, for every
output pixel of every image, the input value that kernel tap ``(i, j)`` of channel ``c``
sees. It is built from a strided window view (``sliding_window_view``, no Python loop) and
copied once into the contiguous matrix the GEMM needs, on every CPU core: each core copies
the columns of its share of the output rows (:func:`nnott.backend.cpu_threads.in_parts`).

col2im, the way back, adds each kernel tap's slab of column gradients into a zeroed, padded
input-gradient buffer with one strided slice-addition per tap: ``kh*kw`` vectorized
additions, never a loop over pixels and never ``add.at`` (about 10x slower). On the CPU,
each core folds the gradients of its share of the channels.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.backend.cpu_threads import in_parts
from nnott.errors import ConfigError

__all__ = [
    "InputTooSmallError",
    "as_pair",
    "col2im",
    "conv_output_size",
    "from_chwn",
    "im2col",
    "im2col_copies",
    "images_last",
    "pad_chwn",
    "tap_slice",
    "tap_windows",
    "to_chwn",
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


class InputTooSmallError(ConfigError):
    """A layer's (padded) input is smaller than its kernel: the network's input was too small
    for all the layers before it that shrink it."""


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window of ``kernel`` sliding by ``stride`` over ``size + 2*padding``.

    Raises :class:`InputTooSmallError` when the padded input is smaller than the kernel.
    """
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise InputTooSmallError(
            f"input size {size} with padding {padding} is smaller than the kernel {kernel}"
        )
    return out


def to_chwn(x: Any) -> Any:
    """The ``(C, H, W, N)`` view of an ``(N, C, H, W)`` array: free, and contiguous for the
    activations the layers here hand on (see the module docstring)."""
    return x.transpose(1, 2, 3, 0)


def from_chwn(x_chwn: Any) -> Any:
    """The ``(N, C, H, W)`` view of a ``(C, H, W, N)`` array: the inverse of :func:`to_chwn`."""
    return x_chwn.transpose(3, 0, 1, 2)


def images_last(x: Any) -> Any:
    """``x`` (N, C, H, W) stored images-last, as the layers hand arrays on: a copy unless it
    already is. For benchmarks and tests that feed a layer what a network would."""
    return from_chwn(xp.ascontiguousarray(to_chwn(x)))


def pad_chwn(x: Any, padding: int, value: float = 0.0, refill: Any = None) -> Any:
    """The ``(N, C, H, W)`` array ``x`` as a ``(C, H+2p, W+2p, N)`` array with a border.

    The border is filled with ``value`` (0 for convolution and average pooling, ``-inf``
    for max pooling). With ``padding == 0`` this is the free view :func:`to_chwn`.

    ``refill``: an array this function returned earlier for the same ``padding`` and
    ``value``, untouched since; when its shape and dtype fit, only its inside is copied
    again (its border still holds ``value``), which spares the allocation, as im2col's
    ``out`` does.
    """
    x_chwn = to_chwn(x)
    if padding == 0:
        return x_chwn
    c, h, w, n = x_chwn.shape
    shape = (c, h + 2 * padding, w + 2 * padding, n)
    if refill is not None and refill.shape == shape and refill.dtype == x.dtype:
        out = refill
    else:
        out = xp.full(shape, value, dtype=x.dtype)
    out[:, padding : padding + h, padding : padding + w] = x_chwn
    return out


def unpad(x_chwn: Any, padding: int) -> Any:
    """Cut the border of width ``padding`` off a ``(C, H, W, N)`` array (a view)."""
    if padding == 0:
        return x_chwn
    return x_chwn[:, padding:-padding, padding:-padding]


def tap_slice(i: int, j: int, out_h: int, out_w: int, stride: int) -> tuple[Any, ...]:
    """Index of the input pixels that kernel tap ``(i, j)`` sees, for every output pixel.

    ``padded[tap_slice(...)]`` on a padded ``(C, Hp, Wp, N)`` input is a ``(C, OH, OW, N)``
    strided view: element ``[c, oh, ow, n]`` is ``padded[c, i + stride*oh, j + stride*ow, n]``.
    """
    rows = slice(i, i + stride * (out_h - 1) + 1, stride)
    cols = slice(j, j + stride * (out_w - 1) + 1, stride)
    return (slice(None), rows, cols)


def tap_windows(padded: Any, kernel: tuple[int, int], stride: int) -> Any:
    """The ``(C, kh, kw, OH, OW, N)`` window view of a padded ``(C, Hp, Wp, N)`` input.

    Element ``[c, i, j, oh, ow, n]`` is ``padded[c, stride*oh + i, stride*ow + j, n]``:
    the column matrix before it is copied, a strided view with no Python loop.
    """
    windows = xp.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (C, OH, OW, N, kh, kw)
    return windows.transpose(0, 4, 5, 1, 2, 3)


def im2col_copies(kernel: tuple[int, int], stride: int, padding: int) -> bool:
    """Whether :func:`im2col` copies: all but a 1x1, stride-1, unpadded kernel's columns,
    which are the (images-last) input itself."""
    return (*kernel, stride, padding) != (1, 1, 1, 0)


def im2col(x: Any, kernel: tuple[int, int], stride: int, padding: int, out: Any = None) -> Any:
    """Unfold ``x`` (N, C, H, W) into the column matrix ``(C*kh*kw, OH*OW*N)``.

    Row ``c*kh*kw + i*kw + j`` holds what kernel tap ``(i, j)`` of channel ``c`` sees at each
    output pixel, pixels ordered ``(oh, ow, n)``. One copy of the input (times the taps per
    pixel) is made; for a 1x1 kernel with stride 1 over an input stored images-last, none.

    ``out``: a column matrix from an earlier call to fill again when it has the right shape
    and dtype. Fresh memory is not free: the operating system zeroes every new page the
    first time it is touched, which cost about as much as the copy itself for ResNet18's
    115 MB column matrices, every step (see ``Conv2D``).
    """
    kh, kw = kernel
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    taps = tap_windows(pad_chwn(x, padding), kernel, stride)
    if not im2col_copies(kernel, stride, padding):
        return taps.reshape(c, out_h * out_w * n)  # free for an input stored images-last
    rows, columns = c * kh * kw, out_h * out_w * n
    if out is not None and out.shape == (rows, columns) and out.dtype == x.dtype:
        cols = out.reshape(taps.shape)
    else:
        cols = xp.empty(taps.shape, dtype=x.dtype)

    def copy_rows(part: slice) -> None:  # the columns of the output rows in ``part``
        xp.copyto(cols[:, :, :, part], taps[:, :, :, part])

    in_parts(copy_rows, out_h, cols.size)
    return cols.reshape(rows, columns)


def col2im(
    cols: Any,
    input_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: int,
    padding: int,
) -> Any:
    """Fold column gradients ``(C*kh*kw, OH*OW*N)`` back into an input gradient (N, C, H, W).

    The adjoint of :func:`im2col`: every input pixel receives the sum of the column entries
    that were copied from it. One strided slice-addition per kernel tap. The result is the
    ``(N, C, H, W)`` view of an images-last buffer.
    """
    kh, kw = kernel
    n, c, h, w = input_shape
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    cols = cols.reshape(c, kh, kw, out_h, out_w, n)
    if (kh, kw) == (1, 1) and stride == 1 and padding == 0:
        return from_chwn(cols[:, 0, 0])
    grad = xp.zeros((c, h + 2 * padding, w + 2 * padding, n), dtype=cols.dtype)

    def fold_channels(part: slice) -> None:  # taps overlap in space, never across channels
        grad_part, cols_part = grad[part], cols[part]
        for i in range(kh):
            for j in range(kw):
                seen = grad_part[tap_slice(i, j, out_h, out_w, stride)]
                xp.add(seen, cols_part[:, i, j], out=seen)

    in_parts(fold_channels, c, grad.size)
    return from_chwn(unpad(grad, padding))
