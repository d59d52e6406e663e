"""Work split over the CPU cores (im2col, col2im, 2x2 max pooling, batch norm) equals one
call, bitwise.

nnott.backend.cpu_threads runs the big copies and additions of these layers in one part
per core. Each value is still computed by one part in the same order, so the layer's
outputs and gradients must not change in a single bit. Here every piece of work is split
(the size threshold is lowered to one element), into two parts and into three.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from nnott import backend
from nnott.backend import cpu_threads, rng, to_cpu, to_device
from nnott.cnn.conv import Conv2D
from nnott.cnn.normalization import BatchNorm2D
from nnott.cnn.pooling import MaxPool2D

# (in, out, kernel, stride, padding, input H x W), batches of 5 images (odd on purpose)
CONVOLUTIONS = {
    "padded_5x5": (1, 4, 5, 1, 2, (9, 9)),
    "unpadded_5x5": (3, 4, 5, 1, 0, (8, 8)),
    "strided_3x3": (4, 6, 3, 2, 1, (7, 8)),
    "pointwise_strided": (4, 3, 1, 2, 0, (6, 6)),
}


@pytest.fixture(params=[2, 3], ids=["2 parts", "3 parts"])
def split_everything(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[int]:
    monkeypatch.setattr(cpu_threads, "MIN_ELEMENTS_PER_PART", 1)
    cpu_threads.set_cpu_threads(request.param)
    with backend.use_cpu():
        yield request.param
    cpu_threads.set_cpu_threads(None)


def _run(layer: Any, x: np.ndarray, grad_output: np.ndarray, threads: int) -> list[np.ndarray]:
    """Forward and backward with the work in ``threads`` parts; every array that comes out."""
    cpu_threads.set_cpu_threads(threads)
    layer.zero_grad()
    out = layer.forward(to_device(x))
    grad_input = layer.backward(to_device(grad_output))
    results = [to_cpu(out), to_cpu(grad_input)]
    return results + [to_cpu(parameter.grad) for parameter in layer.parameters()]


@pytest.mark.parametrize("name", sorted(CONVOLUTIONS))
def test_a_convolution_split_over_threads_is_bitwise_one_call(
    split_everything: int, name: str
) -> None:
    c, k, kernel, stride, padding, (h, w) = CONVOLUTIONS[name]
    conv = Conv2D(c, k, kernel, stride, padding, dtype="float32")
    x = rng().standard_normal((5, c, h, w)).astype(np.float32)
    grad_output = rng().standard_normal(conv.output_shape(x.shape)).astype(np.float32)

    split = _run(conv, x, grad_output, split_everything)
    whole = _run(conv, x, grad_output, 1)
    for split_array, whole_array in zip(split, whole, strict=True):
        np.testing.assert_array_equal(split_array, whole_array)


def test_the_2x2_max_pool_split_over_threads_is_bitwise_one_call(split_everything: int) -> None:
    pool = MaxPool2D(2)
    # few distinct values, so that many windows hold ties and the tie rule is exercised
    x = np.maximum(rng().integers(-2, 3, (5, 3, 8, 6)), 0).astype(np.float32)
    grad_output = rng().standard_normal((5, 3, 4, 3)).astype(np.float32)

    split = _run(pool, x, grad_output, split_everything)
    whole = _run(pool, x, grad_output, 1)
    for split_array, whole_array in zip(split, whole, strict=True):
        np.testing.assert_array_equal(split_array, whole_array)


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "running"])
def test_batch_norm_split_over_threads_is_bitwise_one_call(
    split_everything: int, training: bool
) -> None:
    bn = BatchNorm2D(5).train(training)
    bn.weight.data[...] = rng().standard_normal(5).astype(np.float32)
    bn.bias.data[...] = rng().standard_normal(5).astype(np.float32)
    # images last, as a convolution hands it on, and an odd channel count
    x = rng().standard_normal((5, 4, 6, 3)).astype(np.float32).transpose(3, 0, 1, 2)
    grad_output = rng().standard_normal((3, 5, 4, 6)).astype(np.float32)

    split = _run(bn, x, grad_output, split_everything)
    split_buffers = [to_cpu(bn.running_mean), to_cpu(bn.running_var)]
    bn.running_mean[...], bn.running_var[...] = 0.0, 1.0
    whole = _run(bn, x, grad_output, 1)
    whole_buffers = [to_cpu(bn.running_mean), to_cpu(bn.running_var)]
    for split_array, whole_array in zip(split + split_buffers, whole + whole_buffers, strict=True):
        np.testing.assert_array_equal(split_array, whole_array)
