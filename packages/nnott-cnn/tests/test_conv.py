"""Conv2D and DepthwiseConv2D: the definition, finite-difference gradients, shapes, init."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest

from nnott.backend import rng, seed, to_cpu, to_device, use_cpu
from nnott.cnn.conv import Conv2D, DepthwiseConv2D
from nnott.cnn.functional import images_last
from nnott.errors import ConfigError
from nnott.vectorized.gradcheck import check_gradients


def naive_conv2d(x, weight, bias, stride, padding, groups):
    """The convolution written out from its definition, one output value at a time."""
    n, _, h, w = x.shape
    k, c_group, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    out = np.zeros((n, k, out_h, out_w))
    per_group = k // groups
    for b, o, i, j in product(range(n), range(k), range(out_h), range(out_w)):
        first = (o // per_group) * c_group
        patch = padded[b, first : first + c_group, i * stride : i * stride + kh, j * stride :]
        out[b, o, i, j] = np.sum(patch[:, :, :kw] * weight[o])
        if bias is not None:
            out[b, o, i, j] += bias[o]
    return out


# (in, out, kernel, stride, padding, groups, bias, input H x W)
CONFIGS = {
    "plain": (2, 3, 3, 1, 1, 1, True, (4, 4)),
    "strided_padded": (2, 3, 3, 2, 1, 1, True, (5, 4)),
    "strided_unpadded": (2, 2, 2, 2, 0, 1, False, (5, 5)),
    "grouped": (4, 2, 3, 1, 1, 2, True, (4, 3)),
    "grouped_strided": (4, 4, 3, 2, 1, 2, False, (5, 5)),
    "pointwise": (3, 2, 1, 1, 0, 1, True, (3, 3)),
    "pointwise_strided": (3, 2, 1, 2, 0, 1, True, (4, 3)),
    "rectangular": (2, 2, (3, 2), 1, 1, 1, True, (3, 4)),
    "depthwise": (3, 3, 3, 1, 1, 3, True, (4, 4)),
    "depthwise_strided": (3, 3, 3, 2, 1, 3, False, (5, 4)),
    "depthwise_7x7": (2, 2, 7, 1, 3, 2, True, (3, 3)),
}


def _make(name: str, dtype: str = "float64") -> tuple[Conv2D, np.ndarray]:
    c, k, kernel, stride, padding, groups, bias, (h, w) = CONFIGS[name]
    conv = Conv2D(c, k, kernel, stride, padding, groups, bias, dtype=dtype)
    if bias:  # non-zero, so that a bias bug cannot hide
        conv.bias.data[...] = to_device(rng().standard_normal(k).astype(dtype))
    x = rng().standard_normal((2, c, h, w)).astype(dtype)
    return conv, x


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_matches_the_definition(name: str) -> None:
    conv, x = _make(name)
    expected = naive_conv2d(
        x,
        to_cpu(conv.weight.data),
        None if conv.bias is None else to_cpu(conv.bias.data),
        conv.stride,
        conv.padding,
        conv.groups,
    )
    y = conv(to_device(x))
    assert tuple(y.shape) == expected.shape == conv.output_shape(x.shape)
    np.testing.assert_allclose(to_cpu(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gradients_match_finite_differences(name: str) -> None:
    conv, x = _make(name)
    check_gradients(conv, x)


def test_gradients_in_eval_mode_are_the_same_convolution() -> None:
    conv, x = _make("strided_padded")
    check_gradients(conv.eval(), x)


def test_depthwise_path_is_taken_only_for_one_filter_per_channel() -> None:
    assert Conv2D(4, 4, 3, groups=4).is_depthwise
    assert DepthwiseConv2D(4, 3).is_depthwise
    assert not Conv2D(4, 8, 3, groups=4).is_depthwise  # channel multiplier: grouped GEMM
    assert not Conv2D(1, 1, 3).is_depthwise


def test_depthwise_class_equals_grouped_conv() -> None:
    seed(3)
    depthwise = DepthwiseConv2D(3, 3, stride=2, padding=1, dtype="float64")
    grouped = Conv2D(3, 3, 3, 2, 1, groups=3, dtype="float64")
    grouped.load_state_dict(depthwise.state_dict())
    x = to_device(rng().standard_normal((2, 3, 5, 5)))
    np.testing.assert_array_equal(to_cpu(depthwise(x)), to_cpu(grouped(x)))
    assert depthwise.weight.shape == (3, 1, 3, 3)


def test_channel_multiplier_depthwise_matches_definition() -> None:
    conv = Conv2D(2, 4, 3, 1, 1, groups=2, dtype="float64")
    x = rng().standard_normal((1, 2, 3, 3))
    expected = naive_conv2d(x, to_cpu(conv.weight.data), to_cpu(conv.bias.data), 1, 1, 2)
    np.testing.assert_allclose(to_cpu(conv(to_device(x))), expected, rtol=1e-12, atol=1e-12)
    check_gradients(conv, x)


def test_gradients_accumulate_until_zero_grad() -> None:
    conv, x = _make("grouped")
    x = to_device(x)
    grad = to_device(np.ones(conv.output_shape(x.shape)))
    conv.forward(x)
    conv.backward(grad)
    once = to_cpu(conv.weight.grad).copy()
    conv.forward(x)
    conv.backward(grad)
    np.testing.assert_allclose(to_cpu(conv.weight.grad), 2 * once)
    conv.zero_grad()
    assert not np.any(to_cpu(conv.weight.grad))


@pytest.mark.parametrize("name", ["strided_padded", "grouped", "depthwise_strided"])
def test_without_the_input_gradient_the_weight_gradients_are_unchanged(name: str) -> None:
    conv, x = _make(name)
    x = to_device(x)
    grad = to_device(rng().standard_normal(conv.output_shape(x.shape)))
    conv.forward(x)
    assert conv.backward(grad) is not None
    full = [to_cpu(p.grad).copy() for p in conv.parameters()]
    conv.zero_grad()
    conv.needs_input_grad = False
    conv.forward(x)
    assert conv.backward(grad) is None
    for expected, parameter in zip(full, conv.parameters(), strict=True):
        np.testing.assert_array_equal(to_cpu(parameter.grad), expected)


@pytest.mark.parametrize("name", ["plain", "depthwise_strided", "pointwise"])
def test_float32_stays_float32(name: str) -> None:
    conv, x = _make(name, dtype="float32")
    y = conv(to_device(x))
    grad_input = conv.backward(y)
    assert y.dtype == grad_input.dtype == conv.weight.grad.dtype == np.float32


@pytest.mark.parametrize("mode", ["fan_out", "fan_in"])
def test_initial_weights_follow_the_documented_he_rule(mode: str) -> None:
    seed(11)
    conv = Conv2D(4, 6, 3, groups=2, mode=mode)
    fan = 6 * 9 if mode == "fan_out" else 2 * 9
    seed(11)
    expected = (rng().standard_normal((6, 2, 3, 3)) * math.sqrt(2.0 / fan)).astype(np.float32)
    np.testing.assert_array_equal(to_cpu(conv.weight.data), expected)
    assert conv.bias is not None and not np.any(to_cpu(conv.bias.data))


def test_parameter_names_and_shapes_follow_pytorch() -> None:
    conv = Conv2D(4, 6, (3, 5), groups=2)
    assert {name: p.shape for name, p in conv.named_parameters()} == {
        "weight": (6, 2, 3, 5),
        "bias": (6,),
    }
    assert [name for name, _ in Conv2D(4, 6, 3, bias=False).named_parameters()] == ["weight"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "groups": 2},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 0},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "stride": 0},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": -1},
        {"in_channels": 3, "out_channels": 6, "kernel_size": "3"},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "mode": "fan_avg"},
    ],
)
def test_bad_settings_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Conv2D(**kwargs)


def test_bad_inputs_raise_config_error() -> None:
    conv = Conv2D(3, 4, 5)
    with pytest.raises(ConfigError, match=r"expects \(N, 3, H, W\)"):
        conv(to_device(np.zeros((1, 2, 8, 8), dtype=np.float32)))
    with pytest.raises(ConfigError, match="smaller than the kernel"):
        conv(to_device(np.zeros((1, 3, 4, 8), dtype=np.float32)))


def test_benchmark_helper_reports_rates_next_to_the_gemm_roof() -> None:
    from nnott.cnn.bench_layers import conv2d_benchmark

    result = conv2d_benchmark(
        batch=1, in_channels=2, size=5, out_channels=3, repeats=1, roof_size=16
    )
    assert result.forward_ms > 0 and result.backward_ms > 0 and result.roof_gflops > 0
    assert "N1 C2 5x5 K3 3x3" in str(result) and "GEMM roof" in str(result)


@pytest.mark.parametrize("name", ["plain", "grouped", "depthwise_strided", "pointwise"])
def test_output_is_a_free_view_of_images_last_memory(name: str) -> None:
    """The documented layout: (N, K, OH, OW) views of (K, OH, OW, N) memory, for both
    paths, so that the next layer (and the backward pass) can use it without a copy."""
    conv, x = _make(name, dtype="float32")
    y = conv(to_device(x))
    assert y.transpose(1, 2, 3, 0).flags["C_CONTIGUOUS"]
    grad_input = conv.backward(y)
    batch, channel, row, column = grad_input.strides
    assert channel > row > column > batch  # images last (a view into the padded buffer)


def test_a_pointwise_convolution_reads_an_images_last_input_without_a_copy() -> None:
    with use_cpu():  # NumPy arrays, whose memory can be compared
        conv, x = _make("pointwise", dtype="float32")
        x_images_last = images_last(x)
        conv(x_images_last)
        assert np.shares_memory(conv._cached, x_images_last)


@pytest.mark.parametrize("name", ["plain", "strided_padded", "grouped"])
def test_a_second_forward_refills_the_columns_and_backward_follows_it(name: str) -> None:
    with use_cpu():  # NumPy arrays, whose memory can be compared
        conv, first = _make(name)
        second = rng().standard_normal(first.shape)
        conv(first)
        columns = conv._cached
        y = conv(second)
        assert np.shares_memory(conv._cached, columns)  # the same buffer, filled again
        expected = naive_conv2d(
            second,
            conv.weight.data,
            None if conv.bias is None else conv.bias.data,
            conv.stride,
            conv.padding,
            conv.groups,
        )
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
        check_gradients(conv, second)  # backward uses the refilled columns


def test_a_pointwise_convolution_never_writes_into_its_input() -> None:
    with use_cpu():
        conv, x = _make("pointwise")
        first = images_last(x)
        kept = first.copy()
        conv(first)
        conv(images_last(-x))
        np.testing.assert_array_equal(first, kept)
