"""BatchNorm2D and LayerNorm2D: statistics, running buffers, gradients in both modes."""

from __future__ import annotations

import numpy as np
import pytest

from nnott.backend import rng, to_cpu, to_device
from nnott.cnn.normalization import BatchNorm2D, LayerNorm2D
from nnott.errors import ConfigError
from nnott.vectorized.gradcheck import check_gradients


def _randomize_affine(layer) -> None:
    """Scale and shift away from 1 and 0, so that their gradients matter."""
    c = layer.num_features
    layer.weight.data[...] = to_device(1.0 + 0.3 * rng().standard_normal(c))
    layer.bias.data[...] = to_device(0.3 * rng().standard_normal(c))


def _input(shape=(3, 4, 3, 2)) -> np.ndarray:
    return 2.0 + 1.5 * rng().standard_normal(shape)


def test_batchnorm_training_normalizes_each_channel_over_batch_and_pixels() -> None:
    bn = BatchNorm2D(4, dtype="float64")
    x = _input()
    y = to_cpu(bn(to_device(x)))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    expected_var = x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + bn.eps)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), expected_var, rtol=1e-10)


def test_batchnorm_running_statistics_use_the_unbiased_variance() -> None:
    bn = BatchNorm2D(4, momentum=0.25, dtype="float64")
    x = _input()
    bn(to_device(x))
    bn(to_device(x))
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)
    kept = (1 - 0.25) ** 2
    np.testing.assert_allclose(to_cpu(bn.running_mean), (1 - kept) * mean, rtol=1e-12)
    np.testing.assert_allclose(to_cpu(bn.running_var), kept + (1 - kept) * var, rtol=1e-12)
    assert dict(bn.named_buffers()).keys() == {"running_mean", "running_var"}
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var"}


def test_batchnorm_eval_uses_running_statistics_and_leaves_them_alone() -> None:
    bn = BatchNorm2D(4, dtype="float64")
    _randomize_affine(bn)
    running_mean, running_var = rng().standard_normal(4), 0.5 + rng().random(4)
    bn.running_mean[...] = to_device(running_mean)
    bn.running_var[...] = to_device(running_var)
    bn.eval()
    x = _input()
    y = to_cpu(bn(to_device(x)))
    shape = (1, 4, 1, 1)
    expected = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + bn.eps)
    expected = expected * to_cpu(bn.weight.data).reshape(shape) + to_cpu(bn.bias.data).reshape(
        shape
    )
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(to_cpu(bn.running_mean), running_mean)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_match_finite_differences(training: bool) -> None:
    bn = BatchNorm2D(3, dtype="float64")
    _randomize_affine(bn)
    bn.running_var[...] = to_device(0.5 + rng().random(3))
    check_gradients(bn.train(training), _input((2, 3, 3, 2)))


def test_layernorm_normalizes_the_channels_of_each_pixel() -> None:
    ln = LayerNorm2D(5, dtype="float64")
    x = _input((2, 5, 3, 3))
    y = to_cpu(ln(to_device(x)))
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-12)
    expected_var = x.var(axis=1) / (x.var(axis=1) + ln.eps)
    np.testing.assert_allclose(y.var(axis=1), expected_var, rtol=1e-10)
    assert list(ln.named_buffers()) == []


@pytest.mark.parametrize("training", [True, False])
def test_layernorm_gradients_match_finite_differences(training: bool) -> None:
    ln = LayerNorm2D(4, dtype="float64")
    _randomize_affine(ln)
    check_gradients(ln.train(training), _input((2, 4, 2, 3)))


def test_layernorm_is_the_same_in_training_and_evaluation() -> None:
    ln = LayerNorm2D(4, dtype="float64")
    _randomize_affine(ln)
    x = to_device(_input((2, 4, 2, 2)))
    np.testing.assert_array_equal(to_cpu(ln.train()(x)), to_cpu(ln.eval()(x)))


@pytest.mark.parametrize("cls", [BatchNorm2D, LayerNorm2D])
def test_float32_stays_float32(cls) -> None:
    layer = cls(4)
    x = to_device(_input().astype(np.float32))
    y = layer(x)
    grad_input = layer.backward(y)
    assert y.dtype == grad_input.dtype == layer.weight.grad.dtype == np.float32
    for _, buffer in layer.named_buffers():
        assert buffer.dtype == np.float32


@pytest.mark.parametrize("cls", [BatchNorm2D, LayerNorm2D])
def test_bad_settings_and_inputs_raise_config_error(cls) -> None:
    with pytest.raises(ConfigError):
        cls(0)
    with pytest.raises(ConfigError):
        cls(4, eps=0.0)
    with pytest.raises(ConfigError, match=r"expects \(N, 4, H, W\)"):
        cls(4)(to_device(np.zeros((2, 3, 2, 2), dtype=np.float32)))
    with pytest.raises(ConfigError):
        BatchNorm2D(4, momentum=1.5)
