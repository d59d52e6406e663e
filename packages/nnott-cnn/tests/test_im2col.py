"""im2col's two ways of copying columns give the same matrix, bitwise.

A padded convolution's columns are copied either through a padded copy of the input (the
window view of it) or straight from the unpadded input: inner pixels in one window-view
copy, edge pixels tap by tap with zeros where a tap sees the border
(:func:`nnott.cnn.functional.copies_without_padding` picks). Both copy the same values to
the same places, so the matrices must be equal in every bit, for any kernel, stride,
padding and input size, including inputs smaller than the kernel's reach, where every
output pixel is on an edge.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from nnott import backend
from nnott.backend import cpu_threads, rng, to_cpu, to_device
from nnott.cnn import functional
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import copies_without_padding, im2col, images_last

# (kernel (kh, kw), stride, padding): odd and even, square and not, padding past the kernel
KERNELS = [
    ((3, 3), 2, 1),
    ((3, 2), 2, 1),
    ((5, 5), 2, 2),
    ((2, 2), 3, 1),
    ((1, 3), 2, 2),
    ((3, 3), 1, 1),
    ((4, 4), 4, 3),
]
SIZES = [(1, 1), (2, 5), (7, 8), (9, 9)]


@pytest.fixture
def cpu() -> Iterator[None]:
    with backend.use_cpu():
        yield


def _columns(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: int,
    padding: int,
    unpadded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> np.ndarray:
    monkeypatch.setattr(functional, "copies_without_padding", lambda *args: unpadded)
    return to_cpu(im2col(images_last(to_device(x)), kernel, stride, padding))


@pytest.mark.parametrize("kernel, stride, padding", KERNELS)
@pytest.mark.parametrize("size", SIZES, ids=lambda hw: f"{hw[0]}x{hw[1]}")
def test_unpadded_copy_is_bitwise_the_padded_one(
    monkeypatch: pytest.MonkeyPatch,
    kernel: tuple[int, int],
    stride: int,
    padding: int,
    size: tuple[int, int],
) -> None:
    h, w = size
    if h + 2 * padding < kernel[0] or w + 2 * padding < kernel[1]:
        pytest.skip("no output pixel")
    x = rng().standard_normal((3, 2, h, w)).astype(np.float32)
    padded_way = _columns(x, kernel, stride, padding, False, monkeypatch)
    unpadded_way = _columns(x, kernel, stride, padding, True, monkeypatch)
    np.testing.assert_array_equal(unpadded_way, padded_way)


@pytest.mark.parametrize("threads", [2, 3])
def test_unpadded_copy_split_over_threads_is_bitwise_one_call(
    cpu: None, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    monkeypatch.setattr(cpu_threads, "MIN_ELEMENTS_PER_PART", 1)
    x = rng().standard_normal((2, 5, 9, 8)).astype(np.float32)
    try:
        cpu_threads.set_cpu_threads(threads)
        split = _columns(x, (3, 3), 2, 1, True, monkeypatch)
        cpu_threads.set_cpu_threads(1)
        whole = _columns(x, (3, 3), 2, 1, True, monkeypatch)
    finally:
        cpu_threads.set_cpu_threads(None)
    np.testing.assert_array_equal(split, whole)


def test_a_convolution_copying_from_the_unpadded_input_keeps_its_gradients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The layer's output and all its gradients are the same whichever way im2col copies."""
    conv = Conv2D(3, 4, 3, stride=2, padding=1, dtype="float64")
    x = rng().standard_normal((2, 3, 7, 6))
    grad_output = rng().standard_normal(conv.output_shape(x.shape))
    results = []
    for unpadded in (False, True):
        monkeypatch.setattr(
            functional, "copies_without_padding", lambda *args, unpadded=unpadded: unpadded
        )
        conv.zero_grad()
        y = conv.forward(to_device(x))
        grad_x = conv.backward(to_device(grad_output))
        results.append(
            [to_cpu(y), to_cpu(grad_x), to_cpu(conv.weight.grad), to_cpu(conv.bias.grad)]
        )
    for padded_way, unpadded_way in zip(*results, strict=True):
        np.testing.assert_array_equal(unpadded_way, padded_way)


@pytest.mark.parametrize(
    "input_hw, kernel, stride, padding, batch, expected",
    [
        ((28, 28), (3, 3), 2, 1, 64, True),  # ResNet18's 64 to 128 channels: 14 % on the edges
        ((32, 32), (3, 3), 2, 1, 64, True),  # on 32x32 images: 12 %
        ((14, 14), (3, 3), 2, 1, 64, False),  # 27 % of its outputs on the edges
        ((28, 28), (5, 5), 2, 2, 64, False),  # 27 %
        ((7, 7), (3, 3), 1, 1, 64, False),  # stride 1: the padded copy is small
        ((28, 28), (3, 3), 2, 1, 8, False),  # too few columns for the taps' loop to pay
        ((28, 28), (3, 3), 2, 0, 64, False),  # no border: no padded copy to spare
    ],
)
def test_big_strided_padded_convolutions_copy_from_the_unpadded_input(
    cpu: None,
    input_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: int,
    padding: int,
    batch: int,
    expected: bool,
) -> None:
    channels = 64
    out_h, out_w = (
        functional.conv_output_size(size, k, stride, padding)
        for size, k in zip(input_hw, kernel, strict=True)
    )
    columns = channels * kernel[0] * kernel[1] * out_h * out_w * batch
    assert copies_without_padding(input_hw, kernel, stride, padding, columns) is expected


def test_the_gpu_keeps_the_padded_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fused copy on the GPU, not a kernel launch per tap and edge."""
    monkeypatch.setattr(functional, "current_device", lambda: "gpu")
    assert not copies_without_padding((28, 28), (3, 3), 2, 1, 1 << 24)
