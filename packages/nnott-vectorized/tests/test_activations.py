"""Every activation against PyTorch (values and gradients, kinks included) and its registry."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from nnott.backend import to_cpu, to_device
from nnott.errors import ConfigError
from nnott.vectorized import ACTIVATIONS, LeakyReLU, get_activation

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "activations.npz", allow_pickle=False)


def torch_dx(name: str) -> np.ndarray:
    """PyTorch's input gradient; its CPU Hardsigmoid backward multiplies by 1/6 rounded to
    float32 even in float64, which we undo so that the exact 1/6 can be held to 1e-10."""
    dx = FIXTURE[f"{name}_dx"]
    return dx * ((1.0 / 6.0) / float(np.float32(1.0 / 6.0))) if name == "hardsigmoid" else dx


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch_in_float64(name):
    activation = get_activation(name)
    y = activation.forward(to_device(FIXTURE["x"]))
    dx = activation.backward(to_device(FIXTURE["grad_output"]))
    np.testing.assert_allclose(to_cpu(y), FIXTURE[f"{name}_y"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(to_cpu(dx), torch_dx(name), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_keeps_float32_without_overflow_warnings(name):
    activation = get_activation(name)
    x = to_device(FIXTURE["x"].astype(np.float32) * 10.0)  # reaches +-300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = activation.forward(x)
        dx = activation.backward(to_device(FIXTURE["grad_output"].astype(np.float32)))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.isfinite(to_cpu(y)).all() and np.isfinite(to_cpu(dx)).all()


def test_relu_derivative_at_zero_is_zero():
    relu = get_activation("relu")
    relu.forward(to_device(np.array([-1.0, 0.0, 2.0])))
    np.testing.assert_array_equal(to_cpu(relu.backward(to_device(np.ones(3)))), [0.0, 0.0, 1.0])


def test_registry_is_forgiving_about_spelling_and_strict_about_names():
    assert type(get_activation("Leaky-ReLU")) is LeakyReLU
    assert get_activation("relu") is not get_activation("relu")  # a new module each time
    with pytest.raises(ConfigError, match="unknown activation 'softplus'"):
        get_activation("softplus")


def test_leaky_relu_slope_is_configurable():
    leaky = LeakyReLU(negative_slope=0.2)
    y = leaky.forward(to_device(np.array([-2.0, 3.0])))
    np.testing.assert_allclose(to_cpu(y), [-0.4, 3.0])
