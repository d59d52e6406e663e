"""Activations: values, derivatives against finite differences, the agreed conventions."""

from __future__ import annotations

import math

import pytest

from nnott.errors import ConfigError
from nnott.scalar import ACTIVATION_NAMES, GELU, LeakyReLU, ReLU, Sigmoid, get_activation

POINTS = [-3.0, -1.2, -0.3, 0.2, 0.7, 2.5]


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivative_matches_finite_difference(name: str) -> None:
    activation = get_activation(name)
    step = 1e-6
    for z in POINTS:
        numeric = (activation.value(z + step) - activation.value(z - step)) / (2.0 * step)
        analytic = activation.derivative(z, activation.value(z))
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, z)


def test_relu_family_at_zero_takes_the_non_positive_branch() -> None:
    assert ReLU().derivative(0.0, 0.0) == 0.0
    assert LeakyReLU().derivative(0.0, 0.0) == 0.01
    assert LeakyReLU(slope=0.2).value(-2.0) == pytest.approx(-0.4)


def test_gelu_is_the_tanh_approximation_close_to_the_exact_erf_form() -> None:
    gelu = GELU()
    for z in POINTS:
        exact = 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0)))
        assert gelu.value(z) == pytest.approx(exact, abs=1e-3)
        assert gelu.value(z) != exact  # the approximation, not the erf form


def test_sigmoid_is_stable_for_huge_inputs() -> None:
    sigmoid = Sigmoid()
    assert sigmoid.value(1000.0) == 1.0
    assert sigmoid.value(-1000.0) == 0.0
    assert sigmoid.value(0.0) == 0.5


def test_names_are_forgiving_and_unknown_names_are_refused() -> None:
    assert get_activation("Leaky-ReLU").name == "leaky_relu"
    with pytest.raises(ConfigError, match="unknown activation 'swish'"):
        get_activation("swish")
    with pytest.raises(ConfigError, match="slope"):
        LeakyReLU(slope=-0.1)
