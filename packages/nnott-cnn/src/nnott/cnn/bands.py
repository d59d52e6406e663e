"""Big convolutions on the CPU, one output row at a time, with no column matrix.

A 3x3 convolution of 64 channels on 28x28 maps at batch 64 (ResNet18's first stage) has a
column matrix of 576 x 50,176 values: 115 MB, too big for any cache. Built whole, it is
written out to memory by im2col and read back by the product, and the backward pass
writes and reads a second matrix of the same size (the column gradients) before col2im
folds it. Measured on 2 cores, that traffic held the layer to about a third of the GEMM
roof, where layers with small column matrices reach two thirds.

So, on the CPU, a stride-1 convolution whose column matrix is big enough (see
:func:`uses_bands`) never builds it. It goes one *band* at a time, a band being one
output row, and takes each band's columns from the *row-tap image*, with no copy:

- The row-tap image holds, for every input row ``h``, what the ``kw`` horizontal taps see
  of it: ``image[h, c, j, ow, n] = padded[c, h, stride*ow + j, n]`` (:func:`row_taps`),
  one input row after the other in memory. It is about ``kh`` times smaller than the
  column matrix: 41 instead of 115 MB for that layer.
- Output row ``oh`` sees input rows ``stride*oh`` to ``stride*oh + kh - 1``, consecutive
  rows of the image. Its columns are therefore the contiguous slice
  ``image[stride*oh : stride*oh + kh]``: a ``(kh*C*kw, OW*N)`` matrix whose rows are
  ordered ``(i, c, j)`` instead of im2col's ``(c, i, j)``, and the filters are reordered
  to match (:func:`taps_first`).
- Each input row is copied into the image just before the first product that reads it,
  so that product finds it in the cache.

Then, row by row:

- forward: ``y[:, row] = W @ cols_row``;
- backward: ``dW += dy[:, row] @ cols_row^T``, from the image built again.

The input gradient needs no columns at all when the convolution has stride 1 (and a
square kernel and ``padding <= k - 1``, as every "same" and "valid" one has): it is
itself a convolution, of the output gradient padded by ``k - 1 - p`` with the filters
flipped in space and their input and output channels swapped, and goes row by row by the
same forward code, with no col2im. Other convolutions take the whole-matrix path's
``col2im(W^T @ dy)``, which needs no columns either.

The rows run one after the other, each product on all of BLAS's threads. The sums are
those of the whole-matrix path taken in another order, equal to float rounding
(``tests/test_bands.py`` compares the two). The layer keeps only its padded input for the
backward pass, not the columns. On the GPU, and for grouped convolutions, the
whole-matrix path is used.

Measured on 2 cores (AMD EPYC), against the bands of nnott-cnn 0.1.8, which copied every
band's im2col columns, three times as much: ResNet18's 64-channel layer alone took
25-37 instead of 27-48 ms forward, 25-31 instead of 27-51 ms for the weight gradient and
27-40 instead of 29-52 ms for the input gradient (medians of 30 interleaved rounds, in
each of three runs; the gap is widest in the machine's slow spells, when copies run
slowest). Training steps alternated between the two in one process took 1,482 instead of
1,854 ms for ResNet18 (faster in 14 of 16 rounds), 1,118 instead of 1,258 ms for VGG16
(7 of 8) and 38.8 instead of 41.8 ms for the baseline (30 of 40): by then the bands also
took the 14x14 layers, which the old bands had slowed. A ResNet18 step's peak memory fell
from 784 to 662 MiB.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

from nnott.backend import current_device, xp
from nnott.cnn.functional import col2im, conv_output_size, from_chwn, pad_chwn, to_chwn

__all__ = [
    "MIN_BANDED_ELEMENTS",
    "MIN_BANDED_ROWS",
    "banded_forward",
    "banded_input_gradient",
    "banded_weight_gradient",
    "release_scratch_buffers",
    "row_taps",
    "scratch_buffer",
    "taps_first",
    "transposes_to_a_convolution",
    "uses_bands",
]

MIN_BANDED_ELEMENTS = 1 << 21  # column matrices of 8 MiB of float32 and up go in bands...
MIN_BANDED_ROWS = 14  # ...when they have that many output rows: 14x14 maps and up


def uses_bands(
    in_channels: int,
    kernel: tuple[int, int],
    stride: int,
    output_hw: tuple[int, int],
    batch: int,
    groups: int,
) -> bool:
    """Whether a convolution goes in bands, one output row at a time.

    It must have stride 1, one group and a column matrix (``in_channels * kh * kw`` rows,
    one column per output pixel of every image) of at least :data:`MIN_BANDED_ELEMENTS`
    values over at least :data:`MIN_BANDED_ROWS` output rows, and run on the CPU. Measured
    on 2 cores (AMD EPYC), every distinct convolution of the seven architectures on 28x28
    inputs, whole matrix against bands (medians of 8 interleaved rounds, forward plus
    backward):

    - Stride 1 on 14x14 maps and up, at batch 64: bands took 0.71 (VGG16's 64 channels on
      28x28 maps) to 0.82 (the baseline's 32 to 64 on 14x14) of the time; at batch 16,
      0.70 and 0.89 for VGG16's 64 and 128 channels on 28x28 and 14x14 maps. Bands that
      widen the channels gain too (64 to 128 on 14x14: 0.80).
    - On 7x7 maps at batch 64, 0.88 to 1.07; on 4x4 and 3x3 maps, 1.22 to 1.34, and 1.75
      to 1.93 at batch 16: each row's product is then too short.
    - With stride 2, 1.04 to 1.32: the input gradient is not a convolution then
      (:func:`banded_input_gradient`).
    - Small column matrices, below 2^21 values: LeNet's 6 to 16 channels took 1.64, the
      first layers of one input channel 0.83 to 1.29, the baseline's 32 to 64 at batch 16
      1.13.
    """
    kh, kw = kernel
    out_h, out_w = output_hw
    column_values = in_channels * kh * kw * out_h * out_w * batch
    big = column_values >= MIN_BANDED_ELEMENTS and out_h >= MIN_BANDED_ROWS
    return big and stride == 1 and groups == 1 and current_device() == "cpu"


def row_taps(padded: Any, kernel_w: int, stride: int) -> Any:
    """The ``(Hp, C, kw, OW, N)`` view of a padded ``(C, Hp, Wp, N)`` input, no copy.

    Element ``[h, c, j, ow, n]`` is ``padded[c, h, stride*ow + j, n]``: what horizontal tap
    ``j`` sees of input row ``h`` at every output column. Copied, it is the row-tap image.
    """
    windows = xp.lib.stride_tricks.sliding_window_view(padded, kernel_w, axis=2)
    return windows[:, :, ::stride].transpose(1, 0, 4, 2, 3)  # from (C, Hp, OW, N, kw)


def taps_first(weight: Any) -> Any:
    """The ``(K, C, kh, kw)`` filters as the ``(K, kh*C*kw)`` matrix whose columns are
    ordered as the rows of a band's columns, ``(i, c, j)``."""
    k = weight.shape[0]
    return xp.ascontiguousarray(weight.transpose(0, 2, 1, 3)).reshape(k, -1)


def _output_size(padded: Any, kernel: tuple[int, int], stride: int) -> tuple[int, int]:
    """``(OH, OW)`` of an unpadded convolution of the ``(C, Hp, Wp, N)`` array ``padded``."""
    (kh, kw), (hp, wp) = kernel, padded.shape[1:3]
    return conv_output_size(hp, kh, stride, 0), conv_output_size(wp, kw, stride, 0)


def _row_columns(padded: Any, kernel: tuple[int, int], stride: int) -> Iterator[tuple[int, Any]]:
    """``(oh, cols)`` for each output row: its ``(kh*C*kw, OW*N)`` columns, rows ``(i, c, j)``.

    The columns are a slice of the row-tap image in this thread's scratch buffer, valid
    until the next call. Each input row is copied in as the first output row that sees it
    comes up (``kh`` rows for the first, then ``stride`` more each).
    """
    kh, kw = kernel
    taps = row_taps(padded, kw, stride)
    out_h, _ = _output_size(padded, kernel, stride)
    rows_used = stride * (out_h - 1) + kh
    image = scratch_buffer(0, (rows_used, *taps.shape[1:]), padded.dtype)
    flat = image.reshape(rows_used, -1)
    copied = 0
    for oh in range(out_h):
        first, end = stride * oh, stride * oh + kh
        xp.copyto(image[copied:end], taps[copied:end])
        copied = end
        yield oh, flat[first:end].reshape(kh * taps.shape[1] * kw, -1)


class _ScratchBuffers(threading.local):
    """This thread's flat scratch buffers by device, slot and dtype (see :func:`scratch_buffer`)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, int, str], Any] = {}


_scratch = _ScratchBuffers()


def scratch_buffer(slot: int, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised ``shape`` array of ``dtype``, a view of this thread's buffer ``slot``.

    The row-tap image is asked for by every call of every banded convolution. Allocated
    anew each time, its megabytes often came as fresh pages, which the OS zeroes on first
    touch; kept from call to call, it costs its size per thread for as long as the program
    runs (a buffer grows when a bigger image asks for it). Measured on 2 cores (AMD EPYC,
    with the bands of nnott-cnn 0.1.7), a ResNet18 training step at batch 64 took
    1,662-1,828 instead of 1,740-1,982 ms (four pairs of alternated processes, median of 8
    steps each: every pair faster, by 2 to 8 %).

    The view is valid until ``slot`` is asked for again on this thread; the bands use each
    slot within one call and hand nothing of it on. Threads have buffers of their own.
    """
    size = math.prod(shape)
    key = (current_device(), slot, xp.dtype(dtype).str)
    buffer = _scratch.by_key.get(key)
    if buffer is None or buffer.size < size:
        buffer = xp.empty(size, dtype=dtype)
        _scratch.by_key[key] = buffer
    return buffer[:size].reshape(shape)


def release_scratch_buffers() -> None:
    """Drop this thread's scratch buffers; the next banded convolution allocates them again.

    For a program that is done training and wants the memory back, and for the memory
    benchmark, which must see the buffers allocated inside the step it measures rather
    than before it.
    """
    _scratch.by_key.clear()


def banded_forward(padded: Any, weight: Any, stride: int) -> Any:
    """``W @ im2col(padded)`` as ``(K, OH*OW*N)``, one output row at a time.

    ``padded`` is the ``(C, Hp, Wp, N)`` images-last input with its border and ``weight``
    the ``(K, C, kh, kw)`` filters.
    """
    k, _, kh, kw = weight.shape
    filters = taps_first(weight)
    out_h, out_w = _output_size(padded, (kh, kw), stride)
    per_row = out_w * padded.shape[3]
    y = xp.empty((k, out_h * per_row), dtype=padded.dtype)
    for oh, cols in _row_columns(padded, (kh, kw), stride):
        xp.matmul(filters, cols, out=y[:, oh * per_row : (oh + 1) * per_row])
    return y


def banded_weight_gradient(padded: Any, grad_y: Any, kernel: tuple[int, int], stride: int) -> Any:
    """``dW = dy @ im2col(padded)^T`` as ``(K, C, kh, kw)``, from ``grad_y`` ``(K, OH*OW*N)``."""
    k, c = grad_y.shape[0], padded.shape[0]
    kh, kw = kernel
    per_row = _output_size(padded, kernel, stride)[1] * padded.shape[3]
    grad_t = xp.zeros((kh * c * kw, k), dtype=padded.dtype)  # dW^T, rows (i, c, j)
    product = xp.empty_like(grad_t)
    for oh, cols in _row_columns(padded, kernel, stride):
        dy = grad_y[:, oh * per_row : (oh + 1) * per_row]
        xp.matmul(cols, dy.T, out=product)  # dW^T: the faster orientation for OpenBLAS
        grad_t += product
    return grad_t.T.reshape(k, kh, c, kw).transpose(0, 2, 1, 3)


def transposes_to_a_convolution(kernel: tuple[int, int], stride: int, padding: int) -> bool:
    """Whether the input gradient is itself a stride-1 convolution of the output gradient.

    For a stride-1 convolution with a square kernel and ``padding <= k - 1``,
    ``dx[c, h, w] = sum_{k, i, j} W[k, c, i, j] dy[k, h + p - i, w + p - j]`` is the
    convolution of ``dy`` padded by ``k - 1 - p`` with the filters flipped in space and
    with their input and output channels swapped.
    """
    kh, kw = kernel
    return stride == 1 and kh == kw and padding <= kh - 1


def banded_input_gradient(
    grad_y_chwn: Any, weight: Any, stride: int, padding: int, input_hw: tuple[int, int]
) -> Any:
    """The input gradient ``(C, H, W, N)`` from the output gradient ``(K, OH, OW, N)``.

    ``weight`` is ``(K, C, kh, kw)``. When :func:`transposes_to_a_convolution`, it is that
    convolution, computed by :func:`banded_forward`: no column gradients, no col2im.
    Otherwise it is the whole-matrix path's ``col2im(W^T @ dy)``.
    """
    k, c, kh, kw = weight.shape
    n = grad_y_chwn.shape[3]
    if transposes_to_a_convolution((kh, kw), stride, padding):
        padded_grad = pad_chwn(from_chwn(grad_y_chwn), kh - 1 - padding)
        flipped = weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # (C, K, kh, kw)
        grad_x = banded_forward(padded_grad, flipped, 1)
        return grad_x.reshape(c, *input_hw, n)
    grad_cols = xp.matmul(weight.reshape(k, -1).T, grad_y_chwn.reshape(k, -1))
    grad_x = col2im(grad_cols, (n, c, *input_hw), (kh, kw), stride, padding)
    return to_chwn(grad_x)
