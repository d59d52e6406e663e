"""The weight gradient summed in pieces of the pixel axis equals one matrix product.

nnott.cnn.products cuts the long pixel sum of a small weight gradient (a network's first
convolution) into pieces on the CPU. The pieces must give the same gradient, to float64
rounding here, and a whole layer must still pass its gradient check through them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nnott import backend
from nnott.backend import rng, to_cpu, to_device
from nnott.cnn import products
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import images_last


def test_pieces_only_for_a_small_weight_and_a_long_sum_on_the_cpu() -> None:
    with backend.use_cpu():
        # LeNet's first layer: 6 filters of 25 taps, 28x28 pixels of 64 images
        piece = products.pixel_piece_length(25, 6, 28 * 28 * 64)
        assert piece == products.PIECE_MULTIPLY_ADDS // 150
        assert products.pixel_piece_length(25, 6, piece) is None  # one piece: no split
        # LeNet's second layer (16 filters of 150 taps): pieces would be too short
        assert products.pixel_piece_length(150, 16, 10 * 10 * 64) is None
    with backend.use_device("emulated"):
        assert products.pixel_piece_length(25, 6, 28 * 28 * 64) is None


@pytest.mark.parametrize("groups", [1, 2])
def test_weight_gradient_in_pieces_equals_one_product(
    groups: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(products, "PIECE_MULTIPLY_ADDS", 4 * 3 * 700)  # pieces of 700 pixels
    monkeypatch.setattr(products, "MIN_PIECE_PIXELS", 1)
    rows, filters, pixels = 4, 3, 2900  # the last piece is shorter
    with backend.use_cpu():  # pieces are a CPU path, whatever device the suite runs on
        cols = to_device(rng().standard_normal((groups, rows, pixels)), dtype="float64")
        grad_y = to_device(rng().standard_normal((groups, filters, pixels)), dtype="float64")
        assert products.pixel_piece_length(rows, filters, pixels) == 700
        pieces = to_cpu(products.weight_gradient(cols, grad_y))
    whole = np.matmul(to_cpu(grad_y), to_cpu(cols).transpose(0, 2, 1))
    assert pieces.shape == (groups, filters, rows)
    np.testing.assert_allclose(pieces, whole, rtol=1e-12, atol=1e-12)


def _loss_and_weight_grad(conv: Conv2D, x: Any, probe: Any) -> tuple[float, Any]:
    conv.zero_grad()
    y = conv.forward(x)
    conv.backward(images_last(probe))
    return float((to_cpu(y) * to_cpu(probe)).sum()), to_cpu(conv.weight.grad).copy()


def test_first_layer_weight_gradient_through_the_pieces_matches_finite_differences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(products, "PIECE_MULTIPLY_ADDS", 2 * 9 * 50)
    monkeypatch.setattr(products, "MIN_PIECE_PIXELS", 1)
    with backend.use_cpu():
        conv = Conv2D(1, 2, 3, stride=1, padding=1, dtype="float64")
        conv.needs_input_grad = False
        x = images_last(to_device(rng().standard_normal((3, 1, 6, 7)), dtype="float64"))
        probe = to_device(rng().standard_normal((3, 2, 6, 7)), dtype="float64")
        assert products.pixel_piece_length(9, 2, 6 * 7 * 3) == 50  # really in pieces
        _, analytic = _loss_and_weight_grad(conv, x, probe)
        weight = conv.weight.data
        numeric = np.zeros_like(analytic)
        step = 1e-6
        for index in np.ndindex(*analytic.shape):
            original = float(weight[index])
            weight[index] = original + step
            up, _ = _loss_and_weight_grad(conv, x, probe)
            weight[index] = original - step
            down, _ = _loss_and_weight_grad(conv, x, probe)
            weight[index] = original
            numeric[index] = (up - down) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
