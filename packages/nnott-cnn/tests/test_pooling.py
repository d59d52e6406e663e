"""MaxPool2D, AvgPool2D, GlobalAvgPool2D: the definition, gradients, routing, errors."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from nnott.backend import rng, to_cpu, to_device
from nnott.cnn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from nnott.errors import ConfigError
from nnott.vectorized.gradcheck import check_gradients


def naive_pool(x, kernel, stride, padding, reduce, fill):
    """Pooling from its definition, one window at a time."""
    n, c, h, w = x.shape
    padded = np.pad(
        x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=fill
    )
    out_h = (h + 2 * padding - kernel) // stride + 1
    out_w = (w + 2 * padding - kernel) // stride + 1
    out = np.zeros((n, c, out_h, out_w))
    for b, ch, i, j in product(range(n), range(c), range(out_h), range(out_w)):
        window = padded[b, ch, i * stride : i * stride + kernel, j * stride : j * stride + kernel]
        out[b, ch, i, j] = reduce(window)
    return out


# (kernel, stride, padding, input H x W)
WINDOWS = {
    "2x2": (2, None, 0, (4, 4)),
    "2x2_odd_input": (2, None, 0, (5, 3)),
    "3x3_stride2_pad1": (3, 2, 1, (5, 6)),
    "3x3_overlapping": (3, 1, 0, (4, 5)),
}


def _input(hw: tuple[int, int]) -> np.ndarray:
    return rng().standard_normal((2, 3, *hw))


@pytest.mark.parametrize("name", sorted(WINDOWS))
@pytest.mark.parametrize(
    ("cls", "reduce", "fill"), [(MaxPool2D, np.max, -np.inf), (AvgPool2D, np.mean, 0.0)]
)
def test_forward_matches_the_definition(name, cls, reduce, fill) -> None:
    kernel, stride, padding, hw = WINDOWS[name]
    pool = cls(kernel, stride, padding)
    x = _input(hw)
    expected = naive_pool(x, kernel, stride or kernel, padding, reduce, fill)
    np.testing.assert_allclose(to_cpu(pool(to_device(x))), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", sorted(WINDOWS))
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_gradients_match_finite_differences(name, cls, training) -> None:
    kernel, stride, padding, hw = WINDOWS[name]
    pool = cls(kernel, stride, padding).train(training)
    check_gradients(pool, _input(hw))


def test_max_pool_routes_each_window_gradient_to_its_maximum_only() -> None:
    pool = MaxPool2D(3, stride=2, padding=1)
    x = to_device(_input((6, 6)))
    y = pool(x)
    grad_output = rng().random(tuple(y.shape)) + 1.0  # all positive
    grad_input = to_cpu(pool.backward(to_device(grad_output)))
    # every window sends its whole gradient to one input pixel: nothing is lost or made
    np.testing.assert_allclose(grad_input.sum(), grad_output.sum())
    # and that pixel holds the window's maximum
    winners = np.nonzero(grad_input)
    assert set(to_cpu(x)[winners].round(12)) <= set(to_cpu(y).ravel().round(12))


def test_max_pool_ties_go_to_the_first_position_like_pytorch() -> None:
    pool = MaxPool2D(2)
    x = to_device(np.ones((1, 1, 2, 2)))
    pool(x)
    grad = to_cpu(pool.backward(to_device(np.ones((1, 1, 1, 1)))))
    np.testing.assert_array_equal(grad, [[[[1.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_global_average_pool(keepdims: bool, training: bool) -> None:
    pool = GlobalAvgPool2D(keepdims=keepdims).train(training)
    x = _input((3, 4))
    y = to_cpu(pool(to_device(x)))
    np.testing.assert_allclose(y, x.mean(axis=(2, 3), keepdims=keepdims), rtol=1e-12)
    check_gradients(pool, x)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_float32_stays_float32(cls) -> None:
    pool = cls(3, 2, 1)
    x = to_device(_input((5, 5)).astype(np.float32))
    y = pool(x)
    assert y.dtype == pool.backward(y).dtype == np.float32


@pytest.mark.parametrize(
    "args", [(0,), (2, 0), (2, 2, -1), (3, 2, 2), ("2",)], ids=lambda a: repr(a)
)
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_bad_settings_raise_config_error(cls, args) -> None:
    with pytest.raises(ConfigError):
        cls(*args)


def test_bad_inputs_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="smaller than the kernel"):
        MaxPool2D(3)(to_device(np.zeros((1, 1, 2, 2))))
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\)"):
        AvgPool2D(2)(to_device(np.zeros((4, 4))))
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\)"):
        GlobalAvgPool2D()(to_device(np.zeros((4, 4))))


@pytest.mark.parametrize("hw", [(6, 8), (7, 5)], ids=["even", "odd"])
def test_the_2x2_tournament_gives_the_running_maximum_results(hw) -> None:
    """The fast 2x2 path and the general path agree exactly, ties included (values drawn
    from a few integers, and ReLU-like zeros, so most windows hold a tie)."""
    pool = MaxPool2D(2)
    assert pool.plays_tournament and not MaxPool2D(3, 2, 1).plays_tournament
    x = to_device(np.maximum(rng().integers(-2, 3, (3, 4, *hw)), 0).astype(np.float32))
    grad_output = to_device(rng().standard_normal((3, 4, hw[0] // 2, hw[1] // 2)))
    grad_output = grad_output.astype(np.float32)
    out_h, out_w = pool._geometry(x)

    fast = to_cpu(pool._tournament_forward(x, out_h, out_w))
    fast_grad = to_cpu(pool._tournament_backward(grad_output))
    general = to_cpu(pool._running_max_forward(x, out_h, out_w))
    general_grad = to_cpu(pool._running_max_backward(grad_output))

    np.testing.assert_array_equal(fast, general)
    np.testing.assert_array_equal(fast_grad, general_grad)
