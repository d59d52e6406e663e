"""Big convolutions on the CPU, one band of output rows at a time.

A 3x3 convolution of 64 channels on 28x28 maps at batch 64 (ResNet18's first stage) has a
column matrix of 576 x 50,176 values: 115 MB, too big for any cache. Built whole, it is
written out to memory by im2col and read back by the product, and the backward pass
writes and reads a second matrix of the same size (the column gradients) before col2im
folds it. Measured on 2 cores, that traffic held the layer to about a third of the GEMM
roof, where layers with small column matrices reach two thirds.

So, on the CPU, a convolution whose column matrix is big and long (at least
:data:`MIN_BANDED_ELEMENTS` values over at least :data:`MIN_BANDED_PIXELS` output pixels)
and that does not widen the channels (see :func:`uses_bands`) never builds it. It cuts
the output rows into bands of at most :data:`BAND_ELEMENTS` column values (whole rows, at
least one), and for each band, while its columns are still in the cache:

- forward: im2col of the band into a small buffer, then ``y[:, band] = W @ cols_band``;
- backward: im2col of the band again (cheaper than keeping 115 MB for the backward pass)
  and ``dW += dy[:, band] @ cols_band^T``.

The input gradient needs no columns at all when the convolution has stride 1 (and a
square kernel and ``padding <= k - 1``, as every "same" and "valid" one has): it is
itself a convolution, of the output gradient padded by ``k - 1 - p`` with the filters
flipped in space and their input and output channels swapped, and goes in bands by the
same forward code, with no col2im. Other convolutions take the whole-matrix path's
``col2im(W^T @ dy)``, which needs no columns either.

The bands run one after the other, each product on all of BLAS's threads. Sharing the
bands out over the cores instead, one BLAS thread each, was as fast on an idle machine,
but twice as slow right after any other matrix product: OpenBLAS's worker threads keep
spinning for a while after each product and took a core from the bands.

The sums are those of the whole-matrix path taken in another order, equal to float
rounding (``tests/test_bands.py`` compares the two). The layer keeps only its padded
input for the backward pass, not the columns. On the GPU, and for grouped convolutions,
the whole-matrix path is used. Measured on 2 cores (an Intel Xeon), ResNet18's
64-channel layer took 46-48 instead of 61-63 ms forward and 89-93 instead of 101-109 ms
backward, timed alone (less inside a training step, whose caches start cold), and a
ResNet18 step's memory fell from 1,246 to 776 MiB.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

from nnott.backend import current_device, xp
from nnott.cnn.functional import col2im, from_chwn, pad_chwn, tap_windows, to_chwn

__all__ = [
    "BAND_BUFFERS",
    "BAND_ELEMENTS",
    "MIN_BANDED_ELEMENTS",
    "MIN_BANDED_PIXELS",
    "band_rows",
    "banded_forward",
    "banded_input_gradient",
    "banded_weight_gradient",
    "scratch_buffer",
    "transposes_to_a_convolution",
    "uses_bands",
]

MIN_BANDED_ELEMENTS = 1 << 24  # column matrices of 64 MiB of float32 and up go in bands...
MIN_BANDED_PIXELS = 1 << 15  # ...when they are that long: 28x28 maps at batch 42 and up
BAND_ELEMENTS = 1 << 20  # at most 4 MiB of float32 columns per band (see band_rows)
BAND_BUFFERS = 2  # the bands take turns in this many buffers (see _band_columns)


def uses_bands(
    in_channels: int, out_channels: int, kernel: tuple[int, int], pixels: int, groups: int
) -> bool:
    """Whether a convolution goes in bands; ``pixels`` counts the output pixels of every image.

    Its column matrix (``in_channels * kh * kw`` rows, ``pixels`` columns) must be big and
    long, and the layer must not widen the channels. Measured on 2 cores:

    - On 14x14 maps at batch 64 a band is one or two short rows, and such products were
      slower than one whole product (AlexNet's 64-to-192 5x5 layer, whose matrix is 80 MB,
      took 1.7 times as long to go backward in bands).
    - A layer with more output than input channels gained less forward than it lost
      backward, where the transposed convolution has only ``in_channels`` filters
      (32 to 64 channels on 28x28 maps at batch 128: 54-58 against 67-70 ms forward,
      127-139 against 106-112 ms backward). 64 to 64 and 64 to 32 channels gained both
      ways (64 to 32: 41-43 against 61-63 ms forward, 62-63 against 98-101 ms backward).
    """
    kh, kw = kernel
    column_values = in_channels * kh * kw * pixels
    big = column_values >= MIN_BANDED_ELEMENTS and pixels >= MIN_BANDED_PIXELS
    narrowing = out_channels <= in_channels
    return big and narrowing and groups == 1 and current_device() == "cpu"


def band_rows(column_rows: int, out_w: int, batch: int) -> int:
    """Output rows per band: as many as :data:`BAND_ELEMENTS` column values hold, >= 1.

    ResNet18's 64-channel layer at batch 64 gets one row per band (576 x 1,792 columns,
    4 MiB). Two rows per band (8 MiB, :data:`BAND_ELEMENTS` of ``1 << 21`` until nnott-cnn
    0.1.8) suited a 2-core AMD EPYC, but on a 2-core Intel Xeon with 2 MiB of L2 per core
    the product of a two-row band ran at 18-44 % of the GEMM roof where a one-row band's
    reached 60-79 %. There, in 30 interleaved rounds of each of two runs, one-row bands
    took 39-44 instead of 43-48 ms forward and 34-40 instead of 35-43 ms for the weight
    gradient (medians), and a ResNet18 training step was faster in 7 of 10 pairs of
    alternated processes (medians 2,408 against 2,488 ms, 8 steps each).
    """
    return max(1, BAND_ELEMENTS // (column_rows * out_w * batch))


def _bands(out_h: int, per_band: int) -> Iterator[tuple[int, int]]:
    """``range(out_h)`` as consecutive ``(start, stop)`` bands of ``per_band`` rows."""
    for start in range(0, out_h, per_band):
        yield start, min(out_h, start + per_band)


def _band_columns(taps: Any, per_band: int) -> Iterator[tuple[int, int, Any]]:
    """``(start, stop, cols)`` for each band: its ``(C*kh*kw, rows*OW*N)`` columns.

    The bands take turns in :data:`BAND_BUFFERS` buffers, kept from call to call
    (:func:`scratch_buffer`), so a band's columns are valid only until the band after next
    is asked for. Two buffers, not one: the product of a band reads its buffer on every
    core, and refilling that same buffer at once (most likely: taking its cache lines back
    from the other core first) was what ran slow. Measured on 2 cores (AMD EPYC, ResNet18's
    64-channel layer, 26-35 interleaved rounds in each of two runs), one buffer took 37-56
    ms forward and 76-111 ms backward by the run's median, swinging between runs and within
    them (quartiles 35-61 ms forward), two took 41-47 and 78-91 ms.
    """
    c, kh, kw, out_h, out_w, n = taps.shape
    shape = (c, kh, kw, min(per_band, out_h), out_w, n)
    buffers = [scratch_buffer(slot, shape, taps.dtype) for slot in range(BAND_BUFFERS)]
    for index, (start, stop) in enumerate(_bands(out_h, per_band)):
        band = buffers[index % BAND_BUFFERS][:, :, :, : stop - start]
        xp.copyto(band, taps[:, :, :, start:stop])
        yield start, stop, band.reshape(c * kh * kw, -1)


class _ScratchBuffers(threading.local):
    """This thread's flat scratch buffers by device, slot and dtype (see :func:`scratch_buffer`)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, int, str], Any] = {}


_scratch = _ScratchBuffers()


def scratch_buffer(slot: int, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised ``shape`` array of ``dtype``, a view of this thread's buffer ``slot``.

    The band buffers are asked for by every call of every banded convolution. Allocated
    anew each time, their megabytes often came as fresh pages, which the OS zeroes on first
    touch; kept from call to call, they cost :data:`BAND_BUFFERS` x 4 MiB per thread for as
    long as the program runs (a buffer grows when a bigger band asks for it). Measured on 2
    cores (AMD EPYC), a ResNet18 training step at batch 64 took 1,662-1,828 instead of
    1,740-1,982 ms (four pairs of alternated processes, median of 8 steps each: every pair
    faster, by 2 to 8 %).

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


def banded_forward(padded: Any, weight: Any, kernel: tuple[int, int], stride: int) -> Any:
    """``W (K, C*kh*kw) @ im2col(padded)``, as ``(K, OH*OW*N)``, built band by band.

    ``padded`` is the ``(C, Hp, Wp, N)`` images-last input with its border.
    """
    taps = tap_windows(padded, kernel, stride)
    c, kh, kw, out_h, out_w, n = taps.shape
    per_row = out_w * n
    y = xp.empty((weight.shape[0], out_h * per_row), dtype=padded.dtype)
    for start, stop, cols in _band_columns(taps, band_rows(c * kh * kw, out_w, n)):
        xp.matmul(weight, cols, out=y[:, start * per_row : stop * per_row])
    return y


def banded_weight_gradient(padded: Any, grad_y: Any, kernel: tuple[int, int], stride: int) -> Any:
    """``dW = dy @ im2col(padded)^T`` as ``(K, C*kh*kw)``, from ``grad_y`` ``(K, OH*OW*N)``."""
    taps = tap_windows(padded, kernel, stride)
    c, kh, kw, _, out_w, n = taps.shape
    per_row = out_w * n
    grad_weight_t = xp.zeros((c * kh * kw, grad_y.shape[0]), dtype=padded.dtype)
    product = xp.empty_like(grad_weight_t)
    for start, stop, cols in _band_columns(taps, band_rows(c * kh * kw, out_w, n)):
        dy = grad_y[:, start * per_row : stop * per_row]
        xp.matmul(cols, dy.T, out=product)  # dW^T: the faster orientation for OpenBLAS
        grad_weight_t += product
    return grad_weight_t.T


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
        flipped = xp.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        grad_x = banded_forward(padded_grad, flipped.reshape(c, -1), (kh, kw), 1)
        return grad_x.reshape(c, *input_hw, n)
    grad_cols = xp.matmul(weight.reshape(k, -1).T, grad_y_chwn.reshape(k, -1))
    grad_x = col2im(grad_cols, (n, c, *input_hw), (kh, kw), stride, padding)
    return to_chwn(grad_x)
