"""The weight gradient of a convolution: a long sum over pixels into a small matrix.

``dW = dy @ cols^T`` sums, for every weight, one product per output pixel of every image:
50,176 of them for a 28x28 layer at batch 64. For most layers that is a healthy matrix
product. For a network's first convolution it is not: LeNet's has 6 filters of 25 taps,
so the result has 150 values, and OpenBLAS spends its time packing the two long, thin
operands into its blocked format rather than multiplying. Measured on 2 cores, that one
product took 1.05 ms for 7.5 million multiply-adds (14 GFLOP/s).

Cutting the pixel sum into pieces and adding the pieces' results (a "split-K" product)
costs a few extra additions of the small matrix and runs each piece through BLAS's
small-matrix kernels, which skip the packing (OpenBLAS takes them for products of up to
10^6 multiply-adds): 0.42 ms for LeNet's layer, 0.70 instead of 1.19 ms for a 32-filter
3x3 first layer, 1.32 instead of 2.20 ms for ResNet18's. Pieces only pay while they stay
long: once a piece would cover fewer than :data:`MIN_PIECE_PIXELS` pixels (a weight of
more than about a thousand values) the whole product is faster. At batch 64, the layers
summed in pieces are each architecture's first convolution of 1-channel images (and of
3-channel ones for the baseline, LeNet and EfficientNet-Lite0) and EfficientNet-Lite0's
first 1x1 projection (32 to 16 channels). On the GPU, cuBLAS gets the whole product.

Summing in pieces also rounds no worse than one long sum: each piece's sum is short, and
there are few pieces.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import current_device, xp

__all__ = ["MIN_PIECE_PIXELS", "PIECE_MULTIPLY_ADDS", "pixel_piece_length", "weight_gradient"]

PIECE_MULTIPLY_ADDS = 1 << 19  # half of OpenBLAS's small-matrix limit of 10^6
MIN_PIECE_PIXELS = 512


def pixel_piece_length(rows: int, filters: int, pixels: int) -> int | None:
    """How many pixels each piece of the sum covers, or None for one whole product.

    ``rows`` is the column matrix's height (``C/G * kh * kw``), ``filters`` the output
    channels per group, ``pixels`` the length of the sum (``OH * OW * N``).
    """
    if current_device() != "cpu":
        return None
    piece = PIECE_MULTIPLY_ADDS // (rows * filters)
    if piece < MIN_PIECE_PIXELS or pixels <= piece:
        return None
    return piece


def weight_gradient(cols: Any, grad_y: Any) -> Any:
    """``dy @ cols^T`` per group: ``(G, K/G, R)`` from cols ``(G, R, P)``, dy ``(G, K/G, P)``.

    Computed as ``(cols @ dy^T)^T``, the same numbers, which OpenBLAS computes faster for
    these shapes; in pieces of the pixel axis when :func:`pixel_piece_length` says so.
    """
    groups, rows, pixels = cols.shape
    filters = grad_y.shape[1]
    piece = pixel_piece_length(rows, filters, pixels)
    if piece is None:
        return xp.matmul(cols, grad_y.transpose(0, 2, 1)).transpose(0, 2, 1)
    starts = range(0, pixels, piece)
    partial = xp.empty((len(starts), groups, rows, filters), dtype=cols.dtype)
    for index, start in enumerate(starts):
        part = slice(start, start + piece)
        xp.matmul(cols[:, :, part], grad_y[:, :, part].transpose(0, 2, 1), out=partial[index])
    return partial.sum(axis=0).transpose(0, 2, 1)
