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

The window view needs the input with its zero border, a padded copy of the input made
first. With stride 2 that copy is big next to the columns (the input has four times the
output's pixels): for ResNet18's 64-to-128 layer on 28x28 maps it is half the column
matrix's size and took a third of im2col's time. So a big strided convolution on the CPU
copies its columns from the unpadded input instead (:func:`copies_without_padding`): the
output pixels whose windows lie inside the input take one window-view copy, and only
the pixels on the output's edges, whose windows reach into the border, are filled tap by
tap, with zeros where a tap sees the border.

col2im, the way back, adds each kernel tap's slab of column gradients into a zeroed, padded
input-gradient buffer with one strided slice-addition per tap: ``kh*kw`` vectorized
additions, never a loop over pixels and never ``add.at`` (about 10x slower). On the CPU,
each core folds the gradients of its share of the channels.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import current_device, xp
from nnott.backend.cpu_threads import in_parts
from nnott.errors import ConfigError

__all__ = [
    "MAX_EDGE_SHARE",
    "MIN_UNPADDED_COLUMNS",
    "InputTooSmallError",
    "as_pair",
    "col2im",
    "conv_output_size",
    "copies_without_padding",
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
    if not im2col_copies(kernel, stride, padding):
        return to_chwn(x).reshape(c, out_h * out_w * n)  # free for an input stored images-last
    rows, columns = c * kh * kw, out_h * out_w * n
    shape = (c, kh, kw, out_h, out_w, n)
    if out is not None and out.shape == (rows, columns) and out.dtype == x.dtype:
        cols = out.reshape(shape)
    else:
        cols = xp.empty(shape, dtype=x.dtype)
    if copies_without_padding((h, w), kernel, stride, padding, cols.size):
        _copy_columns_from_unpadded(to_chwn(x), cols, stride, padding)
        return cols.reshape(rows, columns)
    taps = tap_windows(pad_chwn(x, padding), kernel, stride)

    def copy_rows(part: slice) -> None:  # the columns of the output rows in ``part``
        xp.copyto(cols[:, :, :, part], taps[:, :, :, part])

    in_parts(copy_rows, out_h, cols.size)
    return cols.reshape(rows, columns)


MIN_UNPADDED_COLUMNS = 1 << 21  # column matrices of 8 MiB of float32 and up...
MAX_EDGE_SHARE = 0.25  # ...with at most this share of output pixels on the edges


def _tap_spans(size: int, kernel: int, stride: int, padding: int) -> list[tuple[int, int]]:
    """For each tap ``t`` of a ``kernel``-wide window, the outputs ``[first, end)`` it sees
    inside the input along one axis: those with ``0 <= stride*o + t - padding < size``.
    At the other outputs it sees the zero border."""
    outputs = conv_output_size(size, kernel, stride, padding)
    spans = []
    for tap in range(kernel):
        first = max(0, -((tap - padding) // stride))  # ceil((padding - tap) / stride)
        end = min(outputs, (size - 1 + padding - tap) // stride + 1)
        spans.append((first, max(first, end)))
    return spans


def _inner_span(spans: list[tuple[int, int]], outputs: int) -> tuple[int, int]:
    """The outputs ``[first, end)`` at which every tap sees inside the input."""
    first = min(outputs, max(start for start, _ in spans))
    return first, max(first, min(end for _, end in spans))


def copies_without_padding(
    input_hw: tuple[int, int], kernel: tuple[int, int], stride: int, padding: int, columns: int
) -> bool:
    """Whether :func:`im2col` copies its ``columns`` values from the unpadded input.

    It does for a padded convolution with stride 2 or more whose column matrix has at least
    :data:`MIN_UNPADDED_COLUMNS` values, at most :data:`MAX_EDGE_SHARE` of whose output
    pixels have windows that reach into the border, on the CPU. Measured on 2 cores (AMD
    EPYC), im2col with the padded copy against without it, medians of 40 interleaved calls
    at batch 64: 4.4 against 3.0 ms for ResNet18's 64-to-128 layer on 28x28 maps (14 % of
    its outputs on the edges), 5.8 against 3.7 ms on 32x32 maps and 1.9 against 1.6 ms for
    its 128-to-256 layer on 14x14 maps (27 %). Where the edges are more, tap-by-tap filling
    costs more than it spares: 6.6 against 7.5 ms for a 5x5 kernel with stride 2 on 28x28
    maps (27 %), and 1.5 times the time for 3x3 kernels with stride 1 on 7x7 maps (49 %),
    where the padded copy is small anyway (a ninth of the columns). Below 2^21 values the
    Python loop over taps is what costs (0.09 against 0.16 ms for one channel of 28x28).
    """
    if padding == 0 or stride == 1 or columns < MIN_UNPADDED_COLUMNS or current_device() != "cpu":
        return False
    (h, w), (kh, kw) = input_hw, kernel
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    rows = _inner_span(_tap_spans(h, kh, stride, padding), out_h)
    cols = _inner_span(_tap_spans(w, kw, stride, padding), out_w)
    inner_pixels = (rows[1] - rows[0]) * (cols[1] - cols[0])
    return 1 - inner_pixels / (out_h * out_w) <= MAX_EDGE_SHARE


def _copy_columns_from_unpadded(x_chwn: Any, cols: Any, stride: int, padding: int) -> None:
    """Fill ``cols`` ``(C, kh, kw, OH, OW, N)`` from the unpadded ``(C, H, W, N)`` input.

    The output pixels split into an inner block, where every tap sees inside the input, and
    up to four edge strips around it (top, bottom, left, right). The inner block is one
    window-view copy; in an edge strip, each tap copies what it sees inside the input and
    zero-fills the rest. Each CPU core does this for its share of the channels.
    """
    c, kh, kw, out_h, out_w, _ = cols.shape
    h, w = x_chwn.shape[1:3]
    row_spans, col_spans = _tap_spans(h, kh, stride, padding), _tap_spans(w, kw, stride, padding)
    (r0, r1), (c0, c1) = _inner_span(row_spans, out_h), _inner_span(col_spans, out_w)
    edges = [
        ((0, r0), (0, out_w)),
        ((r1, out_h), (0, out_w)),
        ((r0, r1), (0, c0)),
        ((r0, r1), (c1, out_w)),
    ]

    def fill_tap(
        cols_part: Any, x_part: Any, i: int, j: int, rows: tuple[int, int], columns: tuple[int, int]
    ) -> None:
        """Tap ``(i, j)``'s columns at output rows ``rows`` and columns ``columns``."""
        seen_rows = (max(rows[0], row_spans[i][0]), min(rows[1], row_spans[i][1]))
        seen_cols = (max(columns[0], col_spans[j][0]), min(columns[1], col_spans[j][1]))
        if (seen_rows, seen_cols) != (rows, columns):
            cols_part[:, i, j, rows[0] : rows[1], columns[0] : columns[1]] = 0
        if seen_rows[0] < seen_rows[1] and seen_cols[0] < seen_cols[1]:
            top, left = stride * seen_rows[0] + i - padding, stride * seen_cols[0] + j - padding
            bottom = top + stride * (seen_rows[1] - seen_rows[0] - 1) + 1
            right = left + stride * (seen_cols[1] - seen_cols[0] - 1) + 1
            xp.copyto(
                cols_part[:, i, j, seen_rows[0] : seen_rows[1], seen_cols[0] : seen_cols[1]],
                x_part[:, top:bottom:stride, left:right:stride],
            )

    def fill_channels(part: slice) -> None:
        cols_part, x_part = cols[part], x_chwn[part]
        if r0 < r1 and c0 < c1:
            inside = x_part[:, stride * r0 - padding :, stride * c0 - padding :]
            windows = tap_windows(inside, (kh, kw), stride)[:, :, :, : r1 - r0, : c1 - c0]
            xp.copyto(cols_part[:, :, :, r0:r1, c0:c1], windows)
        for rows, columns in edges:
            if rows[0] < rows[1] and columns[0] < columns[1]:
                for i in range(kh):
                    for j in range(kw):
                        fill_tap(cols_part, x_part, i, j, rows, columns)

    in_parts(fill_channels, c, cols.size)


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
